package mllp

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

const adt = "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|8457239|P|2.4\r" +
	"EVN|A01|20240213144932\rPID|1||0000000000^^^NHS^NH||Fernández^José||19800101|M\rPV1|1|E\r"

func frame(msg string) string { return "\x0b" + msg + "\x1c\x0d" }

// readAll reads frames until an error, returning the messages, the Frames and the error.
func readAll(t *testing.T, r *Reader) ([]string, []Frame, error) {
	t.Helper()
	var msgs []string
	var fs []Frame
	for range 1000 {
		f, err := r.ReadFrame()
		if err != nil {
			fs = append(fs, f)
			return msgs, fs, err
		}
		msgs = append(msgs, string(f.Data))
		fs = append(fs, f)
	}
	t.Fatal("no end after 1000 frames")
	return nil, nil, nil
}

func wantMessages(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n--\n") != strings.Join(want, "\n--\n") || len(got) != len(want) {
		t.Fatalf("messages:\n%q\nwant:\n%q", got, want)
	}
}

func TestFramesOneAfterAnotherAreReadInOrderThenEOF(t *testing.T) {
	in := frame(adt) + frame("second") + frame("third")
	msgs, fs, err := readAll(t, NewReader(strings.NewReader(in), 0))
	if err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
	wantMessages(t, msgs, adt, "second", "third")
	for _, f := range fs {
		if f.Skipped != 0 {
			t.Errorf("Skipped = %d, want 0", f.Skipped)
		}
	}
}

func TestAFrameSplitAcrossReadsIsReadWhole(t *testing.T) {
	in := frame(adt) + frame("second")
	for name, src := range map[string]io.Reader{
		"one byte a read": iotest.OneByteReader(strings.NewReader(in)),
		"half a read":     iotest.HalfReader(strings.NewReader(in)),
		"EOF with data":   iotest.DataErrReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			msgs, _, err := readAll(t, newReaderSize(src, 0, 16))
			if err != io.EOF {
				t.Fatalf("end: %v", err)
			}
			wantMessages(t, msgs, adt, "second")
		})
	}
}

func TestSeveralFramesInOneReadAreReadSeparately(t *testing.T) {
	in := frame("a") + frame("b") + frame("c")
	r := NewReader(iotest.DataErrReader(strings.NewReader(in)), 0) // all in one Read
	msgs, _, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	wantMessages(t, msgs, "a", "b", "c")
}

func TestAFrameWithoutItsFinalCRIsAccepted(t *testing.T) {
	in := "\x0bfirst\x1c" + "\x0bsecond\x1c\x0d" + "\x0bthird\x1c"
	msgs, fs, err := readAll(t, NewReader(iotest.OneByteReader(strings.NewReader(in)), 0))
	if err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	wantMessages(t, msgs, "first", "second", "third")
	for _, f := range fs {
		if f.Skipped != 0 {
			t.Errorf("Skipped = %d, want 0", f.Skipped)
		}
	}
}

// A sender that omits the CR waits for the answer: ReadFrame must return without it.
// Were it to wait, this test would block (nothing else is ever written to the pipe).
func TestTheReaderReturnsAFrameWithoutWaitingForTheCR(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr, 0)
	go pw.Write([]byte("\x0bfirst\x1c"))
	f, err := r.ReadFrame()
	if err != nil || string(f.Data) != "first" {
		t.Fatalf("ReadFrame = %q, %v", f.Data, err)
	}
	go func() {
		pw.Write([]byte("\x0d"))
		pw.Write([]byte("\x0bsecond\x1c\x0d"))
		pw.Close()
	}()
	f, err = r.ReadFrame()
	if err != nil || string(f.Data) != "second" || f.Skipped != 0 {
		t.Fatalf("ReadFrame = %q (skipped %d), %v; the late CR is not junk", f.Data, f.Skipped, err)
	}
}

