package ui

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"junction/engine"
)

// Browser tests of outages made visible: a failing destination on the dashboard, the
// Errors view's retrying messages, and the message list's time pickers in the
// operator's time zone.

// newRetryingHarness is the test Junction with a downstream that retries (almost) for
// ever, as a production one does, and its receiver down.
func newRetryingHarness(t *testing.T) *harness {
	t.Helper()
	rc := newReceiver(t)
	rc.down.Store(true)
	routes := strings.ReplaceAll(harnessRoutes, "{{URL}}", rc.srv.URL+"/in")
	routes = strings.Replace(routes, "retry: { attempts: 2, backoff: 50ms, max_backoff: 100ms }",
		"retry: { attempts: 100000, backoff: 50ms, max_backoff: 200ms }", 1)
	h := newHarnessWith(t, t.TempDir(), routes)
	h.rc = rc
	return h
}

// waitRetrying waits until message id's downstream delivery is QUEUED after a failed
// attempt.
func (h *harness) waitRetrying(id int64) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("message %d to be retried", id), func() (bool, string) {
		for _, d := range h.message(id).Destinations {
			if d.Name == "downstream" {
				return d.Status == engine.StatusQueued && d.Attempts > 0 && d.LastError != "", fmt.Sprintf("%+v", d)
			}
		}
		return false, "no downstream delivery"
	})
}

// A downstream refusing messages turns its dashboard row red: "failing" instead of
// "running", since when and the last error, in the page and in the JSON it polls; once
// the downstream is back, it runs again.
func TestBrowserDashboardShowsAFailingDestinationInRedWithItsLastError(t *testing.T) {
	h := newRetryingHarness(t)
	b := newBrowser(t)
	id := h.post(hl7("ADT^A01", "7001", "Outage", ""))
	h.waitRetrying(id)

	var chans struct{ Channels []channelView }
	h.call("GET", "/api/channels", nil, 200, &chans)
	var health *destHealth
	for _, d := range chans.Channels[0].Destinations {
		if d.Name == "downstream" {
			health = d.Health
		}
	}
	if health == nil || !health.Failing || health.State != "failing" || health.FailingSince == nil || !strings.Contains(health.LastError, "503") {
		t.Fatalf("GET /api/channels: downstream health %+v", health)
	}

	b.open(h.base + "/")
	state := `document.querySelector('[data-k="d/adt/downstream/state"]')`
	b.waitJS("the downstream to show failing", state+`.textContent + " " + `+state+`.className`,
		func(s string) bool { return s == "failing state failing" })
	text := b.eval(`document.querySelector('tr[data-dest="adt/downstream"] .outage .flag.bad').textContent`)
	if !strings.HasPrefix(text, "failing since ") || !strings.Contains(text, "answered 503 Service Unavailable") {
		t.Errorf("the failing flag says %q", text)
	}
	// Since when, in the browser's time zone (as the page computes it).
	at := b.eval(`(d => String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0"))(new Date(` +
		fmt.Sprintf("%q", health.FailingSince.Format(time.RFC3339Nano)) + `))`)
	if !strings.Contains(text, "since "+at+" (") {
		t.Errorf("the failing flag %q does not say since %s", text, at)
	}
	if got := b.eval(`document.querySelector('tr[data-dest="adt/downstream"]').className + "|" + document.querySelector('[data-k="d/adt/archive/state"]').textContent`); got != "dest failing|running" {
		t.Errorf("rows: %q", got)
	}

	h.rc.down.Store(false)
	h.waitStatus(id, "downstream", engine.StatusSent)
	b.waitJS("the downstream to run again", state+`.textContent + " " + `+state+`.className`,
		func(s string) bool { return s == "running state" })
	if got := b.eval(`document.querySelector('tr[data-dest="adt/downstream"] .outage').textContent`); got != "" {
		t.Errorf("flags left after recovery: %q", got)
	}
	b.noProblems()
}

