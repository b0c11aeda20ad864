package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// httpChannel is a routes.yaml channel on {{INGEST}} taking HL7v2 for domain and sending
// it to url with the given retry block (may be empty).
func httpChannel(name, domain, url, retry string) string {
	s := fmt.Sprintf(`  - name: %s
    source:
      type: ingest
      listen: {{INGEST}}
      domain: %s
      ack: { application: DEX, facility: QVV }
    destinations:
      - name: downstream
        type: http
        url: %s
`, name, domain, url)
	if retry != "" {
		s += "        retry: " + retry + "\n"
	}
	return s
}

func routesWith(channels ...string) string {
	return "admin:\n  listen: {{ADMIN}}\nstore:\n  path: {{DIR}}/junction.db\nchannels:\n" + strings.Join(channels, "")
}

// Story 5: an HTTP destination retries what can succeed later, gives up at once on what
// cannot, and stops after the configured number of attempts.
func TestHTTPDestinationRetries(t *testing.T) {
	t.Parallel()
	flaky := newReceiver(t, func(n int, _ string) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	reject := newReceiver(t, func(int, string) int { return http.StatusBadRequest })
	down := newReceiver(t, func(int, string) int { return http.StatusServiceUnavailable })
	j := startJunction(t, routesWith(
		httpChannel("flaky", "flaky", flaky.URL, "{ backoff: 50ms }"),
		httpChannel("reject", "reject", reject.URL, "{ backoff: 50ms }"),
		httpChannel("down", "down", down.URL, "{ attempts: 3, backoff: 50ms }"),
	), nil)

	t.Run("503 three times then 200", func(t *testing.T) {
		t.Parallel()
		msg := adt("E2E-FLAKY-1", "Smith")
		r := postHL7(t, j.IngestURL(), "flaky", msg)
		if r.Status != http.StatusOK || parseACK(t, r.Body).Code() != "AA" {
			t.Fatalf("status %d body %q, want 200 AA", r.Status, r.Body)
		}
		m := j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		d := m.Destination("downstream")
		if d == nil || d.Status != "SENT" || d.Attempts != 4 {
			t.Fatalf("downstream = %+v, want SENT after 4 attempts", d)
		}
		got := flaky.Got()
		if len(got) != 4 {
			t.Errorf("receiver got %d requests, want 4", len(got))
		}
		for _, g := range got {
			if g.Body != msg || g.Method != http.MethodPost {
				t.Errorf("request %d: %s %q, want POST of the message as posted", g.N, g.Method, g.Body)
			}
		}
		if d.Response == nil || !strings.Contains(*d.Response, "200 OK") || !strings.Contains(*d.Response, "receiver answered 200 to request 4") {
			t.Errorf("response stage %s: want the receiver's 200 answer", strp(d.Response))
		}
		if d.Sent == nil || !strings.Contains(*d.Sent, "POST "+flaky.URL) || !strings.HasSuffix(*d.Sent, msg) {
			t.Errorf("sent stage %s: want the request line and the message", strp(d.Sent))
		}
	})

	t.Run("400 is an error at once", func(t *testing.T) {
		t.Parallel()
		r := postHL7(t, j.IngestURL(), "reject", adt("E2E-REJECT-1", "Smith"))
		if r.Status != http.StatusOK {
			t.Fatalf("status %d, want 200 (the message was accepted)", r.Status)
		}
		m := j.WaitMessage(t, r.MessageID(), "ERROR", func(m APIMessage) bool { return m.Status == "ERROR" })
		d := m.Destination("downstream")
		if d == nil || d.Status != "ERROR" || d.Attempts != 1 {
			t.Fatalf("downstream = %+v, want ERROR after 1 attempt", d)
		}
		if !strings.Contains(d.LastError, "400") {
			t.Errorf("last_error %q does not mention the 400", d.LastError)
		}
		if n := len(reject.Got()); n != 1 {
			t.Errorf("receiver got %d requests, want 1", n)
		}
		if d.Response == nil || !strings.Contains(*d.Response, "400 Bad Request") {
			t.Errorf("response stage %s: want the 400 answer", strp(d.Response))
		}
	})

	t.Run("always 503 with attempts 3", func(t *testing.T) {
		t.Parallel()
		r := postHL7(t, j.IngestURL(), "down", adt("E2E-DOWN-1", "Smith"))
		if r.Status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.Status)
		}
		m := j.WaitMessage(t, r.MessageID(), "ERROR", func(m APIMessage) bool { return m.Status == "ERROR" })
		d := m.Destination("downstream")
		if d == nil || d.Status != "ERROR" || d.Attempts != 3 {
			t.Fatalf("downstream = %+v, want ERROR after 3 attempts", d)
		}
		if !strings.Contains(d.LastError, "gave up after 3 attempts") || !strings.Contains(d.LastError, "503") {
			t.Errorf("last_error %q: want it to say it gave up after 3 attempts of 503", d.LastError)
		}
		if n := len(down.Got()); n != 3 {
			t.Errorf("receiver got %d requests, want 3", n)
		}
	})
}

// Story 6: messages reach an HTTP destination in the order they were accepted, also when
// the receiver fails now and then.
func TestHTTPDestinationOrder(t *testing.T) {
	t.Parallel()
	steady := newReceiver(t, nil)
	bumpy := newReceiver(t, func(n int, _ string) int {
		if n%7 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	j := startJunction(t, routesWith(
		httpChannel("steady", "steady", steady.URL, "{ backoff: 20ms }"),
		httpChannel("bumpy", "bumpy", bumpy.URL, "{ backoff: 20ms }"),
	), nil)

	const n = 50
	for _, c := range []struct {
		domain string
		recv   *Receiver
	}{{"steady", steady}, {"bumpy", bumpy}} {
		t.Run(c.domain, func(t *testing.T) {
			t.Parallel()
			var sent []string
			for i := range n {
				cid := fmt.Sprintf("E2E-%s-%03d", strings.ToUpper(c.domain), i)
				r, err := send(http.MethodPost, j.IngestURL(), ingestHeaders(c.domain, "r0d", "Hl7v2"), adt(cid, "Smith"))
				if err != nil || r.Status != http.StatusOK {
					t.Fatalf("message %d: %v status %d body %q", i, err, r.Status, r.Body)
				}
				sent = append(sent, cid)
			}
			waitFor(t, waitDefault, fmt.Sprintf("%d messages at the %s receiver", n, c.domain), func() (bool, string) {
				got := c.recv.Accepted()
				return len(got) >= n, fmt.Sprintf("%d accepted", len(got))
			})
			if got := c.recv.Accepted(); strings.Join(got, ",") != strings.Join(sent, ",") {
				t.Errorf("received out of order or with gaps/duplicates:\n got %v\nwant %v", got, sent)
			}
			// A failed request is retried before anything else is sent.
			all := c.recv.Got()
			for i, g := range all {
				if g.Status != http.StatusOK && (i+1 >= len(all) || all[i+1].ControlID != g.ControlID) {
					t.Errorf("request %d (%s) failed and the next request was not its retry", g.N, g.ControlID)
				}
			}
			ms := j.AllMessages(t, "channel="+c.domain)
			if len(ms) != n {
				t.Errorf("API lists %d messages in %s, want %d", len(ms), c.domain, n)
			}
			for _, m := range ms {
				if m.Status != "SENT" {
					waitFor(t, waitDefault, "message "+m.ControlID+" SENT", func() (bool, string) {
						s := j.Message(t, m.ID).Status
						return s == "SENT", s
					})
				}
			}
		})
	}
}
