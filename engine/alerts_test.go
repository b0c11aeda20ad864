package engine_test

import (
	"strings"
	"testing"
	"time"

	"junction/engine"
)

const alertChannels = `admin: { listen: "127.0.0.1:0", url: "https://junction.example.org/" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - { name: lis, type: file, dir: out }
  - name: adt
    enabled: false
    source: { type: ingest, listen: "127.0.0.1:0", domain: adt }
`

func TestAnAlertsBlockLoadsWithItsDefaults(t *testing.T) {
	eng, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+`alerts:
  - name: lab-down
    when: { destination_failing: { channel: lab, destination: lis } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook", headers: { Authorization: Bearer x } } }, { email: { to: [oncall@example.org] } } ]
  - name: lab-silent
    when: { source_silent: { channel: lab, for: 30m, hours: "07:00-19:00", days: mon-fri, time_zone: Europe/London } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" } } ]
    renotify: 0s
smtp: { host: smtp.example.org, username: junction, password: secret, from: junction@example.org }
`))
	if err != nil {
		t.Fatal(err)
	}
	as := eng.Alerts().Alerts
	if len(as) != 2 {
		t.Fatalf("got %d alerts, want 2", len(as))
	}
	down := as[0]
	if down.When.Kind != engine.CondDestinationFailing || down.When.For != 5*time.Minute || down.Renotify != time.Hour {
		t.Errorf("lab-down: condition %+v, renotify %s; want destination_failing for 5m, renotify 1h (the defaults)", down.When, down.Renotify)
	}
	if d := down.When.Describe(); d != "destination failing for 5m (lab → lis)" {
		t.Errorf("lab-down is described as %q", d)
	}
	if d := as[1].When.Describe(); d != "source received nothing for 30m (lab) during 07:00-19:00 mon-fri Europe/London" {
		t.Errorf("lab-silent is described as %q", d)
	}
	if w := down.Notify[0].Webhook; w == nil || w.Attempts != 5 || w.Timeout != 10*time.Second || w.Headers["Authorization"] != "Bearer x" {
		t.Errorf("webhook: %+v", w)
	}
	if s := eng.Alerts().SMTP; s == nil || s.Port != 587 || !s.StartTLS || s.Timeout != 30*time.Second {
		t.Errorf("smtp: %+v, want port 587, starttls and a 30s timeout by default", s)
	}
	if as[1].Renotify != 0 || as[1].When.Hours == nil || as[1].When.Hours.String() != "07:00-19:00 mon-fri Europe/London" {
		t.Errorf("lab-silent: renotify %s, hours %v", as[1].Renotify, as[1].When.Hours)
	}
	if got := eng.AdminBaseURL("host"); got != "https://junction.example.org" {
		t.Errorf("the links' base is %q, want admin.url without its trailing slash", got)
	}
}

