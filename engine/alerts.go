package engine

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Alerts are declared at the top of routes.yaml (docs/alerts.md):
//
//	alerts:
//	  - name: lab-down
//	    when: { destination_failing: { channel: lab, destination: lis, for: 5m } }
//	    notify: [ { webhook: { url: "${ALERT_HOOK}" } }, { email: { to: [oncall@example.org] } } ]
//	    renotify: 1h
//	smtp: { host: smtp.example.org, port: 587, username: junction, password: "${SMTP_PASSWORD}", from: junction@example.org }
//
// The engine only reads and checks them; package alerts evaluates them and notifies.

// The conditions an alert may watch (the key under when:).
const (
	CondDestinationFailing = "destination_failing"
	CondQueue              = "queue"
	CondErrors             = "errors"
	CondChannelStopped     = "channel_stopped"
	CondSourceSilent       = "source_silent"
)

// AlertsConfig is every alert of the configuration and how they notify.
type AlertsConfig struct {
	Alerts []*Alert
	SMTP   *SMTPConfig // nil when routes.yaml has no smtp block
}

// Alert is one alert: a condition and who hears of it.
type Alert struct {
	Name     string
	Line     int
	When     AlertCondition
	Notify   []Notification
	Renotify time.Duration // remind at most this often while active; 0: never remind
}

// AlertCondition is what an alert watches. Channel and Destination narrow it; empty
// means every channel (destination) it applies to, each watched on its own, except for
// CondErrors, where no channel means all channels counted together.
type AlertCondition struct {
	Kind        string
	Channel     string
	Destination string
	For         time.Duration // the condition must hold this long (failing, stopped, silent)
	OlderThan   time.Duration // CondQueue: the oldest queued message is older than this
	DeeperThan  int64         // CondQueue: more than this many messages queued
	MoreThan    int           // CondErrors: more than this many ERROR messages …
	Within      time.Duration // … received within this window
	PerChannel  bool          // CondErrors without Channel: each channel counted on its own
	Hours       *ActiveHours  // CondSourceSilent: when the source should be receiving
}

// Describe is the condition in words, for notifications and the dashboard.
func (c AlertCondition) Describe() string {
	where := c.Channel
	if where == "" {
		where = "any channel"
	}
	if c.Destination != "" {
		where += " → " + c.Destination
	}
	switch c.Kind {
	case CondDestinationFailing:
		return fmt.Sprintf("destination failing for %s (%s)", ShortDuration(c.For), where)
	case CondQueue:
		var parts []string
		if c.OlderThan > 0 {
			parts = append(parts, "oldest queued older than "+ShortDuration(c.OlderThan))
		}
		if c.DeeperThan > 0 {
			parts = append(parts, fmt.Sprintf("more than %d queued", c.DeeperThan))
		}
		return fmt.Sprintf("queue %s (%s)", strings.Join(parts, " or "), where)
	case CondErrors:
		if c.Channel == "" {
			where = "all channels"
			if c.PerChannel {
				where = "each channel"
			}
		}
		return fmt.Sprintf("more than %d messages in ERROR within %s (%s)", c.MoreThan, ShortDuration(c.Within), where)
	case CondChannelStopped:
		return fmt.Sprintf("channel stopped for %s (%s)", ShortDuration(c.For), where)
	case CondSourceSilent:
		s := fmt.Sprintf("source received nothing for %s (%s)", ShortDuration(c.For), where)
		if c.Hours != nil {
			s += " during " + c.Hours.String()
		}
		return s
	}
	return c.Kind
}

// Link is the UI's filtered message list for one subject of the condition (a path and
// query, to be put after the UI's base URL): a destination's queued messages, a channel's
// ERROR messages of the window, a channel's messages or page.
func (c AlertCondition) Link(channel, destination string, now time.Time) string {
	q := url.Values{}
	switch c.Kind {
	case CondDestinationFailing, CondQueue:
		q.Set("channel", channel)
		q.Set("destination", destination)
		q.Set("destination_status", string(StatusQueued))
	case CondErrors:
		q.Set("status", string(StatusError))
		q.Set("since", now.Add(-c.Within).UTC().Format(time.RFC3339))
		if channel != "" {
			q.Set("channel", channel)
		}
	case CondChannelStopped:
		return "/channels/" + url.PathEscape(channel)
	default:
		q.Set("channel", channel)
	}
	return "/messages?" + q.Encode()
}