// The Errors link opens the failed messages, with a tab of the retrying ones: a message
// whose downstream refuses it is listed there with its failed attempts and last error.
func TestBrowserErrorsViewListsAMessageWhoseDestinationIsRetrying(t *testing.T) {
	h := newRetryingHarness(t)
	b := newBrowser(t)
	id := h.post(hl7("ADT^A01", "7002", "Retry", ""))
	h.waitRetrying(id)

	b.open(h.base + "/")
	b.run(chromedp.Click(chromedp.CSS(`a.errors-link`)))
	b.waitJS("the Errors view", `location.search`, func(s string) bool { return s == "?status=ERROR" })
	b.run(chromedp.WaitReady(chromedp.CSS("#error-tabs")))
	if got := b.eval(`Array.from(document.querySelectorAll("#error-tabs a")).map(a => a.textContent + (a.getAttribute("aria-current") ? "*" : "") + (a.classList.contains("alarm") ? "!" : "")).join("|")`); got != "Failed (ERROR) 0*|Retrying 1!" {
		t.Errorf("tabs %q", got)
	}
	if got := b.eval(rowIDs); got != "" {
		t.Errorf("failed messages listed: %q", got)
	}
	b.run(chromedp.Click(chromedp.CSS(`#error-tabs a:nth-child(2)`)))
	b.waitJS("the retrying tab", `location.search`, func(s string) bool { return s == "?destination_status=RETRYING" })
	b.run(chromedp.WaitReady(chromedp.CSS("#results")))
	if got := b.eval(rowIDs); got != joinIDs(id) {
		t.Fatalf("retrying lists %q, want %d", got, id)
	}
	cell := b.eval(`document.querySelector('#results tr[data-id] td.err').textContent`)
	if !strings.Contains(cell, "downstream retrying, ") || !strings.Contains(cell, "attempts failed") && !strings.Contains(cell, "1 attempt failed") || !strings.Contains(cell, "503") {
		t.Errorf("the retrying message's error cell: %q", cell)
	}
	if got := b.eval(`document.querySelector("select[name=destination_status]").value`); got != "RETRYING" {
		t.Errorf("the destination status select shows %q", got)
	}
	b.noProblems()
}

// In New York, an operator picks 09:30 on a winter day: the address and the API get
// 14:30 UTC, the picker shows 09:30 again, and the listed times are New York's with UTC
// on hover.
func TestBrowserTimePickersWorkInTheOperatorsTimeZone(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	id := h.post(hl7("ADT^A01", "7003", "Clock", ""))
	received := h.message(id).ReceivedAt
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database: ", err)
	}

	b.open(h.base + "/messages")
	b.waitJS("the page to say which time zone it shows", `document.querySelector("#tz-note").textContent`,
		func(s string) bool { return strings.Contains(s, "America/New_York") })
	b.run(
		chromedp.SetValue(chromedp.CSS(`#since-local`), "2024-02-13T09:30"),
		chromedp.Click(chromedp.CSS(`#search`)),
	)
	b.waitJS("the filtered page", `location.search`, func(s string) bool { return strings.Contains(s, "since=") })
	q, _ := url.ParseQuery(strings.TrimPrefix(b.eval(`location.search`), "?"))
	if got := q.Get("since"); got != "2024-02-13T14:30:00Z" {
		t.Errorf("the address holds since=%q, want 2024-02-13T14:30:00Z", got)
	}
	// The new page's scripts fill the picker back from the address.
	b.waitJS("the picker to show 09:30 again", `document.querySelector("#since-local").value`,
		func(s string) bool { return s == "2024-02-13T09:30" || s == "2024-02-13T09:30:00" })
	if got := b.eval(rowIDs); got != joinIDs(id) {
		t.Errorf("since 09:30 New York lists %q, want %d", got, id)
	}
	want := received.In(ny).Format("2006-01-02 15:04:05")
	if got := b.eval(`(t => t.textContent + "|" + t.title)(document.querySelector("#results time"))`); got != want+"|"+received.UTC().Format("2006-01-02 15:04:05Z")+" (UTC)" {
		t.Errorf("the received time shows %q, want %s in New York with UTC on hover", got, want)
	}

	// A minute after the message, in New York time: the API gets that instant and the
	// message is not listed.
	after := received.Add(time.Minute).In(ny)
	b.run(
		chromedp.SetValue(chromedp.CSS(`#since-local`), after.Format("2006-01-02T15:04:05")),
		chromedp.Click(chromedp.CSS(`#search`)),
	)
	wantSince := after.UTC().Format(time.RFC3339)
	b.waitJS("the second filter", `decodeURIComponent(location.search)`, func(s string) bool { return strings.Contains(s, "since="+wantSince) })
	b.run(chromedp.WaitReady(chromedp.CSS("#results")))
	if got := b.eval(rowIDs); got != "" {
		t.Errorf("since a minute after the message lists %q", got)
	}
	b.open(fmt.Sprintf("%s/messages/%d", h.base, id))
	b.waitJS("the message page's received time in New York", `document.querySelector("main time.local").textContent`,
		func(s string) bool { return s == want })
	b.noProblems()
}