func TestBytesBeforeAStartBlockAreSkippedAndCounted(t *testing.T) {
	in := "GET / HTTP/1.1\r\n" + frame("a") + "\n" + frame("b") + "\x1c\x0d\x0d" + frame("c")
	msgs, fs, err := readAll(t, NewReader(strings.NewReader(in), 0))
	if err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	wantMessages(t, msgs, "a", "b", "c")
	for i, want := range []int{16, 1, 3, 0} {
		if fs[i].Skipped != want {
			t.Errorf("frame %d: Skipped = %d, want %d", i, fs[i].Skipped, want)
		}
	}
}

func TestBytesAfterTheLastFrameAreCountedWithEOF(t *testing.T) {
	f, err := NewReader(strings.NewReader("\r\n\r\n"), 0).ReadFrame()
	if err != io.EOF || f.Skipped != 4 || f.Data != nil {
		t.Fatalf("ReadFrame = %+v, %v; want 4 skipped and io.EOF", f, err)
	}
}

func TestAnEmptyStreamIsEOF(t *testing.T) {
	f, err := NewReader(strings.NewReader(""), 0).ReadFrame()
	if err != io.EOF || f.Skipped != 0 {
		t.Fatalf("ReadFrame = %+v, %v", f, err)
	}
}

func TestAnEmptyFrameIsAnEmptyMessage(t *testing.T) {
	r := NewReader(strings.NewReader(frame("")+frame("next")), 0)
	f, err := r.ReadFrame()
	if err != nil || f.Data == nil || len(f.Data) != 0 {
		t.Fatalf("ReadFrame = %#v, %v; want an empty, non-nil message", f.Data, err)
	}
	if f, err = r.ReadFrame(); err != nil || string(f.Data) != "next" {
		t.Fatalf("then ReadFrame = %q, %v", f.Data, err)
	}
}

func TestAMessageOfExactlyTheLimitIsTaken(t *testing.T) {
	msg := strings.Repeat("x", 100)
	r := newReaderSize(strings.NewReader(frame(msg)+frame(msg+"y")), 100, 16)
	if f, err := r.ReadFrame(); err != nil || string(f.Data) != msg {
		t.Fatalf("ReadFrame = %d bytes, %v", len(f.Data), err)
	}
	if _, err := r.ReadFrame(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte more: %v, want ErrTooLarge", err)
	}
}

func TestAnOversizeFrameGivesItsHeadAndTheNextFrameIsRead(t *testing.T) {
	big := adt + strings.Repeat("OBX|1|TX|||"+strings.Repeat("z", 200)+"\r", 100)
	in := "\n" + frame(big) + "\n\n" + frame("after")
	for _, bufSize := range []int{16, 4096, readBufferSize} {
		r := newReaderSize(iotest.HalfReader(strings.NewReader(in)), 1000, bufSize)
		f, err := r.ReadFrame()
		var tl *TooLargeError
		if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ReadFrame: %v, want a *TooLargeError", err)
		}
		if tl.Size != int64(len(big)) || tl.Max != 1000 || string(tl.Head) != big[:1000] {
			t.Errorf("TooLargeError{Size %d, Max %d, Head %d bytes}, want Size %d and the first 1000 bytes",
				tl.Size, tl.Max, len(tl.Head), len(big))
		}
		if f.Skipped != 1 || f.Data != nil {
			t.Errorf("Frame = %+v with the error", f)
		}
		f, err = r.ReadFrame()
		if err != nil || string(f.Data) != "after" || f.Skipped != 2 {
			t.Fatalf("next ReadFrame = %q (skipped %d), %v", f.Data, f.Skipped, err)
		}
	}
}

func TestTheHeadOfAnOversizeFrameIsAtMostHeadSize(t *testing.T) {
	big := strings.Repeat("h", 3*HeadSize)
	_, err := NewReader(strings.NewReader(frame(big)), 2*HeadSize).ReadFrame()
	var tl *TooLargeError
	if !errors.As(err, &tl) || len(tl.Head) != HeadSize {
		t.Fatalf("ReadFrame: %v, want a head of %d bytes", err, HeadSize)
	}
}