// ShortDuration writes d as routes.yaml would: 5m, 1h30m, 45s (not 5m0s).
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Notification is one way an alert is told: exactly one of Webhook and Email is set.
type Notification struct {
	Webhook *WebhookNotify
	Email   *EmailNotify
}

// WebhookNotify POSTs a JSON document about the alert to URL.
type WebhookNotify struct {
	URL      string
	Headers  map[string]string
	Timeout  time.Duration
	Attempts int // attempts in all before the notification is given up
}

// EmailNotify mails the alert through the smtp block's server.
type EmailNotify struct {
	To, Cc []string
}

// SMTPConfig is the mail server alerts are sent through (top-level smtp:).
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	StartTLS bool   // upgrade with STARTTLS and refuse to go on without it
	CAFile   string // PEM CAs trusted for the server's certificate; "" for the system's
	Timeout  time.Duration
}

// AdminBaseURL is the UI's external base URL for links in notifications: admin.url, or
// else http:// and admin.listen (a wildcard host replaced by host).
func (e *Engine) AdminBaseURL(host string) string {
	if e.Admin.URL != "" {
		return strings.TrimRight(e.Admin.URL, "/")
	}
	h, port, err := net.SplitHostPort(e.Admin.Listen)
	if err != nil {
		return "http://" + e.Admin.Listen
	}
	if h == "" || h == "0.0.0.0" || h == "::" {
		h = host
	}
	return "http://" + net.JoinHostPort(h, port)
}

// adminURL reads admin.url: the UI's address as people reach it (behind a proxy, say).
func adminURL(admin *Node) string {
	v := admin.String("url", false, "")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		admin.ErrorAt(admin.Raw("url"), "admin.url", "expected the UI's base URL such as https://junction.example.org, got %q", v)
		return ""
	}
	return v
}

// buildAlerts reads the top-level alerts and smtp blocks into the configuration being
// built, once its channels are: every channel and destination an alert names must exist.
func buildAlerts(root *Node, e *Engine) {
	cfg := &e.conf().alerts
	cfg.SMTP = buildSMTP(root)
	items, path := root.List("alerts", false)
	path = strings.TrimPrefix(path, ".")
	seen := map[string]int{}
	email := false
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		n := root.Sub(item, p)
		if n == nil {
			continue
		}
		n.WithSpec(AlertFields)
		a := &Alert{Line: n.Line()}
		a.Name = n.Str("name")
		if a.Name != "" && !namePattern.MatchString(a.Name) {
			n.ErrorAt(n.Raw("name"), p+".name", "alert names use letters, digits, '-', '_' and '.', got %q", a.Name)
		}
		if prev, dup := seen[a.Name]; dup && a.Name != "" {
			n.ErrorAt(n.Raw("name"), p+".name", "alert name %q is already used at line %d", a.Name, prev)
		}
		seen[a.Name] = a.Line
		a.When = buildCondition(n, e)
		a.Renotify = n.Dur("renotify")
		a.Notify = buildNotifications(n)
		for _, nt := range a.Notify {
			email = email || nt.Email != nil
		}
		n.CheckUnknown()
		if a.Name != "" && a.When.Kind != "" && len(a.Notify) > 0 {
			cfg.Alerts = append(cfg.Alerts, a)
		}
	}
	if email && cfg.SMTP == nil {
		root.ErrorAt(root.Raw("alerts"), "alerts", "an alert notifies by email but there is no smtp block (smtp: { host: …, from: … })")
	}
}

