package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"junction/engine"
)

// Browser tests: the UI in headless Chromium (Debian's chromium package; `make deps`
// installs it), driven with chromedp against a real engine, a real store and real HTTP
// receivers on loopback. They poll with deadlines and never assert on timing.
//
// Without Chromium they are skipped, unless CI or JUNCTION_BROWSER_TESTS=1 is set: then
// a missing browser fails them.

// chromiumPath finds the browser: $JUNCTION_CHROMIUM, else chromium on the PATH.
func chromiumPath() string {
	if p := os.Getenv("JUNCTION_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium tab, with what the page reported.
type browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string // uncaught exceptions, console errors (CSP violations among them), dialogs
	// answer, when set, answers the page's dialogs (window.confirm) instead of their being
	// problems; asked records their questions.
	answer func(question string) bool
	asked  []string
}

// answerDialogs makes the page's dialogs questions to answer (nil: they are problems again).
func (b *browser) answerDialogs(answer func(question string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answer, b.asked = answer, nil
}

// questions are the dialogs' questions since answerDialogs.
func (b *browser) questions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.asked...)
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" || os.Getenv("JUNCTION_BROWSER_TESTS") == "1" {
			t.Fatal("no Chromium found (install Debian's chromium package: make deps), and CI or JUNCTION_BROWSER_TESTS=1 requires the browser tests")
		}
		t.Skip("no Chromium found: install Debian's chromium package (make deps) to run the browser tests")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserFlags(path, t.TempDir())...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not have a timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "favicon") {
				b.problem(fmt.Sprintf("browser console: %s (%s)", m.Text, m.URL))
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			b.mu.Lock()
			answer := b.answer
			if answer != nil {
				b.asked = append(b.asked, ev.Message)
			}
			b.mu.Unlock()
			if answer != nil {
				chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: answer(ev.Message)})
				continue
			}
			b.problem("a dialog opened: " + ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// browserFlags start Chromium headless, with nothing that talks to the internet and a
// fresh profile.
func browserFlags(path, profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000),
	}
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// noProblems fails the test if a page threw, logged an error (a CSP violation is one)
// or opened a dialog.
func (b *browser) noProblems() {
	b.t.Helper()
	time.Sleep(50 * time.Millisecond) // let the last events arrive; nothing is asserted on it
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Error(p)
	}
	b.problems = nil
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// open loads a page and waits for its main content.
func (b *browser) open(url string) {
	b.t.Helper()
	b.run(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
}

// eval runs a JavaScript expression that gives a string.
func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return s
}

// waitJS polls a JavaScript expression (giving a string) until ok accepts its value.
func (b *browser) waitJS(what, js string, ok func(string) bool) string {
	b.t.Helper()
	var last string
	waitFor(b.t, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			return false, err.Error() // e.g. the page is reloading
		}
		last = s
		return ok(s), s
	})
	return last
}

// rowIDs are the message ids listed on a /messages page.
const rowIDs = `Array.from(document.querySelectorAll("#results tr[data-id]")).map(r => r.dataset.id).join(",")`

func joinIDs(ids ...int64) string {
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprint(id))
	}
	return strings.Join(s, ",")
}

