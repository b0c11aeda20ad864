package connectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
	"junction/hl7"
	"junction/mllp"
)

// mllpReceiver is a real MLLP server on loopback standing for a downstream system: it
// records every frame and answers with what its answer function says (nil: nothing).
type mllpReceiver struct {
	addr   string
	answer func(n int, msg []byte) []byte
	mu     sync.Mutex
	got    []string
	conns  map[*mllp.Conn]bool
}

func startMLLPReceiver(t *testing.T, cfg *tls.Config, answer func(n int, msg []byte) []byte) *mllpReceiver {
	t.Helper()
	r := &mllpReceiver{answer: answer, conns: map[*mllp.Conn]bool{}}
	srv := &mllp.Server{TLSConfig: cfg, Log: discard(), Handler: func(_ context.Context, c *mllp.Conn, f mllp.Frame) []byte {
		r.mu.Lock()
		r.got = append(r.got, string(f.Data))
		r.conns[c] = true
		n := len(r.got)
		r.mu.Unlock()
		return r.answer(n, f.Data)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, mllp.ErrServerClosed) {
			t.Errorf("receiver: %v", err)
		}
	})
	return r
}

func (r *mllpReceiver) received() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...), len(r.conns)
}

// ackOf answers msg with code (and text), naming ref as the message answered ("" for
// msg's own MSH-10).
func ackOf(msg []byte, code, ref, text string) []byte {
	h, _ := readMSH(msg)
	if ref == "" {
		ref = h.field(10)
	}
	return hl7.ACK{SendingApp: "LIS", SendingFacility: "LAB", Time: time.Now(), ControlID: "A" + ref, ProcessingID: "P", Version: "2.5", Code: code, RefControlID: ref, Text: text}.Bytes()
}

// relayRoutes takes HL7v2 on an MLLP source and sends it to addr over MLLP.
func relayRoutes(addr, extra string) string {
	return `store:
  path: junction.db
channels:
  - name: relay
    source: { type: mllp, listen: 127.0.0.1:0, auth: none }
    destinations:
      - name: lis
        type: mllp
        address: ` + addr + `
        retry: { backoff: 10ms, max_backoff: 50ms }
` + extra
}

// relay sends msg to the relay's MLLP source and returns the message's id once its
// delivery is settled.
func relay(t *testing.T, eng *engine.Engine, msg string) (int64, engine.DestinationStatus) {
	t.Helper()
	a := splitACK(t, sendMLLP(t, dialMLLP(t, mllpAddr(t, eng), nil), msg))
	if a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("source answered %q", a.raw)
	}
	id := messageIDOf(t, a, 0)
	return id, settled(t, eng, id)["lis"]
}

// With on_nak: retry, a receiver that answers AE twice and then AA gets the message three
// times; the delivery is SENT and its response stage holds the AA.
func TestMLLPDestinationRetriesNAKsWithOnNAKRetry(t *testing.T) {
	recv := startMLLPReceiver(t, nil, func(n int, msg []byte) []byte {
		if n <= 2 {
			return ackOf(msg, "AE", "", "try again")
		}
		return ackOf(msg, "AA", "", "")
	})
	eng, _, _ := startMLLP(t, relayRoutes(recv.addr, "        on_nak: retry\n"))
	_, d := relay(t, eng, mllpADT("N-1", "Smith"))
	got, _ := recv.received()
	if d.Status != engine.StatusSent || d.Attempts != 3 || len(got) != 3 {
		t.Fatalf("delivery %s after %d attempts, %d frames at the receiver; want SENT after 3", d.Status, d.Attempts, len(got))
	}
	if d.Response == nil || !strings.Contains(*d.Response, "\rMSA|AA|N-1") {
		t.Errorf("response stage %v: want the AA", d.Response)
	}
	if got[2] != mllpADT("N-1", "Smith") {
		t.Errorf("sent %q, want the message as received", got[2])
	}
}

// By default (on_nak: error) an AR is an ERROR at once, with the receiver's text.
func TestMLLPDestinationErrorsOnANAKByDefault(t *testing.T) {
	recv := startMLLPReceiver(t, nil, func(_ int, msg []byte) []byte { return ackOf(msg, "AR", "", "unknown patient") })
	eng, _, _ := startMLLP(t, relayRoutes(recv.addr, ""))
	_, d := relay(t, eng, mllpADT("N-2", "Smith"))
	if d.Status != engine.StatusError || d.Attempts != 1 || !strings.Contains(d.LastError, "answered AR: unknown patient") {
		t.Fatalf("delivery %s after %d attempts (%q); want ERROR after 1 naming the AR", d.Status, d.Attempts, d.LastError)
	}
	if d.Response == nil || !strings.Contains(*d.Response, "MSA|AR|N-2|unknown patient") {
		t.Errorf("response stage %v: want the AR", d.Response)
	}
}

