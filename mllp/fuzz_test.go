package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// event is one ReadFrame result, in a form that compares with ==-like ease.
type event struct {
	data    string
	nilData bool
	skipped int
	err     string // "", "EOF", "too large", "truncated"
	size    int64  // of a too-large or truncated frame
	head    string
}

func (e event) String() string {
	type fields event // without the String method
	return fmt.Sprintf("%+v", fields(e))
}

// reference reads in byte by byte as doc.go describes, the simplest way possible.
func reference(in []byte, limit int) []event {
	var evs []event
	i, skipped, afterEnd := 0, 0, false
	for {
		if afterEnd && i < len(in) && in[i] == CarriageReturn {
			i++
		}
		afterEnd = false
		for i < len(in) && in[i] != StartBlock {
			i++
			skipped++
		}
		if i == len(in) {
			return append(evs, event{nilData: true, skipped: skipped, err: "EOF"})
		}
		i++
		start := i
		for i < len(in) && in[i] != EndBlock {
			i++
		}
		if i == len(in) {
			return append(evs, event{nilData: true, skipped: skipped, err: "truncated", size: int64(i - start)})
		}
		msg := in[start:i]
		i++
		afterEnd = true
		if len(msg) > limit {
			head := msg[:min(HeadSize, limit)]
			evs = append(evs, event{nilData: true, skipped: skipped, err: "too large", size: int64(len(msg)), head: string(head)})
		} else {
			evs = append(evs, event{data: string(msg), skipped: skipped})
		}
		skipped = 0
	}
}

// events reads everything from r, checking the bounds of what it returns.
func events(t *testing.T, r *Reader, inLen int) []event {
	var evs []event
	for range inLen + 2 {
		f, err := r.ReadFrame()
		if len(f.Data) > r.max || cap(f.Data) > r.max {
			t.Fatalf("a frame of %d bytes (cap %d) over the limit of %d", len(f.Data), cap(f.Data), r.max)
		}
		e := event{data: string(f.Data), nilData: f.Data == nil, skipped: f.Skipped}
		var tl *TooLargeError
		var te *TruncatedError
		switch {
		case err == nil:
		case err == io.EOF:
			e.err = "EOF"
		case errors.As(err, &tl):
			if len(tl.Head) > r.max || len(tl.Head) > HeadSize || tl.Size <= int64(r.max) {
				t.Fatalf("TooLargeError{Size %d, Head %d bytes} for a limit of %d", tl.Size, len(tl.Head), r.max)
			}
			e.err, e.size, e.head = "too large", tl.Size, string(tl.Head)
		case errors.As(err, &te):
			e.err, e.size = "truncated", te.Len
		default:
			t.Fatalf("unexpected error %T: %v", err, err)
		}
		evs = append(evs, e)
		if err != nil && e.err != "too large" {
			return evs
		}
	}
	t.Fatalf("no end after %d reads of %d bytes", inLen+2, inLen)
	return nil
}

func sameEvents(t *testing.T, what string, got, want []event) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(frame(adt)+frame("second")), uint16(0))
	f.Add([]byte("\x0bfirst\x1c\x0bsecond\x1c"), uint16(0))
	f.Add([]byte("junk\r\n"+frame("a")+"\n"+frame("")+"tail"), uint16(0))
	f.Add([]byte(frame("0123456789abcdefghij")+frame("ok")), uint16(10))
	f.Add([]byte("\x0bcut off"), uint16(3))
	f.Add([]byte("\x1c\x0d\x0d\x0b\x0b\x1c\x1c\x0d"), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		max := int(limit)%(2*HeadSize) + 1
		want := reference(in, max)
		sameEvents(t, "bytes.Reader", events(t, NewReader(bytes.NewReader(in), max), len(in)), want)
		sameEvents(t, "16-byte buffer, one byte a read",
			events(t, newReaderSize(iotest.OneByteReader(bytes.NewReader(in)), max, 16), len(in)), want)

		// The frames read, written back, read back the same and with nothing skipped.
		var out []byte
		var frames []event
		for _, e := range want {
			if e.err == "" {
				out = AppendFrame(out, []byte(e.data))
				frames = append(frames, event{data: e.data})
			}
		}
		frames = append(frames, event{nilData: true, err: "EOF"})
		sameEvents(t, "frames written back", events(t, NewReader(bytes.NewReader(out), max), len(out)), frames)

		// Well-formed input: the input's pieces between end blocks, each as a frame.
		var msgs []event
		out = out[:0]
		for _, m := range bytes.Split(in, []byte{EndBlock}) {
			if err := WriteFrame(bytes.NewBuffer(nil), m); err != nil {
				t.Fatal(err)
			}
			out = AppendFrame(out, m)
			msgs = append(msgs, event{data: string(m)})
		}
		msgs = append(msgs, event{nilData: true, err: "EOF"})
		sameEvents(t, "well-formed", events(t, NewReader(bytes.NewReader(out), len(in)+1), len(out)), msgs)
	})
}