func TestBrowser(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t)

	t.Run("dashboard counts change", func(t *testing.T) {
		b.t = t
		b.open(h.base + "/")
		before := b.eval(`document.querySelector('[data-k="c/adt/received"]').textContent`)
		if before != "0" {
			t.Fatalf("received before any message: %q", before)
		}
		for i := 0; i < 3; i++ {
			h.post(hl7("ADT^A01", fmt.Sprint(100+i), "Dash", ""))
		}
		// The page refreshes itself from the API.
		b.waitJS("the dashboard to count 3 received", `document.querySelector('[data-k="c/adt/received"]').textContent`,
			func(s string) bool { return s == "3" })
		b.waitJS("the archive's sent count", `document.querySelector('[data-k="d/adt/archive/sent/s"]').textContent`,
			func(s string) bool { return s == "3" })
		b.waitJS("the throughput chart", `String(document.querySelectorAll("#chart path").length)`,
			func(s string) bool { return s == "3" })
		b.noProblems()
	})

	// Messages for the searches: two SMITHs, one filtered, one that fails downstream.
	smith1 := h.post(hl7("ADT^A01", "201", "Smith", ""))
	jones := h.post(hl7("ADT^A01", "202", "Jones", ""))
	smithFiltered := h.post(hl7("SIU^S12", "203", "Smith", ""))
	// Only the next message may meet the receiver down: the ones before are delivered first.
	h.waitSettled()
	h.rc.down.Store(true)
	failed := h.post(hl7("ADT^A01", "204", "Smith", ""))
	h.waitStatus(failed, "downstream", engine.StatusError)
	h.rc.down.Store(false)
	h.waitIndexed()

	t.Run("search by text and status", func(t *testing.T) {
		b.t = t
		b.open(h.base + "/messages?q=smith")
		if got, want := b.eval(rowIDs), joinIDs(failed, smithFiltered, smith1); got != want {
			t.Errorf("q=smith lists %s, want %s", got, want)
		}
		// The form: text and status, submitted as an operator would.
		b.run(
			chromedp.SetValue(chromedp.CSS(`input[name=q]`), "SMITH"),
			chromedp.SetValue(chromedp.CSS(`select[name=status]`), "ERROR"),
			chromedp.Click(chromedp.CSS(`#search`)),
		)
		b.waitJS("the filtered page", `location.search`, func(s string) bool { return strings.Contains(s, "status=ERROR") })
		b.run(chromedp.WaitReady(chromedp.CSS("#results")))
		if got := b.eval(rowIDs); got != joinIDs(failed) {
			t.Errorf("SMITH + ERROR lists %s, want %d", got, failed)
		}
		b.open(h.base + "/messages?status=FILTERED")
		if got := b.eval(rowIDs); got != joinIDs(smithFiltered) {
			t.Errorf("FILTERED lists %s, want %d", got, smithFiltered)
		}
		b.open(h.base + "/messages?q=jones&destination_status=SENT")
		b.waitJS("jones to be listed once delivered", rowIDs, func(s string) bool { return s == joinIDs(jones) })
		b.open(h.base + "/messages?q=nobody")
		if got := b.eval(`document.querySelector("#no-results") ? "none" : "rows"`); got != "none" {
			t.Errorf("q=nobody: %s", got)
		}
		b.noProblems()
	})

	t.Run("message detail", func(t *testing.T) {
		b.t = t
		b.open(fmt.Sprintf("%s/messages/%d", h.base, smith1))
		if got := b.eval(`document.querySelector("#control-id").textContent`); got != "201" {
			t.Errorf("control id %q", got)
		}
		// HL7v2 segment by segment, each value's path on hover.
		if got := b.eval(`Array.from(document.querySelectorAll("#transformed .c")).filter(e => e.title == "PID-5.1").map(e => e.textContent).join()`); got != "SMITH" {
			t.Errorf("transformed PID-5.1 = %q", got)
		}
		if got := b.eval(`String(document.querySelectorAll("#raw .seg").length)`); got != "4" {
			t.Errorf("%s segments", got)
		}
		if got := b.eval(`Array.from(document.querySelectorAll("#diff .del, #diff .ins")).map(e => e.textContent).join("\n")`); !strings.Contains(got, "- PID|1||943476201^^^NHS^NH||Smith^JOHN") ||
			!strings.Contains(got, "+ PID|1||943476201^^^NHS^NH||SMITH^JOHN") {
			t.Errorf("diff %q", got)
		}
		b.waitJS("both destinations SENT", `Array.from(document.querySelectorAll("#destinations [data-k=status]")).map(e => e.textContent).join()`,
			func(s string) bool {
				if s != "SENT,SENT" {
					b.run(chromedp.Reload())
				}
				return s == "SENT,SENT"
			})
		b.noProblems()
	})

	t.Run("resend an ERROR message", func(t *testing.T) {
		b.t = t
		b.open(fmt.Sprintf("%s/messages/%d", h.base, failed))
		if got := b.eval(`document.querySelector("#message-status").textContent`); got != "ERROR" {
			t.Fatalf("status %q", got)
		}
		// Only the destination that failed (the receiver is back up).
		b.run(chromedp.Click(chromedp.CSS(`input[name=destination][value=archive]`)), chromedp.Click(chromedp.CSS(`#resend`)))
		// The page follows the delivery and shows it SENT.
		b.waitJS("downstream to show SENT", `(document.querySelector('[data-dest=downstream] [data-k=status]') || {}).textContent || ""`,
			func(s string) bool { return s == "SENT" })
		if got := h.rc.received("|204|"); len(got) != 1 {
			t.Errorf("the receiver got %d copies", len(got))
		}
		m := h.message(failed)
		if m.Status != engine.StatusSent || len(m.Events) != 1 || m.Events[0].Destination != "downstream" {
			t.Errorf("after resend: %s %+v", m.Status, m.Events)
		}
		b.noProblems()
	})

	t.Run("bulk resend with progress", func(t *testing.T) {
		b.t = t
		h.waitSettled()
		h.rc.down.Store(true)
		var bulk []int64
		for i := 0; i < 8; i++ {
			bulk = append(bulk, h.post(hl7("ADT^A01", fmt.Sprint(300+i), "Bulk", "")))
		}
		for _, id := range bulk {
			h.waitStatus(id, "downstream", engine.StatusError)
		}
		h.rc.down.Store(false)
		b.open(h.base + "/messages?destination_status=ERROR&destination=downstream")
		if got := b.eval(rowIDs); strings.Count(got, ",") != 7 {
			t.Fatalf("listed %s", got)
		}
		// The filter names downstream: only it is chosen. The count is shown, and asked
		// about before the job starts.
		b.answerDialogs(func(string) bool { return true })
		defer b.answerDialogs(nil)
		b.run(chromedp.Click(chromedp.CSS(`#bulk summary`)))
		b.waitJS("the count of matching messages", `document.querySelector("#bulk-count").textContent`,
			func(s string) bool { return s == "8 messages match this filter." })
		if got := b.eval(`Array.from(document.querySelectorAll("input[name=bulk-dest]:checked")).map(c => c.value).join()`); got != "downstream" {
			t.Errorf("checked for the bulk resend: %q, want downstream", got)
		}
		b.run(chromedp.Click(chromedp.CSS(`#bulk-resend`)))
		b.waitJS("the progress bar to reach 100%", `document.querySelector("#job-progress").value + " " + document.querySelector("#job-text").textContent`,
			func(s string) bool { return strings.HasPrefix(s, "100 ") && strings.Contains(s, " done: 8 of 8") })
		if q := b.questions(); len(q) != 1 || q[0] != "Resend 8 messages matching destination=downstream destination_status=ERROR to downstream?" {
			t.Errorf("asked %q", q)
		}
		for _, id := range bulk {
			h.waitStatus(id, "downstream", engine.StatusSent)
		}
		// What the resend did, once the deliveries settle.
		b.waitJS("the job to say what became of the deliveries", `document.querySelector("#job-text").textContent`,
			func(s string) bool { return strings.HasSuffix(s, "deliveries: 8 sent, 0 failed, 0 still queued") })
		// The job's page lists its outcome.
		href := b.eval(`document.querySelector("#job-link").getAttribute("href")`)
		b.open(h.base + href)
		if got := b.eval(`document.querySelector("#job-text").textContent`); !strings.Contains(got, "done: 8 of 8") {
			t.Errorf("job page says %q", got)
		}
		if got := b.eval(`document.querySelector("#job-deliveries").textContent`); got != "of the 8 queued again: 8 sent, 0 failed, 0 still queued (settled)" {
			t.Errorf("job page's deliveries: %q", got)
		}
		b.open(h.base + "/jobs")
		if got := b.eval(`["d-sent", "d-failed", "d-queued"].map(k => document.querySelector("#jobs tr[data-job] [data-k=" + k + "]").textContent).join()`); got != "8,0,0" {
			t.Errorf("the jobs page's sent, delivery errors, still queued: %q", got)
		}
		b.noProblems()
	})

	t.Run("hostile content is text", func(t *testing.T) {
		b.t = t
		id := h.post(hl7("ADT^A01", "400", `<script>document.title='pwned';window.pwned=1</script>`,
			`NTE|1||<img src=x onerror="document.title='pwned';window.pwned=2">`+"\r"))
		h.waitStatus(id, "downstream", engine.StatusSent)
		h.waitIndexed()
		for _, url := range []string{fmt.Sprintf("%s/messages/%d", h.base, id), h.base + "/messages?q=pwned", h.base + "/messages?q=script+img"} {
			b.open(url)
			if got := b.eval(`document.title + " " + String(window.pwned)`); strings.Contains(got, "pwned ") || !strings.HasSuffix(got, "undefined") {
				t.Errorf("%s: the content ran: %q", url, got)
			}
			if got := b.eval(`String(document.querySelectorAll("main script, main img").length)`); got != "0" {
				t.Errorf("%s: %s script/img elements made from the content", url, got)
			}
		}
		b.open(fmt.Sprintf("%s/messages/%d", h.base, id))
		text := b.eval(`document.querySelector("#raw").textContent`)
		if !strings.Contains(text, `<script>document.title='pwned';window.pwned=1</script>`) || !strings.Contains(text, `<img src=x onerror="document.title='pwned';window.pwned=2">`) {
			t.Errorf("the content is not shown as text: %q", text)
		}
		b.open(h.base + "/messages?q=pwned")
		if got := b.eval(rowIDs); got != fmt.Sprint(id) {
			t.Errorf("q=pwned lists %s", got)
		}
		b.noProblems()
	})

	t.Run("channel page and API reference", func(t *testing.T) {
		b.t = t
		b.open(h.base + "/channels/adt")
		if got := b.eval(`document.querySelector("#section").textContent`); !strings.Contains(got, "name: adt") {
			t.Errorf("section %q", got)
		}
		b.run(chromedp.Click(chromedp.CSS(`button.queue-action[data-dest=downstream]`)))
		b.waitJS("the queue to show paused", `(document.querySelector('tr[data-dest=downstream] .state') || {}).textContent || ""`,
			func(s string) bool { return s == "paused" })
		b.run(chromedp.Click(chromedp.CSS(`button.queue-action[data-dest=downstream]`)))
		b.waitJS("the queue to show running", `(document.querySelector('tr[data-dest=downstream] .state') || {}).textContent || ""`,
			func(s string) bool { return s == "running" })
		b.open(h.base + "/swagger/index.html")
		b.waitJS("Swagger UI to render the document", `(document.querySelector("#swagger-ui .title") || {}).textContent || ""`,
			func(s string) bool { return strings.Contains(s, "Junction admin API") })
		b.noProblems()
	})
}

