package connectors

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/mllp"
)

const mllpRoutes = `store:
  path: junction.db
channels:
  - name: lab
    source:
      type: mllp
      listen: 127.0.0.1:0
      max_message_bytes: 4KB
      auth: none
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-8") != "X" || setBody(1/0)'
    destinations:
      - { name: archive, type: file, dir: out }
`

// mllpADT is an ADT^A01 from EPR/R0D to LAB/QVV.
func mllpADT(controlID, family string) string {
	return "MSH|^~\\&|EPR|R0D|LAB|QVV|20240213144932||ADT^A01|" + controlID + "|P|2.4\r" +
		"PID|1||0000000000^^^NHS^NH||" + family + "^José||19800101|M\r" +
		"PV1|1|E\r"
}

// logBuffer collects an engine's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startMLLP runs routes on a real store, logging into the returned buffer, and returns
// the address its first MLLP listener bound.
func startMLLP(t *testing.T, routes string) (*engine.Engine, string, *logBuffer) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	eng.Log = slog.New(slog.NewTextHandler(logs, nil))
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng, mllpAddr(t, eng), logs
}

func mllpAddr(t *testing.T, eng *engine.Engine) string {
	t.Helper()
	for _, s := range eng.Services() {
		if l, ok := s.(*mllpListener); ok {
			return l.BoundAddr()
		}
	}
	t.Fatal("no MLLP listener")
	return ""
}

