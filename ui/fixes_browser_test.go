package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"junction/engine"
)

// Browser tests of the fixes from trying the UI: the bulk resend's destinations, HL7v2
// edits keeping their CR segment separators, correcting and reprocessing a message that
// failed at its source, and the admin's access page.

const bulkDestsJS = `Array.from(document.querySelectorAll("input[name=bulk-dest]")).map(c => c.value + (c.checked ? "+" : "") + c.parentElement.textContent.replace(c.value, "").trim()).join()`

// The bulk resend offers the destinations of the filtered channel; unfiltered, every
// destination, with the channels that have it when more than one does.
func TestBrowserBulkResendOffersTheFilteredChannelsDestinations(t *testing.T) {
	h := newTwoChannelHarness(t)
	b := newBrowser(t)
	b.open(h.base + "/messages?channel=lab")
	if got := b.eval(bulkDestsJS); got != "lab-only+,archive+" {
		t.Errorf("channel=lab offers %q", got)
	}
	b.open(h.base + "/messages?channel=adt&destination=downstream")
	if got := b.eval(bulkDestsJS); got != "downstream+,archive" {
		t.Errorf("channel=adt, destination=downstream offers %q", got)
	}
	b.open(h.base + "/messages")
	if got := b.eval(bulkDestsJS); got != "downstream+(adt),archive+(adt, lab),lab-only+(lab)" {
		t.Errorf("no filter offers %q", got)
	}
	b.noProblems()
}

// An operator edits an HL7v2 message in the page's textarea (where the browser makes its
// CRs line feeds) and resends it: the receiver gets CR-separated segments. A message
// that failed at its source is corrected in the page and reprocessed.
func TestBrowserEditsKeepHL7SegmentsAndCorrectAMessageThatFailedAtItsSource(t *testing.T) {
	h := newTwoChannelHarness(t)
	b := newBrowser(t)

	id := h.postTo("emergency-care", hl7("ADT^A01", "8800", "Browser", ""))
	h.waitStatus(id, "downstream", engine.StatusSent)
	b.open(fmt.Sprintf("%s/messages/%d", h.base, id))
	if got := b.eval(`document.querySelector("#untransformed").textContent`); got != "The transform left the content unchanged." {
		t.Errorf("a message its transform let through as it was: %q", got)
	}
	b.run(chromedp.Click(chromedp.CSS(`#edit-toggle`)))
	if got := b.eval(`(v => String(v.includes("\r")) + " " + String(v.split("\n").length))(document.querySelector("#edit-content").value)`); got != "false 5" {
		t.Errorf("the textarea's value: CR kept, line count: %q (the browser should have made the CRs line feeds)", got)
	}
	b.eval(`(a => { a.value = a.value.replace("Browser^JOHN", "Edited^JOHN"); return "" })(document.querySelector("#edit-content"))`)
	b.run(chromedp.Click(chromedp.CSS(`input[name=destination][value=archive]`)), chromedp.Click(chromedp.CSS(`#resend`)))
	waitFor(t, "the receiver to get the edit", func() (bool, string) {
		got := h.rc.received("Edited^JOHN")
		return len(got) == 1, fmt.Sprint(got)
	})
	if got, want := h.rc.received("Edited^JOHN")[0], hl7("ADT^A01", "8800", "Edited", ""); got != want {
		t.Errorf("the receiver got %q, want %q", got, want)
	}

	bad := strings.Replace(hl7("ADT^A01", "8801", "Nomrn", ""), "PID|1||9434768801^^^NHS^NH||", "PID|1||||", 1)
	badID := h.postTo("emergency-care", bad)
	b.open(fmt.Sprintf("%s/messages/%d", h.base, badID))
	if got := b.eval(`document.querySelector("#untransformed").textContent`); !strings.HasPrefix(got, "Not transformed: the message failed at its source") {
		t.Errorf("the failed message's page says %q", got)
	}
	if got := b.eval(`String(document.querySelector("#reprocess-edit-toggle").checked) + " " + String(document.querySelector("#reprocess-content").hidden)`); got != "true false" {
		t.Errorf("the correction is not offered at once (edit checked, textarea hidden: %s)", got)
	}
	b.eval(`(a => { a.value = a.value.replace("PID|1||||", "PID|1||555001^^^NHS^NH||"); return "" })(document.querySelector("#reprocess-content"))`)
	b.run(chromedp.Click(chromedp.CSS(`#reprocess`)))
	path := b.waitJS("the new message's page", `location.pathname`, func(s string) bool { return s != fmt.Sprintf("/messages/%d", badID) })
	var newID int64
	fmt.Sscanf(path, "/messages/%d", &newID)
	m := h.waitStatus(newID, "downstream", engine.StatusSent)
	if m.OriginalID != badID {
		t.Errorf("message %d comes from %d, want %d", newID, m.OriginalID, badID)
	}
	want := strings.Replace(bad, "PID|1||||", "PID|1||555001^^^NHS^NH||", 1)
	if got := h.rc.received("555001^^^NHS"); len(got) != 1 || got[0] != want {
		t.Errorf("the receiver got %q, want %q", got, want)
	}
	b.noProblems()
}