func TestEveryAlertMistakeIsReportedAtItsLine(t *testing.T) {
	_, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+`alerts:
  - name: a
    when: { destination_failing: { channel: labb } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" } } ]
  - name: b
    when: { queue: { channel: lab, destination: archive, older_than: 10m } }
    notify: [ { webhook: { url: "ftp://example.org" } } ]
  - name: c
    when: { errors: { more_than: 3 }, channel_stopped: {} }
    notify: [ { email: { to: [not-an-address] } } ]
  - name: d
    when: { source_silent: { channel: lab, for: 30m, hours: "7-19", days: weekdays } }
    notify: []
  - name: e
    when: { source_silent: { channel: adt, for: 1h }, sometimes: {} }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" }, email: { to: [x@example.org] } } ]
  - name: a
    when: { queue: { channel: lab } }
    notify: [ { pager: {} } ]
  - name: f
    when: { errors: { channel: lab, per_channel: true } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" } } ]
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`routes.yaml:12: alerts[0].when.destination_failing.channel: no channel is named "labb" (channels: lab, adt)`,
		`routes.yaml:15: alerts[1].when.queue.destination: no destination of channel lab is named "archive" (destinations: lis)`,
		`routes.yaml:16: alerts[1].notify[0].webhook.url: expected an http:// or https:// URL, got "ftp://example.org"`,
		`routes.yaml:18: alerts[2].when: expected exactly one condition`,
		`routes.yaml:19: alerts[2].notify[0].email.to: expected mail addresses such as oncall@example.org, got "not-an-address"`,
		`routes.yaml:21: alerts[3].when.source_silent.hours: expected a time range such as 07:00-19:00`,
		`routes.yaml:21: alerts[3].when.source_silent.days: expected days such as mon-fri`,
		`routes.yaml:22: alerts[3].notify: expected at least one notification`,
		`routes.yaml:24: alerts[4].when.source_silent.channel: channel adt is disabled`,
		`routes.yaml:24: alerts[4].when: unknown key "sometimes"`,
		`routes.yaml:25: alerts[4].notify[0]: expected one of webhook or email in each notification, got 2`,
		`routes.yaml:26: alerts[5].name: alert name "a" is already used at line 11`,
		`routes.yaml:27: alerts[5].when.queue: expected older_than (a duration), deeper_than (a number of messages) or both`,
		`routes.yaml:28: alerts[5].notify[0]: unknown key "pager"`,
		`routes.yaml:30: alerts[6].when.errors.per_channel: counts each channel on its own: leave channel out, or per_channel`,
		`routes.yaml:11: alerts: an alert notifies by email but there is no smtp block`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestSMTPMistakesAreReportedAtTheirLines(t *testing.T) {
	_, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+`smtp:
  port: 70000
  from: junction
  username: u
  tsl: true
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`routes.yaml:11: smtp: missing required key "host"`,
		`routes.yaml:11: smtp.port: port must be a number from 1 to 65535, got 70000`,
		`routes.yaml:12: smtp.from: expected a mail address such as junction@example.org, got "junction"`,
		`routes.yaml:11: smtp: username and password go together`,
		`routes.yaml:14: smtp: unknown key "tsl"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestSilenceCountsOnlyTheHoursASourceShouldReceive(t *testing.T) {
	eng, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+`alerts:
  - name: s
    when: { source_silent: { channel: lab, for: 30m, hours: "07:00-19:00", days: mon-fri, time_zone: Europe/London } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" } } ]
  - name: night
    when: { source_silent: { channel: lab, for: 1h, hours: "22:00-06:00", days: "fri-mon" } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook" } } ]
`))
	if err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	at := func(day, clock string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", day+" "+clock, london)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	h := eng.Alerts().Alerts[0].When.Hours
	lastFri := at("2030-01-04", "18:50") // a Friday
	for _, c := range []struct {
		now  time.Time
		want time.Duration
	}{
		{at("2030-01-04", "19:10"), 10 * time.Minute},
		{at("2030-01-05", "12:00"), 10 * time.Minute}, // Saturday: not counted
		{at("2030-01-07", "06:59"), 10 * time.Minute}, // Monday, before 07:00
		{at("2030-01-07", "07:25"), 35 * time.Minute},
	} {
		if got := h.Overlap(lastFri, c.now, 24*time.Hour); got != c.want {
			t.Errorf("silent from %s to %s: %s within the hours, want %s", lastFri, c.now, got, c.want)
		}
	}
	if !h.Contains(at("2030-01-07", "07:00")) || h.Contains(at("2030-01-07", "19:00")) || h.Contains(at("2030-01-05", "12:00")) {
		t.Error("Contains disagrees with 07:00-19:00 mon-fri")
	}
	night := eng.Alerts().Alerts[1].When.Hours
	night.Loc = london
	// Monday 22:00 to Tuesday 06:00 counts (the window opens on Monday); Tuesday night does not.
	if got := night.Overlap(at("2030-01-07", "21:00"), at("2030-01-08", "23:00"), 48*time.Hour); got != 8*time.Hour {
		t.Errorf("overnight window: %s, want 8h", got)
	}
}

func TestAlertLinksUseTheListenAddressWhenAdminURLIsNotSet(t *testing.T) {
	for _, c := range []struct{ listen, want string }{
		{"0.0.0.0:8090", "http://junction-1:8090"},
		{":8090", "http://junction-1:8090"},
		{"10.1.2.3:8090", "http://10.1.2.3:8090"},
		{"[::1]:8090", "http://[::1]:8090"},
	} {
		eng, err := engine.LoadBytes("routes.yaml", []byte(strings.Replace(alertChannels, `listen: "127.0.0.1:0", url: "https://junction.example.org/"`, `listen: "`+c.listen+`"`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got := eng.AdminBaseURL("junction-1"); got != c.want {
			t.Errorf("admin.listen %s: links start with %q, want %q", c.listen, got, c.want)
		}
	}
}

func TestAnSMTPSetupThatCouldNeverSendIsRefusedAtItsLine(t *testing.T) {
	_, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+`smtp:
  host: relay.example.org
  port: 465
  username: junction
  password: secret
  from: junction@example.org
  starttls: false
  timeout: 0s
alerts:
  - name: a
    when: { destination_failing: { channel: lab, destination: lis } }
    notify: [ { webhook: { url: "http://127.0.0.1:9/hook", timeout: 0 } } ]
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`routes.yaml:12: smtp.port: port 465 (implicit TLS, SMTPS) is not supported: use the submission port 587 with starttls: true`,
		`routes.yaml:16: smtp.starttls: AUTH PLAIN (username) is only sent over TLS, or to localhost, so relay.example.org could never be reached with starttls: false: set starttls: true, or remove username and password`,
		`routes.yaml:17: smtp.timeout: expected a duration above zero such as 30s, got 0`,
		`routes.yaml:21: alerts[0].notify[0].webhook.timeout: expected a duration above zero such as 10s, got 0`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestAPlainRelayOnLocalhostOrWithoutAUTHStillLoads(t *testing.T) {
	for _, smtp := range []string{
		`{ host: localhost, port: 25, username: u, password: p, from: junction@example.org, starttls: false }`,
		`{ host: 127.0.0.1, port: 25, username: u, password: p, from: junction@example.org, starttls: false }`,
		`{ host: relay.internal, port: 25, from: junction@example.org, starttls: false }`,
	} {
		if _, err := engine.LoadBytes("routes.yaml", []byte(alertChannels+"smtp: "+smtp+"\n")); err != nil {
			t.Errorf("smtp: %s was refused: %v", smtp, err)
		}
	}
}