// An operator logs in through the page, resends a message and sees the action attributed
// to them.
func TestBrowserLogin(t *testing.T) {
	h := newAuthHarness(t)
	b := newBrowser(t)
	id := h.post(hl7("ADT^A01", "7201", "Login", ""))
	waitFor(t, "delivery", func() (bool, string) {
		ok := h.store != nil
		m, err := h.store.GetMessage(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return ok && m.Status == engine.StatusSent, string(m.Status)
	})

	// Anonymous: the page sends the browser to the login page.
	msgURL := fmt.Sprintf("%s/messages/%d", h.base, id)
	b.open(msgURL)
	if got := b.eval(`location.pathname`); got != "/login" {
		t.Fatalf("anonymous lands on %q", got)
	}
	b.run(
		chromedp.SetValue(chromedp.CSS(`#username`), "otto"),
		chromedp.SetValue(chromedp.CSS(`#password`), "wrong-password"),
		chromedp.Click(chromedp.CSS(`#login`)),
	)
	b.waitJS("the refusal", `document.querySelector("#login-result").textContent`,
		func(s string) bool { return strings.Contains(s, "unknown user or wrong password") })
	time.Sleep(50 * time.Millisecond) // the refused login's 401 is logged by the browser's console: drop it
	b.mu.Lock()
	b.problems = nil
	b.mu.Unlock()
	b.run(
		chromedp.SetValue(chromedp.CSS(`#password`), "otto-secret"),
		chromedp.Click(chromedp.CSS(`#login`)),
	)
	// Back on the page asked for, logged in.
	b.waitJS("the message page", `location.pathname + " " + ((document.querySelector("#who") || {}).textContent || "")`,
		func(s string) bool { return s == fmt.Sprintf("/messages/%d otto", id) })
	b.open(msgURL) // a settled page to click in
	if got := b.eval(`document.querySelector("#who").textContent + " " + document.querySelector("#who-role").textContent`); got != "otto (operator)" {
		t.Errorf("the header says %q", got)
	}
	if got := b.eval(`document.querySelector("#audit-link") ? "audit" : "no audit"`); got != "no audit" {
		t.Errorf("an operator is offered the audit log")
	}
	b.run(chromedp.Click(chromedp.CSS(`input[name=destination][value=downstream]`)), chromedp.Click(chromedp.CSS(`#resend`)))
	b.waitJS("the resend in the operator actions", `(document.querySelector("#events") || {}).textContent || ""`,
		func(s string) bool {
			if !strings.Contains(s, "resend") {
				b.run(chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("main")))
			}
			return strings.Contains(s, "resend") && strings.Contains(s, "by otto (operator)")
		})
	if got := h.rc.received("|7201|"); len(got) < 1 {
		t.Errorf("the receiver got %d copies", len(got))
	}
	b.noProblems()

	// Logging out ends the session.
	b.run(chromedp.Click(chromedp.CSS(`#logout`)))
	b.waitJS("the login page", `location.pathname`, func(s string) bool { return s == "/login" })
	b.open(msgURL)
	if got := b.eval(`location.pathname`); got != "/login" {
		t.Errorf("after logout lands on %q", got)
	}
	b.noProblems()
}