// An ACK for another message, or no answer within ack_timeout, is retried on a new
// connection; messages reach the receiver in order.
func TestMLLPDestinationRetriesAnACKForAnotherMessageOrNone(t *testing.T) {
	recv := startMLLPReceiver(t, nil, func(n int, msg []byte) []byte {
		switch n {
		case 1:
			return ackOf(msg, "AA", "SOMETHING-ELSE", "")
		case 2:
			return nil // no answer at all
		}
		return ackOf(msg, "AA", "", "")
	})
	eng, _, _ := startMLLP(t, relayRoutes(recv.addr, "        ack_timeout: 200ms\n"))
	var ids []int64
	for i := range 3 {
		a := splitACK(t, sendMLLP(t, dialMLLP(t, mllpAddr(t, eng), nil), mllpADT(fmt.Sprintf("O-%d", i), "Smith")))
		ids = append(ids, messageIDOf(t, a, 0))
	}
	for _, id := range ids {
		if d := settled(t, eng, id)["lis"]; d.Status != engine.StatusSent {
			t.Errorf("message %d: %s (%s), want SENT", id, d.Status, d.LastError)
		}
	}
	m := getMessage(t, eng, ids[0])
	if d := m.Destinations[0]; d.Attempts != 3 {
		t.Errorf("first message SENT after %d attempts, want 3 (another's ACK, none, AA)", d.Attempts)
	}
	got, conns := recv.received()
	var order []string
	for _, g := range got {
		h, _ := readMSH([]byte(g))
		order = append(order, h.field(10))
	}
	if strings.Join(order, ",") != "O-0,O-0,O-0,O-1,O-2" || conns != 3 {
		t.Errorf("receiver got %v on %d connections; want O-0 three times, then O-1, O-2, on 3 connections", order, conns)
	}
}

// Content the channel turned into FHIR is not sent: an ERROR at once that says why.
func TestMLLPDestinationRefusesContentThatIsNotHL7(t *testing.T) {
	recv := startMLLPReceiver(t, nil, func(_ int, msg []byte) []byte { return ackOf(msg, "AA", "", "") })
	eng, _, _ := startMLLP(t, strings.Replace(relayRoutes(recv.addr, ""), "    destinations:", "    transform: ['setBody(toFHIR())']\n    destinations:", 1))
	_, d := relay(t, eng, mllpADT("F-1", "Smith"))
	if d.Status != engine.StatusError || d.Attempts != 1 || !strings.Contains(d.LastError, "not an HL7v2 message") || !strings.Contains(d.LastError, "toFHIR()") {
		t.Fatalf("delivery %s after %d attempts (%q); want ERROR at once saying it is not HL7v2", d.Status, d.Attempts, d.LastError)
	}
	if got, _ := recv.received(); len(got) != 0 {
		t.Errorf("the receiver got %q", got)
	}
}

// A message is sent in the character set its MSH-18 names: Latin-1 in, Latin-1 out.
func TestMLLPDestinationSendsInTheMessagesCharacterSet(t *testing.T) {
	recv := startMLLPReceiver(t, nil, func(_ int, msg []byte) []byte { return ackOf(msg, "AA", "", "") })
	eng, _, _ := startMLLP(t, relayRoutes(recv.addr, ""))
	latin1 := strings.Replace(mllpADT("L-1", "M\xfcller"), "|P|2.4\r", "|P|2.4||||||8859/1\r", 1)
	latin1 = strings.ReplaceAll(latin1, "é", "\xe9")
	_, d := relay(t, eng, latin1)
	got, _ := recv.received()
	if d.Status != engine.StatusSent || len(got) != 1 || got[0] != latin1 {
		t.Fatalf("delivery %s; receiver got %q, want the Latin-1 bytes %q", d.Status, got, latin1)
	}
}

// With tls: { ca, cert, key } the destination connects over TLS with a client
// certificate, which a receiver requiring one accepts.
func TestMLLPDestinationSpeaksMutualTLS(t *testing.T) {
	dir, pool, client := tlsFiles(t)
	writeClientCert(t, dir, client)
	srvCfg, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	recv := startMLLPReceiver(t, &tls.Config{Certificates: []tls.Certificate{srvCfg}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		func(_ int, msg []byte) []byte { return ackOf(msg, "AA", "", "") })
	eng, _, _ := startMLLP(t, relayRoutes(recv.addr, "        tls: { ca: "+dir+"/ca.pem, cert: "+dir+"/client.pem, key: "+dir+"/client.key }\n"))
	if _, d := relay(t, eng, mllpADT("T-1", "Smith")); d.Status != engine.StatusSent {
		t.Fatalf("delivery %s (%s), want SENT", d.Status, d.LastError)
	}
}

// writeClientCert writes a client certificate and its key as client.pem and client.key.
func writeClientCert(t *testing.T, dir string, c tls.Certificate) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "client.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(filepath.Join(dir, "client.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
}

// Mistakes in a destination's keys are reported at their lines.
func TestMLLPDestinationConfigMistakesAreReportedAtTheirLines(t *testing.T) {
	dest := func(extra string) string {
		return "channels:\n  - name: a\n    source: { type: mllp, listen: 127.0.0.1:2575, auth: none }\n    destinations:\n      - name: d\n        type: mllp\n" + extra
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"no address", dest(""), "routes.yaml:5: channels[0].destinations[0]: missing required key \"address\""},
		{"bad address", dest("        address: lab\n"), "routes.yaml:7: channels[0].destinations[0].address: expected host:port"},
		{"on_nak", dest("        address: lab:2575\n        on_nak: ignore\n"), "routes.yaml:8: channels[0].destinations[0].on_nak: expected one of error, retry"},
		{"half a client certificate", dest("        address: lab:2575\n        tls: { cert: c.pem }\n"), "routes.yaml:8: channels[0].destinations[0].tls: tls needs both cert and key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := engine.LoadBytes("routes.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}
