package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/alerts"
	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
)

func TestMain(m *testing.M) {
	alerts.RetryBackoff = 10 * time.Millisecond // retries are tested, not their pace
	alerts.ReloadDrain = 2 * time.Second        // a reload's hung notifications are given up sooner
	os.Exit(m.Run())
}

const (
	adtMsg = "MSH|^~\\&|EPR|RX1|LIS|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||123^^^H^MR||Smith^John\r"
)

// rig is a configuration started on a real SQLite store in a folder of its own, with an
// alerts runner evaluated by hand (at the times a test chooses).
type rig struct {
	t       *testing.T
	dir     string
	eng     *engine.Engine
	store   *sqlite.Store
	runner  *alerts.Runner
	stopped bool
}

func startRig(t *testing.T, dir, routes string) *rig {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Load(filepath.Join(dir, "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng.Log = log
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, eng: eng, store: store, runner: alerts.New(eng, store, log)}
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	if r.stopped {
		return
	}
	r.stopped = true
	r.runner.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.eng.Stop(ctx)
	r.store.Close()
}

// newRunner closes the runner and starts another on the same engine and store, as a
// restart or a reload does.
func (r *rig) newRunner() {
	r.runner.Close()
	r.runner = alerts.New(r.eng, r.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// eval evaluates the alerts as of now and waits for the notifications it queued.
func (r *rig) eval(now time.Time) {
	r.t.Helper()
	if err := r.runner.Evaluate(context.Background(), now); err != nil {
		r.t.Fatal(err)
	}
	r.runner.Drain()
}

func (r *rig) send(channel, body string) int64 {
	r.t.Helper()
	res := r.eng.Channel(channel).Process(context.Background(), &engine.Inbound{DataType: "Hl7v2", Body: []byte(body)})
	if !res.Accepted() {
		r.t.Fatalf("not accepted: %+v", res)
	}
	return res.MessageID
}

// waitQueue waits until the store shows the queue of channel/destination as ok says.
func (r *rig) waitQueue(channel, dest string, ok func(engine.QueueFacts) bool) {
	r.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		qs, err := r.store.AlertQueues(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		for _, q := range qs {
			if q.Channel == channel && q.Destination == dest && ok(q) {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("queue %s/%s never got there: %+v", channel, dest, qs)
		}
	}
}

func (r *rig) lastEvent(kind string) engine.Event {
	r.t.Helper()
	ev, err := r.store.LastEvent(context.Background(), kind)
	if err != nil {
		r.t.Fatalf("no %s event: %v", kind, err)
	}
	return ev
}

// closedPort is a loopback port nothing listens on (until a test listens there again).
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// notifyBoth notifies the webhook receiver and, by e-mail, the SMTP receiver.
func notifyBoth(hook *hookReceiver, mail *smtpReceiver) string {
	return `[ { webhook: { url: "` + hook.URL + `" } }, { email: { to: [oncall@example.org] } } ]`
}

// smtpBlock sends mail to the SMTP receiver with STARTTLS (trusting its CA) and AUTH.
func smtpBlock(mail *smtpReceiver) string {
	host, port, _ := net.SplitHostPort(mail.Addr)
	return `smtp: { host: "` + host + `", port: ` + port + `, username: junction, password: secret, from: "Junction <junction@example.org>", ca_file: "` + mail.CAFile + `" }
`
}

// sameMails checks that the SMTP receiver got one mail for each notice the webhook
// receiver got, over TLS and authenticated, each alert's in the same order (alerts
// notify independently of each other).
func sameMails(t *testing.T, hook *hookReceiver, mail *smtpReceiver) {
	t.Helper()
	ns, ms := hook.notices(), mail.mails()
	if len(ns) != len(ms) {
		t.Fatalf("%d webhook notices but %d mails", len(ns), len(ms))
	}
	want, got := map[string][]string{}, map[string][]string{}
	for _, n := range ns {
		want[n.Alert] = append(want[n.Alert], alerts.Subject(n)+"\n"+n.URL)
	}
	for _, m := range ms {
		if !m.TLS || m.User != "junction" {
			t.Errorf("mail without STARTTLS or AUTH: %+v", m)
		}
		alert, _, _ := strings.Cut(strings.SplitN(m.Subject, " ", 3)[2], ":")
		if strings.HasPrefix(m.Subject, "[Junction] STILL FIRING ") {
			alert, _, _ = strings.Cut(strings.SplitN(m.Subject, " ", 4)[3], ":")
		}
		link := ""
		if _, after, ok := strings.Cut(m.Body, "Messages:    "); ok {
			link, _, _ = strings.Cut(after, "\n")
		}
		got[alert] = append(got[alert], m.Subject+"\n"+link)
	}
	for alert, w := range want {
		if strings.Join(got[alert], "|") != strings.Join(w, "|") {
			t.Errorf("alert %s: mails %q, want %q", alert, got[alert], w)
		}
	}
}

func failingRoutes(lis, hook string, mail *smtpReceiver) string {
	return `store: { path: junction.db }
admin: { listen: "127.0.0.1:0", url: "https://junction.example.org" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - name: lis
        type: http
        url: "http://` + lis + `/lis"
        timeout: 2s
        retry: { backoff: 20ms, max_backoff: 200ms }
alerts:
  - name: lab-down
    when: { destination_failing: { channel: lab, destination: lis, for: 5m } }
    notify: [ { webhook: { url: "` + hook + `" } }, { email: { to: [oncall@example.org], cc: [lab@example.org] } } ]
` + smtpBlock(mail)
}

func TestAFailingDestinationFiresOnceRemindsHourlyAndClearsOnceAcrossARestart(t *testing.T) {
	hook, mail := newHookReceiver(t), newSMTPReceiver(t)
	lis := closedPort(t)
	dir := t.TempDir()
	routes := failingRoutes(lis, hook.URL, mail)
	r := startRig(t, dir, routes)
	r.send("lab", adtMsg)
	r.waitQueue("lab", "lis", func(q engine.QueueFacts) bool { return q.HeadAttempts > 0 })

	t0 := time.Now()
	r.eval(t0) // failing, but not yet for 5m
	if n := len(hook.notices()) + len(mail.mails()); n != 0 {
		t.Fatalf("%d notifications before the destination failed for 5m", n)
	}
	r.eval(t0.Add(6 * time.Minute))
	got := hook.notices()
	if len(got) != 1 {
		t.Fatalf("webhook got %d notices after 6m of failing, want 1: %+v", len(got), got)
	}
	n := got[0]
	wantURL := "https://junction.example.org/messages?channel=lab&destination=lis&destination_status=QUEUED"
	if n.Alert != "lab-down" || n.State != "firing" || n.Condition != "destination_failing" || n.Channel != "lab" ||
		n.Destination != "lis" || n.URL != wantURL || !strings.Contains(n.Detail, "connection refused") || n.Since.After(t0) ||
		!strings.HasPrefix(n.Text, "[Junction] FIRING lab-down: lab → lis: destination failing: ") || !strings.HasSuffix(n.Text, wantURL) {
		t.Errorf("firing notice: %+v", n)
	}
	mails := mail.mails()
	if len(mails) != 1 {
		t.Fatalf("SMTP receiver got %d mails, want 1", len(mails))
	}
	m := mails[0]
	if !m.TLS || m.User != "junction" || m.From != "junction@example.org" || strings.Join(m.To, ",") != "oncall@example.org,lab@example.org" {
		t.Errorf("mail envelope: %+v (want STARTTLS, AUTH as junction, to oncall and cc lab)", m)
	}
	if m.Subject != "[Junction] FIRING lab-down: lab → lis: destination failing" || !strings.Contains(m.Body, wantURL) {
		t.Errorf("mail subject %q, body:\n%s", m.Subject, m.Body)
	}
	if ev := r.lastEvent(engine.EventAlertFiring); ev.Channel != "lab" || ev.Destination != "lis" || !strings.Contains(ev.Detail, "alert lab-down") {
		t.Errorf("audit event: %+v", ev)
	}

	// Still failing: no storm.
	r.eval(t0.Add(7 * time.Minute))
	r.eval(t0.Add(30 * time.Minute))
	if h, ms := len(hook.notices()), len(mail.mails()); h != 1 || ms != 1 {
		t.Fatalf("%d webhook notices and %d mails while the alert stays active, want 1 each", h, ms)
	}

	// A restart (the store closed and opened again, a new runner) neither fires again
	// nor forgets: the reminder comes an hour after the first notice.
	r.stop()
	r = startRig(t, dir, routes)
	r.eval(t0.Add(40 * time.Minute))
	if h := len(hook.notices()); h != 1 {
		t.Fatalf("%d webhook notices after a restart, want still 1", h)
	}
	r.eval(t0.Add(67 * time.Minute))
	got = hook.notices()
	if len(got) != 2 || got[1].State != "firing" || !got[1].Reminder {
		t.Fatalf("want one reminder an hour after the first notice, got %+v", got)
	}
	if ms := mail.mails(); len(ms) != 2 || !strings.HasPrefix(ms[1].Subject, "[Junction] STILL FIRING lab-down") {
		t.Fatalf("want a reminder mail, got %+v", ms)
	}

	// The receiver comes back: the queue drains and the alert clears, once.
	ln, err := net.Listen("tcp", lis)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", lis, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })}
	go srv.Serve(ln)
	defer srv.Close()
	r.waitQueue("lab", "lis", func(q engine.QueueFacts) bool { return q.Queued == 0 && q.Sent == 1 })
	r.eval(t0.Add(68 * time.Minute))
	r.eval(t0.Add(69 * time.Minute))
	got = hook.notices()
	if len(got) != 3 || got[2].State != "resolved" || got[2].ResolvedAt == nil || got[2].Detail != "delivering again: a send succeeded; 0 messages queued" {
		t.Fatalf("want one resolved notice, got %+v", got)
	}
	if ms := mail.mails(); len(ms) != 3 || !strings.HasPrefix(ms[2].Subject, "[Junction] RESOLVED lab-down: lab → lis") {
		t.Fatalf("want one resolved mail, got %+v", ms)
	}
	if ev := r.lastEvent(engine.EventAlertResolved); !strings.Contains(ev.Detail, "alert lab-down") {
		t.Errorf("audit event: %+v", ev)
	}
	if sts, _ := r.store.AlertStates(context.Background()); len(sts) != 0 {
		t.Errorf("states left after clearing: %+v", sts)
	}
	sameMails(t, hook, mail)
}

func TestAFailingDestinationThatRecoveredBeforeANewRunnerStartedResolvesAtItsFirstEvaluation(t *testing.T) {
	hook, mail := newHookReceiver(t), newSMTPReceiver(t)
	lis := closedPort(t)
	r := startRig(t, t.TempDir(), failingRoutes(lis, hook.URL, mail))
	r.send("lab", adtMsg)
	r.waitQueue("lab", "lis", func(q engine.QueueFacts) bool { return q.HeadAttempts > 0 })
	t0 := time.Now()
	r.eval(t0)
	r.eval(t0.Add(6 * time.Minute))
	if got := hook.notices(); len(got) != 1 || got[0].State != "firing" {
		t.Fatalf("want one firing notice, got %+v", got)
	}

	// The receiver comes back while no runner evaluates (a restart, a reload): the queue
	// drains, and nothing is sent after.
	r.runner.Close()
	ln, err := net.Listen("tcp", lis)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", lis, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })}
	go srv.Serve(ln)
	defer srv.Close()
	r.waitQueue("lab", "lis", func(q engine.QueueFacts) bool { return q.Queued == 0 && q.Sent == 1 })
	r.newRunner()
	r.eval(t0.Add(7 * time.Minute))
	got := hook.notices()
	if len(got) != 2 || got[1].State != "resolved" || got[1].Detail != "delivering again: a send succeeded; 0 messages queued" {
		t.Fatalf("want a resolved notice at the new runner's first evaluation, got %+v", got)
	}
	r.eval(t0.Add(8 * time.Minute))
	if got := hook.notices(); len(got) != 2 {
		t.Fatalf("want no notice after the resolved one, got %+v", got[2:])
	}
}

func TestAStoppedChannelAndItsAgeingQueueFireAndClearOnceEach(t *testing.T) {
	hook, mail := newHookReceiver(t), newSMTPReceiver(t)
	hook.fail = 2 // the first two POSTs are answered 503: retried
	r := startRig(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - { name: archive, type: file, dir: out }
alerts:
  - name: lab-stopped
    when: { channel_stopped: { channel: lab } }
    notify: `+notifyBoth(hook, mail)+`
  - name: lab-backlog
    when: { queue: { older_than: 10m } }
    notify: `+notifyBoth(hook, mail)+`
`+smtpBlock(mail))
	ctx := context.Background()
	if err := r.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	r.send("lab", adtMsg) // a stopped channel's destination holds its queue
	now := time.Now()
	r.eval(now)
	r.eval(now.Add(time.Minute))
	got := hook.notices()
	if len(got) != 1 || got[0].Alert != "lab-stopped" || got[0].State != "firing" || !strings.HasSuffix(got[0].URL, "/channels/lab") {
		t.Fatalf("want one lab-stopped notice (sent on the third attempt), got %+v", got)
	}
	if hook.posts != 3 {
		t.Errorf("%d POSTs, want 3 (two answered 503, retried)", hook.posts)
	}
	r.eval(now.Add(11 * time.Minute))
	r.eval(now.Add(12 * time.Minute))
	got = hook.notices()
	if len(got) != 2 || got[1].Alert != "lab-backlog" || got[1].Destination != "archive" || !strings.Contains(got[1].Detail, "1 message queued") {
		t.Fatalf("want one lab-backlog notice, got %+v", got)
	}
	if err := r.eng.SetChannelState(ctx, "lab", engine.ChannelStarted, "test"); err != nil {
		t.Fatal(err)
	}
	r.waitQueue("lab", "archive", func(q engine.QueueFacts) bool { return q.Queued == 0 })
	r.eval(now.Add(13 * time.Minute))
	r.eval(now.Add(14 * time.Minute))
	got = hook.notices()
	if len(got) != 4 {
		t.Fatalf("want two resolved notices, got %+v", got)
	}
	for _, n := range got[2:] {
		if n.State != "resolved" {
			t.Errorf("want resolved, got %+v", n)
		}
	}
	sameMails(t, hook, mail)
}

func TestErrorsAboveTheThresholdFireOnceAndClearWhenTheWindowPasses(t *testing.T) {
	hook, mail := newHookReceiver(t), newSMTPReceiver(t)
	r := startRig(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:8090" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    transform: ['error("refused by the test")']
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: adt }
    transform: ['error("refused by the test")']
alerts:
  - name: errors
    when: { errors: { more_than: 3, within: 10m } }
    notify: `+notifyBoth(hook, mail)+`
  - name: errors-each
    when: { errors: { per_channel: true, more_than: 2, within: 10m } }
    notify: `+notifyBoth(hook, mail)+`
`+smtpBlock(mail))
	for range 2 {
		r.send("lab", adtMsg)
		r.send("adt", adtMsg)
	}
	now := time.Now()
	r.eval(now)
	r.eval(now.Add(time.Minute))
	got := hook.notices()
	if len(got) != 1 || got[0].Alert != "errors" || got[0].State != "firing" || got[0].Channel != "" || !strings.Contains(got[0].Detail, "4 messages in ERROR") ||
		!strings.HasPrefix(got[0].URL, "http://127.0.0.1:8090/messages?since=") || !strings.Contains(got[0].URL, "status=ERROR") {
		t.Fatalf("want one notice of 4 errors in all channels (2 in each: none above 2), linking to the ERROR messages, got %+v", got)
	}
	r.send("lab", adtMsg)
	now = time.Now()
	r.eval(now)
	r.eval(now.Add(time.Minute))
	got = hook.notices()
	if len(got) != 2 || got[1].Alert != "errors-each" || got[1].Channel != "lab" || !strings.Contains(got[1].Detail, "3 messages in ERROR") ||
		!strings.Contains(got[1].URL, "channel=lab") {
		t.Fatalf("want one notice of lab's 3 errors, got %+v", got)
	}
	r.eval(now.Add(11 * time.Minute)) // the errors are older than the window now
	r.eval(now.Add(12 * time.Minute))
	got = hook.notices()
	if len(got) != 4 || got[2].State != "resolved" || got[3].State != "resolved" || !strings.Contains(got[2].Detail, "0 messages in ERROR") {
		t.Fatalf("want two resolved notices, got %+v", got)
	}
	sameMails(t, hook, mail)
}

func TestASilentSourceFiresOnlyAfterItsSilenceWithinItsHours(t *testing.T) {
	hook, mail := newHookReceiver(t), newSMTPReceiver(t)
	r := startRig(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
alerts:
  - name: lab-silent
    when: { source_silent: { channel: lab, for: 30m, hours: "07:00-19:00", days: mon-fri, time_zone: Europe/London } }
    notify: `+notifyBoth(hook, mail)+`
`+smtpBlock(mail))
	london, _ := time.LoadLocation("Europe/London")
	at := func(day, clock string) time.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", day+" "+clock, london)
		return tm
	}
	receive := func(t0 time.Time) {
		if _, err := r.store.Accept(context.Background(), &engine.NewMessage{Channel: "lab", ReceivedAt: t0, Status: engine.StatusFiltered,
			DataType: "Hl7v2", Raw: []byte(adtMsg)}); err != nil {
			t.Fatal(err)
		}
	}
	receive(at("2030-01-04", "18:50")) // a Friday, ten minutes before the hours end
	for _, now := range []time.Time{at("2030-01-04", "19:10"), at("2030-01-05", "12:00"), at("2030-01-07", "07:15")} {
		r.eval(now)
		if got := hook.notices(); len(got) != 0 {
			t.Fatalf("fired at %s after 10-25 minutes of silence within the hours: %+v", now, got)
		}
	}
	r.eval(at("2030-01-07", "07:25")) // 10 minutes on Friday and 25 on Monday
	r.eval(at("2030-01-07", "07:26"))
	got := hook.notices()
	if len(got) != 1 || got[0].State != "firing" || !got[0].Since.Equal(at("2030-01-04", "18:50")) || !strings.Contains(got[0].Detail, "07:00-19:00 mon-fri Europe/London") {
		t.Fatalf("want one notice of the silence since Friday 18:50, got %+v", got)
	}
	receive(at("2030-01-07", "07:30"))
	r.eval(at("2030-01-07", "07:31")) // clears after two evaluation intervals without silence
	if got := hook.notices(); len(got) != 1 {
		t.Fatalf("resolved at the first evaluation after a message came: %+v", got)
	}
	r.eval(at("2030-01-07", "07:32"))
	if got := hook.notices(); len(got) != 2 || got[1].State != "resolved" {
		t.Fatalf("want one resolved notice once a message came, got %+v", got)
	}
	sameMails(t, hook, mail)
}
