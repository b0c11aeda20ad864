package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/auth"
	"junction/engine"
)

// reloadRoutes: an $ingest channel and an MLLP channel, each stamping PID-5.1 with stamp
// and writing to a file; http, when set, adds an HTTP destination to the $ingest channel.
func reloadRoutes(stamp, ingestListen, http string) string {
	extra := ""
	if http != "" {
		extra = fmt.Sprintf("\n      - { name: lis, type: http, url: %q, retry: { backoff: 20ms, max_backoff: 50ms } }", http)
	}
	return fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: adt
    source: { type: ingest, listen: %[2]s, domain: emergency-care, data_types: [Hl7v2] }
    transform:
      - 'set("PID-5.1", "%[1]s")'
    destinations:
      - { name: archive, type: file, dir: out, append: true, filename: adt.txt }%[3]s
  - name: mllp-adt
    source: { type: mllp, listen: 127.0.0.1:0, auth: none }
    transform:
      - 'set("PID-5.1", "%[1]s")'
    destinations:
      - { name: archive, type: file, dir: out, append: true, filename: mllp.txt }
`, stamp, ingestListen, extra)
}

// reload writes routes over the engine's file and reloads it.
func reload(t *testing.T, eng *engine.Engine, routes string) (*engine.ReloadReport, error) {
	t.Helper()
	if err := os.WriteFile(eng.File, []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return eng.Reload(ctx, "test")
}

var ingestHL7 = map[string]string{"Content-Type": "text/plain", "source-domain": "emergency-care", "organisation-code": "r0d", "data-type": "Hl7v2"}

func hl7Message(i int) string {
	return fmt.Sprintf("MSH|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||ADT^A01|C%d|P|2.4\rPID|1||%d^^^NHS^NH||Doe^Jane||19800101|F\r", i, i)
}

func TestReloadsUnderLoadRefuseNothingLoseNothingAndTheNextMessagesRunTheNewTransform(t *testing.T) {
	dir := t.TempDir()
	eng, _ := startIn(t, dir, reloadRoutes("V0", "127.0.0.1:0", ""))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	mllpAt := eng.BoundAddr("MLLP")

	var stop atomic.Bool
	var accepted, refused atomic.Int64
	var firstRefusal atomic.Value
	var wg sync.WaitGroup
	refuse := func(what string) {
		refused.Add(1)
		firstRefusal.CompareAndSwap(nil, what)
	}
	for w := 0; w < 6; w++ { // keep-alive HTTP senders
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				code, _, body := postQuiet(url, ingestHL7, hl7Message(w*100000+i))
				if code != http.StatusOK {
					refuse(fmt.Sprintf("HTTP %d: %.200s", code, body))
					continue
				}
				accepted.Add(1)
			}
		}()
	}
	for w := 0; w < 2; w++ { // MLLP connections held open across the reloads
		c := dialMLLP(t, mllpAt, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ack, err := c.Send(context.Background(), []byte(hl7Message(900000+w*100000+i)))
				if err != nil || !strings.Contains(string(ack), "MSA|AA") {
					refuse(fmt.Sprintf("MLLP %v %.200q", err, ack))
					continue
				}
				accepted.Add(1)
			}
		}()
	}
	for i := 1; i <= 6; i++ {
		time.Sleep(150 * time.Millisecond)
		rep, err := reload(t, eng, reloadRoutes(fmt.Sprintf("V%d", i), "127.0.0.1:0", ""))
		if err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if len(rep.Changed) != 2 || len(rep.Errors) != 0 {
			t.Fatalf("reload %d: %+v", i, rep)
		}
	}
	time.Sleep(150 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := refused.Load(); n > 0 {
		t.Fatalf("%d messages refused during the reloads; first: %v", n, firstRefusal.Load())
	}
	if accepted.Load() < 50 {
		t.Fatalf("only %d messages accepted: the load did not run", accepted.Load())
	}
	// Every accepted message is delivered, once.
	waitFor(t, "every accepted message delivered", func() bool {
		var sent int64
		for _, cs := range stats(t, eng) {
			sent += cs.Destinations["archive"].Sent
		}
		return sent == accepted.Load()
	})
	lines := 0
	for _, f := range []string{"adt.txt", "mllp.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, "out", f))
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "MSH|")
	}
	if int64(lines) != accepted.Load() {
		t.Fatalf("%d messages in the files, %d accepted", lines, accepted.Load())
	}
	// A message sent now runs the last transform.
	code, _, body := post(t, url, "POST", ingestHL7, hl7Message(1))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	m := getMessage(t, eng, lastID(t, eng, "adt"))
	if !strings.Contains(transformedOf(m), "||V6^Jane") {
		t.Fatalf("the message after the last reload was transformed to %.200q, want PID-5.1 V6", transformedOf(m))
	}
}

// postQuiet is post for goroutines other than the test's: no t.
func postQuiet(url string, hdr map[string]string, body string) (int, http.Header, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, resp.Status)
	return resp.StatusCode, resp.Header, b.String()
}

func lastID(t *testing.T, eng *engine.Engine, channel string) int64 {
	t.Helper()
	list, err := eng.Store().ListMessages(context.Background(), engine.MessageFilter{Channel: channel, Limit: 1})
	if err != nil || len(list) == 0 {
		t.Fatalf("no message of %s: %v", channel, err)
	}
	return list[0].ID
}

func TestABadReloadChangesNothingAndNamesEachMistakeAtItsLine(t *testing.T) {
	dir := t.TempDir()
	eng, _ := startIn(t, dir, reloadRoutes("OLD", "127.0.0.1:0", ""))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	bad := strings.Replace(reloadRoutes("NEW", "127.0.0.1:0", ""), "type: file, dir: out, append: true, filename: adt.txt", "type: fax", 1)
	bad = strings.Replace(bad, `'set("PID-5.1", "NEW")'`, `'set("PID-5.1", '`, 1)
	_, err := reload(t, eng, bad)
	var ce engine.ConfigErrors
	if !errors.As(err, &ce) || len(ce) != 2 {
		t.Fatalf("want two config errors, got %v", err)
	}
	if ce[0].Line != 7 || ce[1].Line != 9 || !strings.Contains(ce[1].Msg, `unknown destination type "fax"`) {
		t.Fatalf("errors not at their lines:\n%v", err)
	}
	if got := "http://" + eng.BoundAddr("HTTP") + "/$ingest"; got != url {
		t.Fatalf("the listener moved from %s to %s", url, got)
	}
	if code, _, body := post(t, url, "POST", ingestHL7, hl7Message(1)); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if m := getMessage(t, eng, lastID(t, eng, "adt")); !strings.Contains(transformedOf(m), "||OLD^Jane") {
		t.Fatalf("after a refused reload the old transform must run, got %.200q", transformedOf(m))
	}
	// A change only a restart applies is refused too, naming the line.
	_, err = reload(t, eng, strings.Replace(reloadRoutes("NEW", "127.0.0.1:0", ""), "path: junction.db", "path: other.db", 1))
	if !errors.As(err, &ce) || ce[0].Line != 2 || !strings.Contains(ce[0].Msg, "only a restart applies it") {
		t.Fatalf("a store change must be refused at its line, got %v", err)
	}
}

func TestARemovedDestinationKeepsItsQueueAndADestinationConfiguredAgainDeliversItWithItsNewSettings(t *testing.T) {
	dir := t.TempDir()
	down := startFlakyReceiver(t) // answers 503: the messages stay queued
	up := startFlakyReceiver(t)
	up.up.Store(true)
	eng, _ := startIn(t, dir, reloadRoutes("A", "127.0.0.1:0", down.srv.URL+"/old"))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	for i := 0; i < 3; i++ {
		if code, _, body := post(t, url, "POST", ingestHL7, hl7Message(i)); code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
	}
	rep, err := reload(t, eng, reloadRoutes("A", "127.0.0.1:0", ""))
	if err != nil {
		t.Fatal(err)
	}
	if want := "channel adt: destinations[lis]: removed"; !strings.Contains(strings.Join(rep.Changes, "\n"), want) {
		t.Fatalf("changes %q lack %q", rep.Changes, want)
	}
	time.Sleep(100 * time.Millisecond)
	if q := stats(t, eng)["adt"].Destinations["lis"].Queued; q != 3 {
		t.Fatalf("the removed destination's queue holds %d, want its 3 messages kept", q)
	}
	// Back, pointing elsewhere: the queued messages go with the new settings.
	if _, err := reload(t, eng, reloadRoutes("A", "127.0.0.1:0", up.srv.URL+"/new")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kept queue delivered to the new URL", func() bool { return up.count("/new") == 3 })
	if down.count("/old") != 0 {
		t.Fatal("the old receiver got messages")
	}
}

func TestAReloadMovesAListenerWhoseAddressChangedAndAuditsWhatChanged(t *testing.T) {
	dir := t.TempDir()
	eng, _ := startIn(t, dir, reloadRoutes("A", "127.0.0.1:0", ""))
	oldAddr := eng.BoundAddr("HTTP")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	newAddr := ln.Addr().String()
	ln.Close()
	rep, err := reload(t, eng, reloadRoutes("A", newAddr, ""))
	if err != nil {
		t.Fatal(err)
	}
	if eng.BoundAddr("HTTP") != newAddr {
		t.Fatalf("bound %s, want %s", eng.BoundAddr("HTTP"), newAddr)
	}
	if code, _, body := post(t, "http://"+newAddr+"/$ingest", "POST", ingestHL7, hl7Message(1)); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if _, err := net.DialTimeout("tcp", oldAddr, time.Second); err == nil {
		t.Fatalf("the old address %s still takes connections", oldAddr)
	}
	want := fmt.Sprintf(`channel adt: source.listen: "127.0.0.1:0" → %q`, newAddr)
	if strings.Join(rep.Changes, "\n") != want || len(rep.Unchanged) != 1 || rep.Unchanged[0] != "mllp-adt" {
		t.Fatalf("report %+v, want the one change %s", rep, want)
	}
	ev, err := eng.Store().LastEvent(context.Background(), "config-reloaded")
	if err != nil || !strings.Contains(ev.Detail, want) || !strings.Contains(ev.Detail, "by test: 0 added, 0 removed, 1 changed, 1 unchanged") {
		t.Fatalf("audit %+v %v", ev, err)
	}
}

func transformedOf(m *engine.MessageDetail) string {
	if m.Transformed == nil {
		return m.Raw
	}
	return *m.Transformed
}

func TestADestinationRemovedAndAddedAgainDuringASendIsDeliveredByOneWorkerOnce(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	got := map[string]int{}
	inSend := make(chan struct{}, 10)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		inSend <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		got[string(b)]++
		mu.Unlock()
	}))
	defer slow.Close()
	with := reloadRoutes("A", "127.0.0.1:0", slow.URL+"/lis")
	eng, _ := startIn(t, dir, with)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	for i := 0; i < 3; i++ {
		if code, _, body := post(t, url, "POST", ingestHL7, hl7Message(i)); code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
	}
	<-inSend // the first send is in progress
	if _, err := reload(t, eng, reloadRoutes("A", "127.0.0.1:0", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := reload(t, eng, with); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the three messages delivered", func() bool { return stats(t, eng)["adt"].Destinations["lis"].Sent == 3 })
	time.Sleep(400 * time.Millisecond) // a second worker's duplicate would land meanwhile
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("the receiver got %d distinct messages, want 3", len(got))
	}
	for body, n := range got {
		if n != 1 {
			t.Fatalf("a message was sent %d times: %.60q", n, body)
		}
	}
}

func TestAReloadAddingAChannelOnANewListenerUnderLoadTakesItsMessagesAtOnce(t *testing.T) {
	dir := t.TempDir()
	base := reloadRoutes("A", "127.0.0.1:0", "")
	eng, _ := startIn(t, dir, base)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	var stop atomic.Bool
	var refused atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if code, _, _ := postQuiet(url, ingestHL7, hl7Message(w*100000+i)); code != http.StatusOK {
					refused.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		extra := base + fmt.Sprintf(`  - name: lab%d
    source: { type: ingest, listen: %q, domain: lab, data_types: [Hl7v2], auth: none }
    destinations:
      - { name: archive, type: file, dir: out, append: true, filename: lab.txt }
`, i, addr)
		if _, err := reload(t, eng, extra); err != nil {
			t.Fatal(err)
		}
		hdr := map[string]string{"Content-Type": "text/plain", "source-domain": "lab", "organisation-code": "r0d", "data-type": "Hl7v2"}
		if code, _, body := post(t, "http://"+addr+"/$ingest", "POST", hdr, hl7Message(7)); code != http.StatusOK {
			t.Fatalf("the new listener answered %d %s", code, body)
		}
	}
	stop.Store(true)
	wg.Wait()
	if refused.Load() > 0 {
		t.Fatalf("%d messages refused on the unchanged listener", refused.Load())
	}
}

func TestAFileSourceGoesOnReadingItsFolderAcrossAReloadWithTheNewTransform(t *testing.T) {
	dir := t.TempDir()
	routes := func(stamp string) string {
		return fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: drop
    source: { type: file, dir: in, glob: "*.hl7", poll: 20ms, settle: 0s }
    transform:
      - 'set("PID-5.1", "%s")'
    destinations:
      - { name: archive, type: file, dir: out, append: true, filename: drop.txt }
`, stamp)
	}
	eng, _ := startIn(t, dir, routes("OLD"))
	drop := func(name string, i int) {
		os.WriteFile(filepath.Join(dir, "in", name+".tmp"), []byte(hl7Message(i)), 0o644)
		os.Rename(filepath.Join(dir, "in", name+".tmp"), filepath.Join(dir, "in", name))
	}
	out := filepath.Join(dir, "out", "drop.txt")
	drop("a.hl7", 1)
	waitFor(t, "the first file's message", func() bool { b, _ := os.ReadFile(out); return strings.Contains(string(b), "||OLD^Jane") })
	rep, err := reload(t, eng, routes("NEW"))
	if err != nil || len(rep.Changes) != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	drop("b.hl7", 2)
	waitFor(t, "the second file's message with the new transform", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "||NEW^Jane")
	})
	if b, _ := os.ReadFile(out); strings.Count(string(b), "MSH|") != 2 {
		t.Fatalf("want the two messages once each, got:\n%s", b)
	}
}

