package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/hl7"
	"junction/mllp"
)

// mllpPeer is a real MLLP server on loopback that answers each message AA, or AE when
// its control id starts with BAD, and records the frames and connections it saw.
type mllpPeer struct {
	addr   string
	mu     sync.Mutex
	frames []string
	conns  map[*mllp.Conn]bool
}

func startMLLPPeer(t *testing.T) *mllpPeer {
	t.Helper()
	p := &mllpPeer{conns: map[*mllp.Conn]bool{}}
	srv := &mllp.Server{Handler: func(_ context.Context, c *mllp.Conn, f mllp.Frame) []byte {
		p.mu.Lock()
		p.frames = append(p.frames, string(f.Data))
		p.conns[c] = true
		p.mu.Unlock()
		b, err := hl7.SplitBatch(f.Data)
		if err != nil {
			return nil
		}
		var acks [][]byte
		for _, m := range b.Messages {
			cid := strings.Split(strings.SplitN(string(m), "\r", 2)[0], "|")[9]
			code := "AA"
			if strings.HasPrefix(cid, "BAD") {
				code = "AE"
			}
			acks = append(acks, hl7.ACK{Time: time.Now(), ControlID: "X", Version: "2.4", Code: code, RefControlID: cid}.Bytes())
		}
		if b.Header.Segment == "" && len(acks) == 1 {
			return acks[0]
		}
		return hl7.NewBatchACK(b, acks).Bytes()
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, mllp.ErrServerClosed) {
			t.Errorf("peer: %v", err)
		}
	})
	return p
}

func (p *mllpPeer) seen() ([]string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.frames...), len(p.conns)
}

func msg(cid string) string {
	return "MSH|^~\\&|A|B|C|D|20240213144932||ADT^A01|" + cid + "|P|2.4\rPID|1||1\r"
}

// Each message of a file goes as its own frame (LF line ends become CR), a batch file as
// one frame, all over one connection; each answer is printed, and the exit code is 0.
func TestSendMLLPSendsEachMessageAsAFrameAndABatchAsOne(t *testing.T) {
	peer := startMLLPPeer(t)
	dir := t.TempDir()
	two := filepath.Join(dir, "two.hl7")
	os.WriteFile(two, []byte(strings.ReplaceAll(msg("M1")+"\n"+msg("M2"), "\r", "\n")), 0o644)
	batch := filepath.Join(dir, "batch.hl7")
	os.WriteFile(batch, []byte("BHS|^~\\&|A|B|C|D|||||B1\r"+msg("M3")+msg("M4")+"BTS|2\r"), 0o644)
	var out, errs bytes.Buffer
	if code := sendMLLP(&out, &errs, peer.addr, nil, []string{two, batch}); code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, &out, &errs)
	}
	frames, conns := peer.seen()
	if len(frames) != 3 || frames[0] != msg("M1") || frames[1] != msg("M2") || !strings.HasPrefix(frames[2], "BHS|") || conns != 1 {
		t.Errorf("peer got %q on %d connections; want M1, M2 and the batch on one", frames, conns)
	}
	text := out.String()
	for _, want := range []string{"two.hl7 [1/2]: AA\nMSH|", "two.hl7 [2/2]: AA\n", "batch.hl7: AA AA\nBHS|", "\nMSA|AA|M4|\nBTS|2"} {
		if !strings.Contains(text, want) {
			t.Errorf("stdout lacks %q:\n%s", want, text)
		}
	}
}

// An answer other than AA makes the exit code 1; so does a peer that cannot be reached; a
// file without HL7v2 is 2.
func TestSendMLLPFailsWhenAnAnswerIsNotAA(t *testing.T) {
	peer := startMLLPPeer(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hl7")
	os.WriteFile(bad, []byte(msg("OK1")+msg("BAD1")), 0o644)
	var out, errs bytes.Buffer
	if code := sendMLLP(&out, &errs, peer.addr, nil, []string{bad}); code != 1 || !strings.Contains(out.String(), "bad.hl7 [2/2]: AE\n") {
		t.Errorf("exit %d, stdout:\n%s\nwant 1 with the AE", code, &out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	errs.Reset()
	if code := sendMLLP(&out, &errs, closed, nil, []string{bad}); code != 1 || !strings.Contains(errs.String(), "connection refused") {
		t.Errorf("nobody listening: exit %d, stderr %q; want 1 saying so", code, &errs)
	}
	junk := filepath.Join(dir, "junk.txt")
	os.WriteFile(junk, []byte("hello\n"), 0o644)
	if code := sendMLLP(&out, &errs, peer.addr, nil, []string{junk}); code != 2 {
		t.Errorf("a file without HL7v2: exit %d, want 2", code)
	}
}