// dialMLLP opens a client connection, closed at the end of the test.
func dialMLLP(t *testing.T, addr string, cfg *tls.Config) *mllp.Client {
	t.Helper()
	c, err := mllp.Dial(context.Background(), addr, cfg, mllp.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendMLLP sends one frame and returns the answer.
func sendMLLP(t *testing.T, c *mllp.Client, msg string) string {
	t.Helper()
	ack, err := c.Send(context.Background(), []byte(msg))
	if err != nil {
		t.Fatalf("sending %.40q: %v", msg, err)
	}
	return string(ack)
}

// hl7ACK is an answer split into segments and fields (fields[0] is the segment name).
type hl7ACK struct {
	raw  string
	segs [][]string
}

func splitACK(t *testing.T, raw string) hl7ACK {
	t.Helper()
	if !strings.HasSuffix(raw, "\r") {
		t.Fatalf("answer does not end with CR: %q", raw)
	}
	a := hl7ACK{raw: raw}
	for _, s := range strings.Split(strings.TrimSuffix(raw, "\r"), "\r") {
		a.segs = append(a.segs, strings.Split(s, "|"))
	}
	return a
}

// field is SEG-n of the i-th segment named seg (MSH-n counted as HL7 does).
func (a hl7ACK) field(seg string, i, n int) string {
	for _, s := range a.segs {
		if s[0] != seg {
			continue
		}
		if i > 0 {
			i--
			continue
		}
		if seg == "MSH" || seg == "BHS" || seg == "FHS" {
			n-- // the field separator is field 1
		}
		if n < len(s) {
			return s[n]
		}
		return ""
	}
	return ""
}

func (a hl7ACK) count(seg string) int {
	n := 0
	for _, s := range a.segs {
		if s[0] == seg {
			n++
		}
	}
	return n
}

var acceptedRe = regexp.MustCompile(`^message (\d+) (accepted|received)`)

// messageIDOf is the message id an AA's MSA-3 names.
func messageIDOf(t *testing.T, a hl7ACK, i int) int64 {
	t.Helper()
	m := acceptedRe.FindStringSubmatch(a.field("MSA", i, 3))
	if m == nil {
		t.Fatalf("MSA-3 %q names no message id", a.field("MSA", i, 3))
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

func getMessage(t *testing.T, eng *engine.Engine, id int64) *engine.MessageDetail {
	t.Helper()
	m, err := eng.Store().GetMessage(context.Background(), id)
	if err != nil {
		t.Fatalf("message %d: %v", id, err)
	}
	return m
}

// Many messages one after another on one connection are each processed, stored and
// answered AA, each ACK naming its message, sent by the receiver the message named.
func TestMLLPAnswersEachOfManyMessagesOnOneConnection(t *testing.T) {
	eng, addr, _ := startMLLP(t, mllpRoutes)
	c := dialMLLP(t, addr, nil)
	for i := range 50 {
		cid := fmt.Sprintf("ONE-%03d", i)
		a := splitACK(t, sendMLLP(t, c, mllpADT(cid, "Fernández")))
		if a.field("MSA", 0, 1) != "AA" || a.field("MSA", 0, 2) != cid {
			t.Fatalf("message %d: %q, want AA for %s", i, a.raw, cid)
		}
		if i > 0 {
			continue
		}
		want := []string{"LAB", "QVV", "EPR", "R0D", "", "", "ACK", "", "P", "2.4"}
		for n, w := range want {
			if got := a.field("MSH", 0, n+3); w != "" && got != w {
				t.Errorf("ACK MSH-%d = %q, want %q", n+3, got, w)
			}
		}
		m := getMessage(t, eng, messageIDOf(t, a, 0))
		if m.Status == engine.StatusError || m.ControlID != cid || m.Transformed == nil || !strings.Contains(*m.Transformed, "PID|1||0000000000^^^NHS^NH||FERNÁNDEZ^José") {
			t.Errorf("stored message: %s %q %v", m.Status, m.ControlID, m.Transformed)
		}
		if m.Meta["charset"] != "UTF-8" || !strings.HasPrefix(m.Meta["remote-addr"], "127.0.0.1:") {
			t.Errorf("meta %v: want charset UTF-8 and the sender's address", m.Meta)
		}
	}
	sum, err := eng.Store().ListMessages(context.Background(), engine.MessageFilter{Channel: "lab", Limit: 1000})
	if err != nil || len(sum) != 50 {
		t.Fatalf("%d messages stored (%v), want 50", len(sum), err)
	}
}

// Several senders at once each get their own messages answered.
func TestMLLPServesSeveralConnectionsAtOnce(t *testing.T) {
	_, addr, _ := startMLLP(t, mllpRoutes)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		c := dialMLLP(t, addr, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				cid := fmt.Sprintf("C%d-%02d", g, i)
				ack, err := c.Send(context.Background(), []byte(mllpADT(cid, "Smith")))
				if err != nil || !strings.Contains(string(ack), "\rMSA|AA|"+cid+"|") {
					errs <- fmt.Errorf("%s: %v %q", cid, err, ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A batch frame is answered by one frame holding a batch of ACKs, one per message in
// order, each as $ingest would answer it, its header swapped from the inbound BHS.
func TestMLLPAnswersABatchFrameWithABatchOfACKs(t *testing.T) {
	eng, addr, _ := startMLLP(t, mllpRoutes)
	batch := "BHS|^~\\&|EPR|R0D|LAB|QVV|20240213144932||||BATCH-7\r" +
		mllpADT("B-1", "Smith") +
		strings.Replace(mllpADT("B-2", "Jones"), "ADT^A01", "SIU^S12", 1) +
		strings.Replace(mllpADT("B-3", "Brown"), "|19800101|M", "|19800101|X", 1) +
		"BTS|3\r"
	a := splitACK(t, sendMLLP(t, dialMLLP(t, addr, nil), batch))
	if a.segs[0][0] != "BHS" || a.segs[len(a.segs)-1][0] != "BTS" || a.field("BTS", 0, 1) != "3" || a.count("MSA") != 3 {
		t.Fatalf("answer %q: want BHS, 3 ACKs, BTS|3", a.raw)
	}
	if a.field("BHS", 0, 3) != "LAB" || a.field("BHS", 0, 5) != "EPR" || a.field("BHS", 0, 12) != "BATCH-7" {
		t.Errorf("BHS %v: want LAB/QVV to EPR/R0D answering BATCH-7", a.segs[0])
	}
	want := []struct{ code, ref, text string }{
		{"AA", "B-1", "accepted"}, {"AA", "B-2", "filtered by channel lab"}, {"AE", "B-3", "could not be processed by channel lab's transform; the operator has the details under message id"},
	}
	for i, w := range want {
		if a.field("MSA", i, 1) != w.code || a.field("MSA", i, 2) != w.ref || !strings.Contains(a.field("MSA", i, 3), w.text) {
			t.Errorf("ACK %d: MSA %v, want %s for %s saying %q", i+1, a.segs, w.code, w.ref, w.text)
		}
	}
	if strings.Contains(a.raw, "1/0") || strings.Contains(a.raw, "routes.yaml") {
		t.Errorf("the answer shows the script: %q", a.raw)
	}
	id := messageIDOf(t, a, 0)
	if m := getMessage(t, eng, id+2); m.Status != engine.StatusError || m.ControlID != "B-3" {
		t.Errorf("the third message is %s %q, want ERROR B-3", m.Status, m.ControlID)
	}
}

// Several messages in one frame without a batch header are each processed and answered
// in one batch; a single message is answered with a single ACK.
func TestMLLPAnswersSeveralMessagesInOneFrameWithABatch(t *testing.T) {
	_, addr, _ := startMLLP(t, mllpRoutes)
	a := splitACK(t, sendMLLP(t, dialMLLP(t, addr, nil), mllpADT("M-1", "Smith")+mllpADT("M-2", "Jones")))
	if a.segs[0][0] != "BHS" || a.count("MSA") != 2 || a.field("MSA", 1, 2) != "M-2" || a.field("BHS", 0, 3) != "LAB" {
		t.Fatalf("answer %q: want a batch of two ACKs from LAB", a.raw)
	}
}

// A Latin-1 message (MSH-18 8859/1) is read as the same text as its UTF-8 twin: the
// stored and transformed content is UTF-8 and equal, and each is answered in its own
// character set.
func TestMLLPReadsLatin1AndItsUTF8TwinAlike(t *testing.T) {
	eng, addr, _ := startMLLP(t, mllpRoutes)
	c := dialMLLP(t, addr, nil)
	twin := func(cid, charset string) string {
		return strings.Replace(strings.Replace(mllpADT(cid, "Müller"), "|EPR|", "|KÖLN|", 1), "|P|2.4\r", "|P|2.4||||||"+charset+"\r", 1)
	}
	utf8 := twin("CS-1", "UNICODE UTF-8")
	latin1 := []byte(twin("CS-2", "8859/1"))
	latin1 = bytes.ReplaceAll(latin1, []byte("ü"), []byte{0xFC})
	latin1 = bytes.ReplaceAll(latin1, []byte("Ö"), []byte{0xD6})
	latin1 = bytes.ReplaceAll(latin1, []byte("é"), []byte{0xE9})

	var stored []*engine.MessageDetail
	for _, msg := range []string{utf8, string(latin1)} {
		raw := sendMLLP(t, c, msg)
		a := splitACK(t, raw)
		if a.field("MSA", 0, 1) != "AA" {
			t.Fatalf("answer %q, want AA", raw)
		}
		stored = append(stored, getMessage(t, eng, messageIDOf(t, a, 0)))
		// MSH-5 of the ACK is the sender KÖLN, in the message's character set.
		if msg == utf8 && a.field("MSH", 0, 5) != "KÖLN" || msg != utf8 && a.field("MSH", 0, 5) != "K\xd6LN" {
			t.Errorf("ACK MSH-5 %q: want KÖLN in the message's character set", a.field("MSH", 0, 5))
		}
	}
	pid := func(m *engine.MessageDetail) string {
		_, after, _ := strings.Cut(*m.Transformed, "\rPID|")
		return after
	}
	if pid(stored[0]) != pid(stored[1]) || !strings.Contains(pid(stored[1]), "MÜLLER^José") {
		t.Errorf("transformed PID differs:\n%q\n%q", pid(stored[0]), pid(stored[1]))
	}
	// The raw content is the bytes as received, Latin-1; what the destinations get (the
	// transformed content) is UTF-8, as the scripts saw it.
	if stored[1].Raw != string(latin1) || stored[1].Meta["charset"] != "ISO-8859-1" || stored[0].Meta["charset"] != "UTF-8" {
		t.Errorf("stored raw %q meta %v: want the Latin-1 bytes sent %q, charset ISO-8859-1", stored[1].Raw, stored[1].Meta, latin1)
	}
	if stored[0].Raw != utf8 {
		t.Errorf("stored raw %q: want the UTF-8 message sent", stored[0].Raw)
	}
	if !strings.Contains(*stored[1].Transformed, "|KÖLN|") {
		t.Errorf("transformed %q: want UTF-8 text", *stored[1].Transformed)
	}
	// Reprocessing reads the stored bytes in their character set again.
	res, err := eng.Reprocess(context.Background(), stored[1].ID, nil, "")
	if err != nil || res.Status != engine.StatusTransformed {
		t.Fatalf("reprocess: %v %v %v", res.Status, res.Err, err)
	}
	again := getMessage(t, eng, res.MessageID)
	if again.Raw != string(latin1) || again.Transformed == nil || *again.Transformed != *stored[1].Transformed {
		t.Errorf("reprocessed raw %q transformed %v: want the Latin-1 bytes and %q", again.Raw, again.Transformed, *stored[1].Transformed)
	}
}

// A Latin-1 message that no script changes is stored as received, and its
// destinations get it in UTF-8.
func TestMLLPStoresLatin1AsReceivedAndRoutesUTF8(t *testing.T) {
	routes := strings.Replace(mllpRoutes, `    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-8") != "X" || setBody(1/0)'
`, "", 1)
	eng, addr, _ := startMLLP(t, routes)
	c := dialMLLP(t, addr, nil)
	text := strings.Replace(mllpADT("CS-3", "Müller"), "|P|2.4\r", "|P|2.4||||||8859/1\r", 1)
	latin1 := bytes.ReplaceAll(bytes.ReplaceAll([]byte(text), []byte("ü"), []byte{0xFC}), []byte("é"), []byte{0xE9})
	a := splitACK(t, sendMLLP(t, c, string(latin1)))
	if a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("answer %q, want AA", a.raw)
	}
	m := getMessage(t, eng, messageIDOf(t, a, 0))
	if m.Raw != string(latin1) || m.Transformed == nil || *m.Transformed != text {
		t.Fatalf("stored raw %q transformed %v: want the Latin-1 bytes sent, and the UTF-8 text %q", m.Raw, m.Transformed, text)
	}
	out := filepath.Join(filepath.Dir(eng.StorePath), "out")
	waitFor(t, "the delivered file", func() bool {
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(files) != 1 {
			return false
		}
		b, _ := os.ReadFile(files[0])
		return string(b) == text
	})
}

// A message over max_message_bytes is answered AR naming its control id, and the
// connection goes on.
func TestMLLPAnswersAnOversizeMessageARAndGoesOn(t *testing.T) {
	_, addr, _ := startMLLP(t, mllpRoutes)
	c := dialMLLP(t, addr, nil)
	big := mllpADT("BIG-1", "Smith") + "NTE|1||" + strings.Repeat("x", 8000) + "\r"
	a := splitACK(t, sendMLLP(t, c, big))
	if a.field("MSA", 0, 1) != "AR" || a.field("MSA", 0, 2) != "BIG-1" || !strings.Contains(a.field("MSA", 0, 3), "larger than the 4 KB limit") {
		t.Fatalf("answer %q: want AR for BIG-1 naming the limit", a.raw)
	}
	if a := splitACK(t, sendMLLP(t, c, mllpADT("AFTER-BIG", "Smith"))); a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("next message: %q, want AA", a.raw)
	}
}

// Bytes between frames are logged and skipped; a frame that holds no HL7v2 (nothing an
// ACK could name) closes the connection with the reason logged; a message that does not
// parse but names its control id is answered AE.
func TestMLLPSkipsGarbageAndClosesOnAFrameWithoutHL7(t *testing.T) {
	_, addr, logs := startMLLP(t, mllpRoutes)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := mllp.NewReader(nc, 0)
	nc.Write([]byte("junk between frames\n"))
	mllp.WriteFrame(nc, []byte(mllpADT("G-1", "Smith")))
	f, err := r.ReadFrame()
	if err != nil || !strings.Contains(string(f.Data), "\rMSA|AA|G-1|") {
		t.Fatalf("after junk: %v %q, want AA", err, f.Data)
	}
	mllp.WriteFrame(nc, []byte("MSH|^~\\&|A|B|C|D|20240213144932||ADT^A01|G-2|P|2.4\rP\r"))
	if f, err := r.ReadFrame(); err != nil || !strings.Contains(string(f.Data), "\rMSA|AE|G-2|") {
		t.Fatalf("unparseable message: %v %q, want AE for G-2", err, f.Data)
	}
	mllp.WriteFrame(nc, []byte("hello, is anyone there?"))
	if f, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after a frame without HL7: %v %q, want the connection closed", err, f.Data)
	}
	waitFor(t, "the log lines", func() bool {
		s := logs.String()
		return strings.Contains(s, "bytes outside a frame skipped") && strings.Contains(s, "connection closed: the frame holds no HL7v2 message")
	})
	if a := splitACK(t, sendMLLP(t, dialMLLP(t, addr, nil), mllpADT("G-3", "Smith"))); a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("a new connection: %q, want AA", a.raw)
	}
}

// With tls.client_ca, a sender without a client certificate is refused at the
// handshake; with one its messages are taken and its subject kept in their metadata.
func TestMLLPRequiresAClientCertificateWithClientCA(t *testing.T) {
	dir, pool, client := tlsFiles(t)
	eng, addr, _ := startMLLP(t, `store:
  path: junction.db
channels:
  - name: lab
    source:
      type: mllp
      listen: 127.0.0.1:0
      tls: { cert: `+dir+`/server.pem, key: `+dir+`/server.key, client_ca: `+dir+`/ca.pem }
`)
	if eng.Warnings() != nil {
		t.Errorf("warnings %v: a listener requiring client certificates is not open", eng.Warnings())
	}
	anon := mllp.NewClient(addr, &tls.Config{RootCAs: pool}, mllp.ClientOptions{})
	defer anon.Close()
	if ack, err := anon.Send(context.Background(), []byte(mllpADT("TLS-0", "Smith"))); err == nil {
		t.Fatalf("without a client certificate: answered %q", ack)
	}
	c := dialMLLP(t, addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}})
	a := splitACK(t, sendMLLP(t, c, mllpADT("TLS-1", "Smith")))
	if a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("with a client certificate: %q", a.raw)
	}
	if m := getMessage(t, eng, messageIDOf(t, a, 0)); m.Meta["client-subject"] != "CN=trust-epr" {
		t.Errorf("meta %v: want client-subject CN=trust-epr", m.Meta)
	}
}

// Channels sharing a listener take the messages their match holds, the first in the
// file first, the channel without a match what no match takes; with no such channel a
// message no match takes is answered AR saying its type and receiver are not taken here,
// and only the log says what the listener takes (the sender may be anyone).
func TestMLLPDispatchesByMatch(t *testing.T) {
	routes := `store:
  path: junction.db
channels:
  - name: lab-results
    source:
      type: mllp
      listen: 127.0.0.1:0
      match: { message_type: [ORU^R01], receiving_facility: LAB }
      ack: { application: JUNCTION, facility: HUB }
  - name: adt
    source:
      type: mllp
      listen: 127.0.0.1:0
      match: { message_type: ADT }
  - name: other-results
    source:
      type: mllp
      listen: 127.0.0.1:0
      match: { message_type: [ORU] }
`
	eng, addr, logs := startMLLP(t, routes)
	c := dialMLLP(t, addr, nil)
	oru := func(cid, fac string) string {
		return "MSH|^~\\&|LIS|R0D|JUNCTION|" + fac + "|20240213144932||ORU^R01|" + cid + "|P|2.5\rPID|1||1\r"
	}
	for _, tc := range []struct{ msg, cid, channel, sender string }{
		{oru("D-1", "LAB"), "D-1", "lab-results", "JUNCTION|HUB"},
		{oru("D-2", "WARD"), "D-2", "other-results", "JUNCTION|WARD"},
		{mllpADT("D-3", "Smith"), "D-3", "adt", "LAB|QVV"},
	} {
		a := splitACK(t, sendMLLP(t, c, tc.msg))
		if a.field("MSA", 0, 1) != "AA" || a.field("MSA", 0, 2) != tc.cid {
			t.Fatalf("%s: %q, want AA", tc.cid, a.raw)
		}
		if m := getMessage(t, eng, messageIDOf(t, a, 0)); m.Channel != tc.channel {
			t.Errorf("%s went to %s, want %s", tc.cid, m.Channel, tc.channel)
		}
		if got := a.field("MSH", 0, 3) + "|" + a.field("MSH", 0, 4); got != tc.sender {
			t.Errorf("%s: ACK sent by %s, want %s", tc.cid, got, tc.sender)
		}
	}
	a := splitACK(t, sendMLLP(t, c, "MSH|^~\\&|PAS|R0D|X|Y|20240213144932||SIU^S12|D-4|P|2.4\rPID|1||1\r"))
	text := strings.ReplaceAll(a.field("MSA", 0, 3), `\S\`, "^")
	if a.field("MSA", 0, 1) != "AR" || a.field("MSA", 0, 2) != "D-4" || text != "message type SIU^S12 to X/Y matches no channel: it is not taken here" {
		t.Fatalf("unmatched: %q, want AR saying only that SIU^S12 to X/Y is not taken here", a.raw)
	}
	if !strings.Contains(logs.String(), `listener_takes="message_type ORU^R01 receiving_facility LAB; message_type ADT; message_type ORU"`) {
		t.Errorf("the log does not say what the listener takes:\n%s", logs)
	}
}

// What cannot work is refused at load, each at its line: two channels without a match
// on one address, a match an earlier one takes whole, an empty match, a bearer-token
// auth block, different settings on one listener, and a port an HTTP listener has.
func TestMLLPConfigMistakesAreReportedAtTheirLines(t *testing.T) {
	src := func(name, extra string) string {
		return "  - name: " + name + "\n    source:\n      type: mllp\n      listen: 127.0.0.1:2575\n" + extra
	}
	cases := []struct{ name, channels, want string }{
		{"two without a match", src("a", "") + src("b", ""), "routes.yaml:8: channels[1].source: channel a (line 4) already takes every message on 127.0.0.1:2575"},
		{"shadowed match", src("a", "      match: { message_type: [ADT] }\n") + src("b", "      match: { message_type: [ADT^A01, ADT^A04] }\n"), "routes.yaml:11: channels[1].source.match: channel a (line 4) comes first"},
		{"identical match", src("a", "      match: { receiving_facility: LAB }\n") + src("b", "      match: { receiving_facility: lab }\n"), "routes.yaml:11: channels[1].source.match: channel a (line 4) comes first"},
		{"shadowed by two matches", src("a", "      match: { message_type: [ADT] }\n") + src("b", "      match: { message_type: [ORU] }\n") + src("c", "      match: { message_type: [ADT, ORU^R01] }\n"),
			"routes.yaml:16: channels[2].source.match: channels a (line 4: message_type ADT), b (line 9: message_type ORU) come first on 127.0.0.1:2575 and between them take every message this match takes"},
		{"shadowed field by field", src("a", "      match: { message_type: [ADT], receiving_facility: LAB }\n") + src("b", "      match: { message_type: [ADT], receiving_facility: WARD }\n") + src("c", "      match: { message_type: [ORU] }\n") +
			src("d", "      match: { message_type: [ADT, ORU^R01], receiving_facility: [LAB, WARD], sending_facility: R0D }\n"),
			"routes.yaml:21: channels[3].source.match: channels a (line 4: message_type ADT receiving_facility LAB), b (line 9: message_type ADT receiving_facility WARD), c (line 14: message_type ORU) come first"},
		{"empty match", src("a", "      match: {}\n"), "routes.yaml:6: channels[0].source.match: an empty match takes every message"},
		{"bad message type", src("a", "      match: { message_type: [ADT^] }\n"), "routes.yaml:6: channels[0].source.match.message_type: expected a message type such as ADT or ORU^R01"},
		{"auth block", src("a", "      auth: { issuer: x }\n"), "routes.yaml:6: channels[0].source.auth: an MLLP source takes no bearer tokens"},
		{"other settings", src("a", "      match: { message_type: [ADT] }\n") + src("b", "      max_connections: 5\n"), "routes.yaml:9: channels[1].source: MLLP listener 127.0.0.1:2575 already has other settings (channel a, line 4)"},
		{"other memory", src("a", "      match: { message_type: [ADT] }\n") + src("b", "      max_memory: 1GB\n"), "routes.yaml:9: channels[1].source: MLLP listener 127.0.0.1:2575 already has other settings (channel a, line 4)"},
		{"HTTP port", src("a", "") + "  - name: b\n    source: { type: ingest, listen: ':2575', domain: d }\n", "routes.yaml:7: channels[1].source.listen: listen \":2575\" clashes with the MLLP listener \"127.0.0.1:2575\" (line 5): an HTTP listener needs a port of its own"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := engine.LoadBytes("routes.yaml", []byte("channels:\n"+c.channels))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

// A match that earlier matches take only part of loads: here ADT to ICU, and ORU from
// anyone but R0D, reach the last channel.
func TestMLLPAMatchEarlierMatchesTakeOnlyPartOfLoads(t *testing.T) {
	src := func(name, match string) string {
		return "  - name: " + name + "\n    source:\n      type: mllp\n      listen: 127.0.0.1:2575\n      match: " + match + "\n"
	}
	channels := src("a", "{ message_type: [ADT], receiving_facility: [LAB, WARD] }") +
		src("b", "{ message_type: [ORU], sending_facility: R0D }") +
		src("c", "{ message_type: [ADT, ORU], receiving_facility: [LAB, WARD, ICU] }")
	if _, err := engine.LoadBytes("routes.yaml", []byte("channels:\n"+channels)); err != nil {
		t.Fatal(err)
	}
}

// junction check (Load) binds nothing, and warns about an MLLP listener anyone can
// send to; Start binds it, and a port in use fails Start at the line of the listen key,
// undoing what it had started.
func TestMLLPLoadBindsNothingAndStartFailsAtTheLineOfAPortInUse(t *testing.T) {
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	first, busy, http := free(), free(), free()
	routes := "store:\n  path: junction.db\nchannels:\n" +
		"  - name: a\n    source:\n      type: mllp\n      listen: " + first + "\n" +
		"  - name: b\n    source:\n      type: mllp\n      listen: " + busy + "\n      auth: none\n" +
		"  - name: c\n    source: { type: ingest, listen: '" + http + "', domain: d, auth: none }\n"
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, w := range eng.Warnings() {
		warned = append(warned, w.Error())
	}
	if len(warned) != 3 || !strings.Contains(warned[0], "routes.yaml:6: channels[0].source: no tls.client_ca: anyone who can reach this MLLP listener may send") ||
		!strings.Contains(warned[1], "routes.yaml:12: channels[1].source.auth: auth: none: anyone who can reach this MLLP listener may send") {
		t.Errorf("warnings:\n%s", strings.Join(warned, "\n"))
	}
	for _, addr := range []string{first, busy} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("after Load, %s is taken: %v", addr, err)
		}
		ln.Close()
	}
	hold, err := net.Listen("tcp", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	eng.Log = discard()
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = eng.Start(store)
	if err == nil {
		eng.Stop(context.Background())
		t.Fatal("Start succeeded with a port in use")
	}
	if want := file + ":11: channels[1].source.listen: cannot listen on " + busy; !strings.Contains(err.Error(), want) {
		t.Fatalf("Start: %v\nwant %q", err, want)
	}
	for _, addr := range []string{first, http} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("after the failed start, %s is still taken: %v", addr, err)
		}
		ln.Close()
	}
}
