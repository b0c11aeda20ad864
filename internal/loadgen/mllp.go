package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"junction/mllp"
)

// MLLPRequest describes the message every MLLP worker sends repeatedly.
type MLLPRequest struct {
	Addr    string      // host:port of the MLLP listener
	TLS     *tls.Config // nil: plain TCP
	Message []byte      // one HL7v2 message (or batch), segments ended by CR, without framing
	// Check, when set, is called with every answer (valid only during the call); a non-nil
	// return counts the message as an error. Nil: the answer must be an ACK accepting the
	// message (see CheckACK). It runs inside the measured latency, so keep it cheap.
	Check func(ack []byte) error
}

// RunMLLP drives req at the given concurrency for duration d, as Run does over HTTP: each
// worker holds one MLLP connection (mllp.Client) and sends the next message as soon as the
// answer to the previous one is back. Errors are connection failures, ack timeouts and
// failed checks; a failed message's connection is closed and the next one reconnects.
// Result.Status stays empty, since MLLP has no status codes. Of the options, Grace and
// Count apply; CheckBody is for HTTP (use MLLPRequest.Check).
func RunMLLP(ctx context.Context, req MLLPRequest, concurrency int, d time.Duration, opts ...Option) (Result, error) {
	o := makeOptions(opts)
	if err := checkArgs(concurrency, d); err != nil {
		return Result{}, err
	}
	if req.Addr == "" {
		return Result{}, errors.New("loadgen: no MLLP address")
	}
	if len(req.Message) == 0 {
		return Result{}, errors.New("loadgen: no message to send")
	}
	check := req.Check
	if check == nil {
		id := controlID(req.Message)
		check = func(ack []byte) error { return CheckACK(ack, id) }
	}

	// reqCtx bounds messages in flight: cancelled with ctx, or at d+grace.
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	budget := o.budget()
	workers := make([]*mllpWorker, concurrency)
	tallies := make([]*tally, concurrency)
	for i := range workers {
		workers[i] = &mllpWorker{
			client: mllp.NewClient(req.Addr, req.TLS, mllp.ClientOptions{}),
			msg:    req.Message,
			check:  check,
			budget: budget,
			tally:  newTally(),
		}
		tallies[i] = &workers[i].tally
	}

	return drive(ctx, cancel, d+o.grace, d, tallies, func(i int, deadline time.Time) {
		defer workers[i].client.Close()
		workers[i].run(ctx, reqCtx, deadline)
	}), ctx.Err()
}

type mllpWorker struct {
	client *mllp.Client
	msg    []byte
	check  func([]byte) error
	budget *atomic.Int64
	tally
}

func (w *mllpWorker) run(ctx, reqCtx context.Context, deadline time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(deadline) || !take(w.budget) {
			return
		}
		ack, err := w.client.Send(reqCtx, w.msg)
		t1 := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return // cancelled by the caller: not the server's fault
			}
			w.requests++
			w.fail(err)
			continue
		}
		w.requests++
		if cerr := w.check(ack); cerr != nil {
			w.fail(fmt.Errorf("%w: %w", ErrCheck, cerr))
			continue
		}
		w.lat = append(w.lat, t1.Sub(t0))
	}
}

// CheckACK returns nil when ack is an HL7v2 ACK accepting the message whose control id
// (MSH-10) is controlID: its MSA-1 is AA or CA, and its MSA-2 is controlID (not compared
// when controlID is empty).
func CheckACK(ack []byte, controlID string) error {
	msa := segment(ack, "MSA")
	if msa == nil {
		return fmt.Errorf("no MSA segment in the answer: %.200q", ack)
	}
	code, ref := field(msa, 1), field(msa, 2)
	if !bytes.Equal(code, []byte("AA")) && !bytes.Equal(code, []byte("CA")) {
		return fmt.Errorf("MSA-1 is %q, not AA: %.200q", code, ack)
	}
	if controlID != "" && string(ref) != controlID {
		return fmt.Errorf("MSA-2 is %q, the message's MSH-10 is %q", ref, controlID)
	}
	return nil
}

// controlID is the MSH-10 (its first component) of the first message in msg ("" when
// there is none).
func controlID(msg []byte) string {
	msh := segment(msg, "MSH")
	if msh == nil {
		return ""
	}
	// MSH-1 is the separator itself, so MSH-10 is the ninth field after the name; an
	// ACK's MSA-2 holds its first component.
	id := field(msh, 9)
	if len(msh) > 4 {
		id, _, _ = bytes.Cut(id, msh[4:5])
	}
	return string(id)
}

// segment is the first segment of msg named name (its name included), or nil.
func segment(msg []byte, name string) []byte {
	for len(msg) > 0 {
		line, rest, _ := bytes.Cut(msg, []byte{'\r'})
		line = bytes.TrimLeft(line, "\n")
		if len(line) > len(name) && string(line[:len(name)]) == name {
			return line
		}
		msg = rest
	}
	return nil
}

// field is field n of seg (0: the segment name), split on the byte after the name.
func field(seg []byte, n int) []byte {
	if len(seg) < 4 {
		return nil
	}
	sep := seg[3]
	for i := 0; i < n; i++ {
		_, rest, ok := bytes.Cut(seg, []byte{sep})
		if !ok {
			return nil
		}
		seg = rest
	}
	f, _, _ := bytes.Cut(seg, []byte{sep})
	return f
}