// repeatReader yields the same byte for ever.
type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestAnOversizeFrameIsReadPastInMemoryBoundedByTheLimit(t *testing.T) {
	const limit, size = 1 << 20, 64 << 20
	src := io.MultiReader(strings.NewReader("\x0b"), io.LimitReader(repeatReader('A'), size),
		strings.NewReader("\x1c\x0d"+frame("after")))
	r := NewReader(src, limit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := r.ReadFrame()
	runtime.ReadMemStats(&after)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != size {
		t.Fatalf("ReadFrame: %v, want a *TooLargeError of %d bytes", err, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*limit {
		t.Errorf("reading a %d-byte frame over a %d-byte limit allocated %d bytes", size, limit, alloc)
	}
	if f, err := r.ReadFrame(); err != nil || string(f.Data) != "after" {
		t.Fatalf("next ReadFrame = %q, %v", f.Data, err)
	}
}

func TestAStreamEndingInsideAFrameIsTruncatedWithItsLength(t *testing.T) {
	r := NewReader(strings.NewReader(frame("whole")+"junk\x0bpartial"), 0)
	if f, err := r.ReadFrame(); err != nil || string(f.Data) != "whole" {
		t.Fatalf("ReadFrame = %q, %v", f.Data, err)
	}
	f, err := r.ReadFrame()
	var te *TruncatedError
	if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) || te.Len != 7 || f.Skipped != 4 {
		t.Fatalf("ReadFrame = %+v, %v; want ErrTruncated after 7 bytes, 4 skipped", f, err)
	}
}

func TestAStreamEndingInsideAnOversizeFrameIsTruncated(t *testing.T) {
	_, err := newReaderSize(strings.NewReader("\x0b"+strings.Repeat("x", 100)), 10, 16).ReadFrame()
	var te *TruncatedError
	if !errors.As(err, &te) || te.Len != 100 {
		t.Fatalf("ReadFrame: %v, want ErrTruncated after 100 bytes", err)
	}
}

func TestAReadErrorIsReturnedAsItIs(t *testing.T) {
	r := newReaderSize(iotest.TimeoutReader(strings.NewReader(frame("a")+frame(adt))), 0, 16)
	if f, err := r.ReadFrame(); err != nil || string(f.Data) != "a" {
		t.Fatalf("ReadFrame = %q, %v", f.Data, err)
	}
	if _, err := r.ReadFrame(); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("ReadFrame: %v, want iotest.ErrTimeout", err)
	}
}

// countingWriter counts the Write calls.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestWriteFrameWritesOneFrameInOneWrite(t *testing.T) {
	var w countingWriter
	if err := WriteFrame(&w, []byte(adt)); err != nil {
		t.Fatal(err)
	}
	if w.writes != 1 || w.String() != frame(adt) {
		t.Fatalf("%d writes of %q", w.writes, w.String())
	}
}

func TestWriteFrameRefusesAMessageContainingTheEndBlock(t *testing.T) {
	var w countingWriter
	if err := WriteFrame(&w, []byte("MSH|\x1c|")); err != ErrEndBlockInMessage || w.writes != 0 {
		t.Fatalf("WriteFrame: %v after %d writes, want ErrEndBlockInMessage and none", err, w.writes)
	}
}

func TestFramesWrittenAreReadBack(t *testing.T) {
	msgs := []string{adt, "", "\x0b inside", strings.Repeat("long ", 10000)}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := WriteFrame(&buf, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := readAll(t, NewReader(&buf, 0))
	if err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	wantMessages(t, got, msgs...)
}

func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  string
	}{
		{"adt", adt},
		{"16KiB", strings.Repeat(adt, 16<<10/len(adt))},
		{"1MiB", strings.Repeat(adt, 1<<20/len(adt))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var stream []byte
			for len(stream) < 8<<20 {
				stream = AppendFrame(stream, []byte(bc.msg))
			}
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(stream), 0)
				for {
					if _, err := r.ReadFrame(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
			}
		})
	}
}
