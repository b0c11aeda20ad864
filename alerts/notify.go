package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"junction/engine"
)

// The states a notification tells of.
const (
	stateFiring   = "firing"
	stateReminder = "firing again" // a reminder: still active after renotify
	stateResolved = "resolved"
)

// Notice is what a notification says: a webhook POSTs it as JSON, an e-mail writes it
// out.
type Notice struct {
	Alert string `json:"alert"`
	// State is firing or resolved; Reminder marks a firing alert notified again after
	// renotify.
	State       string     `json:"state"`
	Reminder    bool       `json:"reminder,omitempty"`
	Condition   string     `json:"condition"`   // destination_failing, queue, errors, channel_stopped, source_silent
	Description string     `json:"description"` // the condition in words
	Channel     string     `json:"channel,omitempty"`
	Destination string     `json:"destination,omitempty"`
	Since       time.Time  `json:"since"` // when the condition began
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	Detail      string     `json:"detail"`
	URL         string     `json:"url"` // the UI's filtered message list
	Node        string     `json:"node"`
	At          time.Time  `json:"at"`
	// Text is the notice in one line (the e-mail subject, the detail and the link), which
	// chat webhooks (Slack, Mattermost, Rocket.Chat) show as the message.
	Text string `json:"text"`
}

// notify queues a notice of a's state to each of its notifications.
func (r *Runner) notify(a *engine.Alert, st engine.AlertState, fd finding, state string, now time.Time) {
	n := Notice{Alert: a.Name, State: state, Condition: a.When.Kind, Description: a.When.Describe(),
		Channel: st.Channel, Destination: st.Destination, Since: st.Since.UTC(), Detail: st.Detail,
		URL: r.baseURL + fd.link, Node: r.eng.Node, At: now.UTC()}
	if state == stateReminder {
		n.State, n.Reminder = stateFiring, true
	}
	if state == stateResolved {
		at := now.UTC()
		n.ResolvedAt = &at
		n.Detail = fd.detail
		if n.Detail == "" {
			n.Detail = "the condition no longer holds (when it fired: " + st.Detail + ")"
		}
	}
	n.Text = Subject(n) + ": " + n.Detail + " " + n.URL
	for _, nt := range r.notifiers[a] {
		nt.enqueue(n)
	}
}

// notifier sends one notification's notices in order, each retried with backoff.
type notifier struct {
	r        *Runner
	what     string // for logs: "webhook URL" or "email to …"
	send     func(ctx context.Context, n Notice) error
	attempts int
	queue    chan Notice
}

// RetryBackoff is the wait after a notification's first failed attempt; it doubles up
// to a minute.
var RetryBackoff = time.Second

func newNotifier(r *Runner, nt engine.Notification) *notifier {
	x := &notifier{r: r, attempts: 5, queue: make(chan Notice, 256)}
	switch {
	case nt.Webhook != nil:
		w := nt.Webhook
		x.what, x.attempts = "webhook "+w.URL, max(w.Attempts, 1)
		client := &http.Client{Timeout: w.Timeout}
		x.send = func(ctx context.Context, n Notice) error { return postWebhook(ctx, client, w, n) }
	case nt.Email != nil:
		em, cfg := nt.Email, r.cfg.SMTP
		x.what = fmt.Sprintf("email to %v", em.To)
		x.send = func(ctx context.Context, n Notice) error { return sendEmail(ctx, cfg, em, n) }
	}
	r.running.Add(1)
	go x.run()
	return x
}

// enqueue hands n to the notifier; a full queue (a receiver down for long) drops it,
// logged, rather than holding the evaluation up.
func (x *notifier) enqueue(n Notice) {
	select {
	case <-x.r.quit:
		x.r.log.Error("alert notification not sent: stopping", "to", x.what, "alert", n.Alert, "state", n.State)
		return
	default:
	}
	x.r.sends.Add(1)
	select {
	case x.queue <- n:
	default:
		x.r.sends.Done()
		x.r.log.Error("alert notification dropped: too many waiting", "to", x.what, "alert", n.Alert, "state", n.State)
	}
}

// run sends the queued notices, once the runner before (a reload's) is done sending,
// until the runner is closed: what is left then is dropped (logged).
func (x *notifier) run() {
	defer x.r.running.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-x.r.quit; cancel() }()
	if x.r.after != nil {
		select {
		case <-x.r.after:
		case <-x.r.quit:
			x.drop()
			return
		}
	}
	for {
		select {
		case <-x.r.quit:
			x.drop()
			return
		case n := <-x.queue:
			x.deliver(ctx, n)
			x.r.sends.Done()
		}
	}
}

// drop empties the queue of a closed runner, logging each notice not sent.
func (x *notifier) drop() {
	for {
		select {
		case n := <-x.queue:
			x.r.log.Error("alert notification not sent: stopping", "to", x.what, "alert", n.Alert, "state", n.State)
			x.r.sends.Done()
		default:
			return
		}
	}
}

// deliver sends n, retrying with backoff up to attempts times.
func (x *notifier) deliver(ctx context.Context, n Notice) {
	wait := RetryBackoff
	for i := 1; ; i++ {
		err := x.send(ctx, n)
		if err == nil {
			x.r.log.Info("alert notification sent", "to", x.what, "alert", n.Alert, "state", n.State)
			return
		}
		if i >= x.attempts || ctx.Err() != nil {
			x.r.log.Error("alert notification failed: given up", "to", x.what, "alert", n.Alert, "state", n.State, "attempts", i, "err", err)
			return
		}
		x.r.log.Warn("alert notification failed: retrying", "to", x.what, "alert", n.Alert, "attempt", i, "in", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// postWebhook POSTs n as JSON; any 2xx answer is success.
func postWebhook(ctx context.Context, client *http.Client, w *engine.WebhookNotify, n Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "junction-alerts")
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", w.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
