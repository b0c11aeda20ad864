package connectors

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"junction/engine"
	"junction/hl7"
)

// $ingest batches: an HL7v2 body holding a batch, or several messages, is logged message
// by message and answered with a batch of ACKs.

// checkBatchAnswer checks a batch of ACKs answering an $ingest batch: each a valid ACK,
// status 200 exactly when all are AA, and every id in Junction-Message-Id stored.
func checkBatchAnswer(t *testing.T, eng *engine.Engine, status int, resp []byte, ids string) {
	b, err := hl7.SplitBatch(resp)
	if err != nil {
		t.Fatalf("bad batch answer %q: %v", resp, err)
	}
	allAA := true
	for _, m := range b.Messages {
		code, _, _, err := hl7.ParseACK(m)
		if err != nil {
			t.Fatalf("bad ACK %q in the batch: %v", m, err)
		}
		allAA = allAA && code == "AA"
	}
	if (status == 200) != allAA {
		t.Fatalf("status %d with ACKs %q", status, resp)
	}
	for _, id := range strings.Split(ids, ",") {
		var n int64
		if _, err := fmt.Sscan(id, &n); ids != "" && err != nil {
			t.Fatalf("Junction-Message-Id %q", ids)
		}
		if _, err := eng.Store().GetMessage(context.Background(), n); ids != "" && err != nil {
			t.Fatalf("message %q not in the store: %v", id, err)
		}
	}
}

// adtWithID is adtA01 with another control id (MSH-10).
func adtWithID(cid string) string { return strings.Replace(adtA01, "|8457239|", "|"+cid+"|", 1) }

// A batch body (BHS … BTS) is logged message by message, in order, each as a body of its
// own would be, and answered with a batch of their ACKs from our ack block to the
// source-domain and organisation-code sent: HTTP 200 when every ACK is AA, else the
// status of the first that is not. Junction-Message-Id lists the messages' ids.
func TestAnIngestBatchIsLoggedMessageByMessageAndAnsweredWithABatchOfACKs(t *testing.T) {
	eng, url := startEngine(t)
	batch := "BHS|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||||BATCH-9\r" +
		adtWithID("B-1") +
		strings.Replace(adtWithID("B-2"), "ADT^A01", "SIU^S12", 1) +
		strings.Replace(adtWithID("B-3"), "|19800101|M", "|19800101|X", 1) +
		"BTS|3\r"
	status, hdr, body := post(t, url, "POST", headers(), batch)
	if status != http.StatusUnprocessableEntity || hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("status %d %q, want 422 (the third message's) as text/plain", status, hdr.Get("Content-Type"))
	}
	a := splitACK(t, body)
	if a.segs[0][0] != "BHS" || a.segs[len(a.segs)-1][0] != "BTS" || a.field("BTS", 0, 1) != "3" || a.count("MSA") != 3 {
		t.Fatalf("answer %q: want BHS, three ACKs, BTS|3", body)
	}
	for n, w := range map[int]string{3: "DEX", 4: "QVV", 5: "emergency-care", 6: "r0d", 12: "BATCH-9"} {
		if got := a.field("BHS", 0, n); got != w {
			t.Errorf("BHS-%d = %q, want %q", n, got, w)
		}
	}
	want := []struct {
		code, ref, text string
		status          engine.Status
	}{
		{"AA", "B-1", "accepted", engine.StatusQueued},
		{"AA", "B-2", "filtered by channel ed-adt", engine.StatusFiltered},
		{"AE", "B-3", "could not be processed by channel ed-adt's transform", engine.StatusError},
	}
	ids := strings.Split(hdr.Get("Junction-Message-Id"), ",")
	if len(ids) != 3 {
		t.Fatalf("Junction-Message-Id %q, want three ids", hdr.Get("Junction-Message-Id"))
	}
	for i, w := range want {
		if a.field("MSA", i, 1) != w.code || a.field("MSA", i, 2) != w.ref || !strings.Contains(a.field("MSA", i, 3), w.text) || a.field("MSH", i, 5) != "emergency-care" {
			t.Errorf("ACK %d: %v, want %s for %s saying %q to emergency-care", i+1, a.segs, w.code, w.ref, w.text)
		}
		var id int64
		fmt.Sscan(ids[i], &id)
		m := getMessage(t, eng, id)
		if m.ControlID != w.ref || m.Meta["batch-index"] != fmt.Sprint(i+1) || m.SourceDomain != "emergency-care" || strings.Contains(m.Raw, "BHS") {
			t.Errorf("message %s: %s %q batch-index %q domain %q, want %s", ids[i], m.Status, m.ControlID, m.Meta["batch-index"], m.SourceDomain, w.ref)
		}
		if w.status == engine.StatusQueued && m.Status != engine.StatusQueued && m.Status != engine.StatusSent || w.status != engine.StatusQueued && m.Status != w.status {
			t.Errorf("message %s is %s, want %s", ids[i], m.Status, w.status)
		}
	}
}

// Several messages one after another (no batch header, LF line ends) are a batch too,
// answered 200 when all are AA; one message alone keeps its single ACK.
func TestSeveralMessagesInOneIngestBodyAreEachLoggedAndAnsweredInABatch(t *testing.T) {
	_, url := startEngine(t)
	two := strings.ReplaceAll(adtWithID("M-1")+adtWithID("M-2"), "\r", "\n")
	status, hdr, body := post(t, url, "POST", headers(), two)
	a := splitACK(t, body)
	if status != http.StatusOK || a.segs[0][0] != "BHS" || a.count("MSA") != 2 || a.field("MSA", 1, 2) != "M-2" || a.field("MSA", 1, 1) != "AA" {
		t.Fatalf("status %d answer %q: want 200 and a batch of two AAs", status, body)
	}
	if ids := strings.Split(hdr.Get("Junction-Message-Id"), ","); len(ids) != 2 {
		t.Errorf("Junction-Message-Id %q, want two ids", hdr.Get("Junction-Message-Id"))
	}
	status, _, body = post(t, url, "POST", headers(), adtWithID("M-3"))
	if m := ackRe.FindStringSubmatch(body); status != http.StatusOK || m == nil || m[3] != "AA" || m[4] != "M-3" {
		t.Fatalf("one message: status %d answer %q, want a single AA", status, body)
	}
}

// When the store cannot take a batch's messages, the answer is 503 with Retry-After and
// every message is answered AE, to be sent again; none has an id.
func TestAnIngestBatchTheStoreCannotTakeIsAnswered503(t *testing.T) {
	eng, url := startEngine(t)
	if err := eng.Store().Close(); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := post(t, url, "POST", headers(), adtWithID("S-1")+adtWithID("S-2"))
	a := splitACK(t, body)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || hdr.Get("Junction-Message-Id") != "" {
		t.Errorf("status %d Retry-After %q id %q, want 503 with Retry-After and no id", status, hdr.Get("Retry-After"), hdr.Get("Junction-Message-Id"))
	}
	if a.field("MSA", 0, 1) != "AE" || a.field("MSA", 1, 1) != "AE" || !strings.Contains(a.field("MSA", 1, 3), "message 1 before it could not be stored") {
		t.Errorf("answer %q: want AE for both, the second saying the first could not be stored", body)
	}
}