// An admin creates an API token on the access page (its secret shown once), revokes it,
// and ends an operator's sessions.
func TestBrowserAccessPageManagesTokensAndSessions(t *testing.T) {
	h := newAuthHarness(t)
	b := newBrowser(t)
	b.open(h.base + "/access")
	b.run(
		chromedp.SetValue(chromedp.CSS(`#username`), "ada"),
		chromedp.SetValue(chromedp.CSS(`#password`), "ada-secret"),
		chromedp.Click(chromedp.CSS(`#login`)),
	)
	b.waitJS("the access page", `location.pathname + " " + ((document.querySelector("#access-link") || {}).textContent || "")`,
		func(s string) bool { return s == "/access Access" })
	b.run(chromedp.WaitReady(chromedp.CSS("#token-form")))
	b.run(
		chromedp.SetValue(chromedp.CSS(`#token-name`), "ci-bot"),
		chromedp.SetValue(chromedp.CSS(`#token-role`), "operator"),
		chromedp.Click(chromedp.CSS(`#token-create`)),
	)
	secret := b.waitJS("the new token's secret", `document.querySelector("#token-secret").textContent`,
		func(s string) bool { return strings.HasPrefix(s, "jct_") })
	if status, body := h.bearerDo(secret, "GET", "/api/channels", ""); status != 200 {
		t.Fatalf("the new token: %d %s", status, body)
	}
	if got := b.eval(`Array.from(document.querySelectorAll("#tokens tr[data-token]")).map(r => r.cells[0].textContent + "/" + r.cells[1].textContent).join()`); got != "ci-bot/operator" {
		t.Errorf("listed %q", got)
	}
	b.open(h.base + "/access")
	if got := b.eval(`document.body.textContent.includes(` + fmt.Sprintf("%q", secret) + `) ? "shown again" : "once"`); got != "once" {
		t.Error("the token's secret is shown again")
	}
	b.answerDialogs(func(string) bool { return true })
	defer b.answerDialogs(nil)
	b.run(chromedp.Click(chromedp.CSS(`button.token-revoke[data-name="ci-bot"]`)))
	b.waitJS("the token's row to go", `String(document.querySelectorAll("#tokens tr[data-token]").length)`, func(s string) bool { return s == "0" })
	if status, _ := h.bearerDo(secret, "GET", "/api/channels", ""); status != 401 {
		t.Errorf("the revoked token: %d", status)
	}

	otto := h.login("otto")
	otto.call("GET", "/api/channels", nil, 200, nil)
	b.open(h.base + "/access")
	if got := b.eval(`Array.from(document.querySelectorAll("#sessions tr[data-user]")).map(r => r.dataset.user).join()`); got != "otto,ada" {
		t.Errorf("sessions listed: %q", got)
	}
	b.run(chromedp.Click(chromedp.CSS(`button.user-revoke[data-user="otto"]`)))
	b.waitJS("otto's session to leave the list", `Array.from(document.querySelectorAll("#sessions tr[data-user]")).map(r => r.dataset.user).join()`,
		func(s string) bool { return s == "ada" })
	if status, _, _ := otto.do("GET", "/api/channels", nil); status != 401 {
		t.Errorf("otto after his sessions were revoked: %d", status)
	}
	if q := b.questions(); len(q) != 2 || !strings.Contains(q[0], "Revoke API token ci-bot?") || q[1] != "End every session of otto?" {
		t.Errorf("asked %q", q)
	}
	b.noProblems()
}
