package ui

import (
	"fmt"
	"strings"
	"testing"

	"junction/engine"
)

// An edited HL7v2 message reaches the receiver with CR between its segments, whether the
// edit came with LF or CRLF line breaks (as browsers send a textarea's); other content
// (JSON here) is sent as it came.
func TestAnEditedHL7ResendReachesTheReceiverWithCRSegmentSeparators(t *testing.T) {
	h := newTwoChannelHarness(t)
	id := h.postTo("emergency-care", hl7("ADT^A01", "8500", "Crlf", ""))
	h.waitStatus(id, "downstream", engine.StatusSent)

	for i, nl := range []string{"\n", "\r\n"} {
		edited := strings.ReplaceAll(hl7("ADT^A01", "8500", fmt.Sprintf("Edited%d", i), ""), "\r", nl)
		var out struct {
			Resent []string
			Edited bool
		}
		h.call("POST", fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destinations": []string{"downstream"}, "content": edited}, 200, &out)
		if !out.Edited || len(out.Resent) != 1 {
			t.Fatalf("resend: %+v", out)
		}
		h.waitStatus(id, "downstream", engine.StatusSent)
		got := h.rc.received(fmt.Sprintf("Edited%d", i))
		if len(got) != 1 {
			t.Fatalf("the receiver got %d copies of edit %d", len(got), i)
		}
		if want := hl7("ADT^A01", "8500", fmt.Sprintf("Edited%d", i), ""); got[0] != want {
			t.Errorf("edit %d (line breaks %q) arrived as %q, want %q", i, nl, got[0], want)
		}
	}

	json := "{\n  \"resourceType\": \"Patient\",\r\n  \"id\": \"json-edit\"\n}\n"
	h.call("POST", fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destinations": []string{"downstream"}, "content": json}, 200, nil)
	h.waitStatus(id, "downstream", engine.StatusSent)
	if got := h.rc.received("json-edit"); len(got) != 1 || got[0] != json {
		t.Errorf("JSON content arrived as %q, want it untouched", got)
	}
}

// A message that failed at its source (its transform refused it: never routed) says so
// on its page, not that the transform left it unchanged, and can be corrected and
// reprocessed: the correction goes through the channel and out with CR segments.
func TestAMessageThatFailedAtItsSourceIsCorrectedAndReprocessed(t *testing.T) {
	h := newTwoChannelHarness(t)
	bad := strings.Replace(hl7("ADT^A01", "8600", "Nomrn", ""), "PID|1||9434768600^^^NHS^NH||", "PID|1||||", 1)
	id := h.postTo("emergency-care", bad)
	m := h.message(id)
	if m.Status != engine.StatusError || len(m.Destinations) != 0 || !strings.Contains(m.Error, "no MRN in PID-3") {
		t.Fatalf("the bad message: %s %q %+v", m.Status, m.Error, m.Destinations)
	}
	page := h.getPage(fmt.Sprintf("/messages/%d", id))
	if strings.Contains(page, "The transform left the content unchanged") {
		t.Error("the page says the transform left the content unchanged")
	}
	if !strings.Contains(page, "failed at its source, before it was routed") || !strings.Contains(page, `id="reprocess-content"`) {
		t.Error("the page does not say the message failed at its source, or offers no edit to reprocess")
	}

	fixed := strings.ReplaceAll(hl7("ADT^A01", "8600", "Fixed", ""), "\r", "\n")
	var out struct {
		MessageID  int64 `json:"message_id"`
		OriginalID int64 `json:"original_id"`
		Status     string
		Edited     bool
	}
	h.call("POST", fmt.Sprintf("/api/messages/%d/reprocess", id), map[string]any{"content": fixed}, 201, &out)
	if out.OriginalID != id || !out.Edited || out.Status == string(engine.StatusError) {
		t.Fatalf("reprocess: %+v", out)
	}
	n := h.waitStatus(out.MessageID, "downstream", engine.StatusSent)
	if n.OriginalID != id {
		t.Errorf("the new message does not link to %d: %d", id, n.OriginalID)
	}
	if got := h.rc.received("Fixed"); len(got) != 1 || got[0] != hl7("ADT^A01", "8600", "Fixed", "") {
		t.Errorf("the receiver got %q", got)
	}
	if orig := h.message(id); len(orig.Events) != 1 || orig.Events[0].Kind != "reprocess-edited" {
		t.Errorf("the original's events: %+v", orig.Events)
	}
}