func buildSMTP(root *Node) *SMTPConfig {
	m := root.Map("smtp", false)
	if m == nil {
		return nil
	}
	m.Path = "smtp"
	m.spec = &nodeSpec{fields: TopFields, prefix: "smtp."}
	c := &SMTPConfig{
		Host:     m.Str("host"),
		Port:     m.Num("port", 1),
		Username: m.Str("username"),
		Password: m.SecretStr("password"),
		From:     m.Str("from"),
		StartTLS: m.Flag("starttls"),
		CAFile:   m.Str("ca_file"),
		Timeout:  m.Dur("timeout"),
	}
	if c.Port > 65535 {
		m.ErrorAt(m.Raw("port"), "smtp.port", "port must be a number from 1 to 65535, got %d", c.Port)
	}
	if c.Port == 465 {
		m.ErrorAt(m.Raw("port"), "smtp.port", "port 465 (implicit TLS, SMTPS) is not supported: use the submission port 587 with starttls: true")
	}
	if c.Timeout == 0 && m.Has("timeout") {
		m.ErrorAt(m.Raw("timeout"), "smtp.timeout", "expected a duration above zero such as 30s, got 0")
	}
	if c.Username != "" && !c.StartTLS && !plainAuthHost(c.Host) {
		m.ErrorAt(m.Raw("starttls"), "smtp.starttls", "AUTH PLAIN (username) is only sent over TLS, or to localhost, so %s could never be reached with starttls: false: set starttls: true, or remove username and password", c.Host)
	}
	if c.From != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			m.ErrorAt(m.Raw("from"), "smtp.from", "expected a mail address such as junction@example.org, got %q", c.From)
		}
	}
	if (c.Username == "") != (c.Password == "") {
		m.Errorf("username and password go together (AUTH PLAIN): give both or neither")
	}
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(filepath.Dir(root.File), c.CAFile)
	}
	m.CheckUnknown()
	return c
}

// plainAuthHost reports whether Go's net/smtp sends AUTH PLAIN to host without TLS: only
// to the names it takes for this machine (net/smtp's isLocalhost).
func plainAuthHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func buildNotifications(n *Node) []Notification {
	items, path := n.List("notify", true)
	if n.Has("notify") && len(items) == 0 {
		n.ErrorAt(n.Raw("notify"), path, "expected at least one notification (webhook or email)")
	}
	var out []Notification
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", strings.TrimPrefix(path, "."), i)
		m := n.Sub(item, p)
		if m == nil {
			continue
		}
		m.WithSpec(NotifyFields)
		var nt Notification
		kinds := 0
		if w := m.Block("webhook"); w != nil {
			kinds++
			nt.Webhook = &WebhookNotify{URL: w.Str("url"), Headers: w.SecretMap("headers"), Timeout: w.Dur("timeout"), Attempts: w.Num("attempts", 1)}
			if u, err := url.Parse(nt.Webhook.URL); nt.Webhook.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				w.ErrorAt(w.Raw("url"), w.Path+".url", "expected an http:// or https:// URL, got %q", nt.Webhook.URL)
			}
			if nt.Webhook.Timeout == 0 && w.Has("timeout") {
				w.ErrorAt(w.Raw("timeout"), w.Path+".timeout", "expected a duration above zero such as 10s, got 0")
			}
			w.CheckUnknown()
		}
		if em := m.Block("email"); em != nil {
			kinds++
			nt.Email = &EmailNotify{To: em.Strs("to"), Cc: em.Strs("cc")}
			for _, k := range []string{"to", "cc"} {
				for _, a := range em.Strings(k, false) {
					if _, err := mail.ParseAddress(a); err != nil {
						em.ErrorAt(em.Raw(k), em.Path+"."+k, "expected mail addresses such as oncall@example.org, got %q", a)
					}
				}
			}
			em.CheckUnknown()
		}
		m.CheckUnknown()
		if kinds != 1 {
			if kinds > 1 || len(m.Y.Content) == 0 { // else an unknown key was reported
				m.Errorf("expected one of webhook or email in each notification, got %d", kinds)
			}
			continue
		}
		out = append(out, nt)
	}
	return out
}