func TestAReloadKeepsAnUnchangedTokenVerifierSoKeysThatCannotBeFetchedNowDoNotRefuseIt(t *testing.T) {
	_, keys, _ := authKeys(t)
	dir := t.TempDir()
	routes := func(stamp, audience string) string {
		return fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [Hl7v2]
      auth: { issuer: "https://idp.example/realms/exchange", audience: %s, jwks: %s, claims: { organisations: org, categories: category } }
    transform:
      - 'set("PID-5.1", "%s")'
    destinations:
      - { name: archive, type: file, dir: out }
`, audience, keys.JWKS, stamp)
	}
	eng, _ := startIn(t, dir, routes("A", "junction"))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	tok := token(t, keys.Private, auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}})
	hdr := map[string]string{"Authorization": "Bearer " + tok}
	for k, v := range ingestHL7 {
		hdr[k] = v
	}
	// The keys can no longer be read: an unchanged auth block keeps its verifier.
	if err := os.Remove(keys.JWKS); err != nil {
		t.Fatal(err)
	}
	if _, err := reload(t, eng, routes("B", "junction")); err != nil {
		t.Fatalf("a reload that leaves auth alone was refused: %v", err)
	}
	if code, _, body := post(t, url, "POST", hdr, hl7Message(1)); code != http.StatusOK {
		t.Fatalf("after the reload: %d %s", code, body)
	}
	// A changed auth block builds a new verifier, which cannot read the keys: refused.
	_, err := reload(t, eng, routes("C", "someone-else"))
	var ce engine.ConfigErrors
	if !errors.As(err, &ce) || ce[0].Line != 10 {
		t.Fatalf("a changed auth block with unreadable keys must be refused at its line, got %v", err)
	}
}
