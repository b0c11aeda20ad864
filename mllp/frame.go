package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The framing bytes: a frame is StartBlock, the message, EndBlock, CarriageReturn.
const (
	StartBlock     byte = 0x0B
	EndBlock       byte = 0x1C
	CarriageReturn byte = 0x0D
)

const (
	// DefaultMaxMessageBytes is the largest message taken when no limit is given
	// (the same 10 MB as the HTTP sources' max_body).
	DefaultMaxMessageBytes = 10 << 20

	// HeadSize is how much of an oversize message a TooLargeError keeps: enough for the
	// MSH segment, so the caller can read the control id and answer AR.
	HeadSize = 4 << 10

	// readBufferSize is the bufio buffer of a Reader: a typical message arrives whole
	// in one buffer, and a connection costs no more than this while idle.
	readBufferSize = 16 << 10
)

var (
	// ErrTooLarge is matched (errors.Is) by a *TooLargeError.
	ErrTooLarge = errors.New("mllp: message too large")
	// ErrTruncated is matched (errors.Is) by a *TruncatedError.
	ErrTruncated = errors.New("mllp: stream ended inside a frame")
	// ErrEndBlockInMessage is returned for a message to send that contains 0x1C, which
	// would end its frame early.
	ErrEndBlockInMessage = errors.New("mllp: message contains the end-block byte 0x1C")
)

// A TooLargeError reports a frame whose message is longer than the Reader's limit. The
// whole frame has been read past (not kept), so the stream is at a frame boundary and
// the next ReadFrame reads the next frame.
type TooLargeError struct {
	Max  int    // the limit, in message bytes
	Size int64  // the message's length (framing excluded)
	Head []byte // its first HeadSize bytes (fewer if the limit is smaller)
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mllp: message of %d bytes is larger than the limit of %d", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// A TruncatedError reports a stream that ended after a start block but before the end
// block that closes its frame.
type TruncatedError struct {
	Len int64 // message bytes received before the end of the stream
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("mllp: stream ended inside a frame after %d message bytes", e.Len)
}

// Is makes errors.Is(err, ErrTruncated) true.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// A Frame is one message read by a Reader.
type Frame struct {
	// Data is the message without its framing. It belongs to the caller (the Reader
	// does not reuse it). An empty frame gives an empty, non-nil Data.
	Data []byte
	// Skipped counts the bytes discarded before the frame's start block: anything
	// that is not a frame, such as an LF after each end block. Worth a log line.
	Skipped int
}

// A Reader reads MLLP frames one after another from a stream. It reads through a bufio
// buffer, holds at most the limit of one message besides it, and does work linear in
// the bytes read. A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	skipped int  // bytes skipped since the last frame returned
	cr      bool // an end block was the last byte read: a CR may follow
}

// NewReader returns a Reader of r taking messages of at most maxMessageBytes (0 or
// less: DefaultMaxMessageBytes).
func NewReader(r io.Reader, maxMessageBytes int) *Reader {
	return newReaderSize(r, maxMessageBytes, readBufferSize)
}

func newReaderSize(r io.Reader, maxMessageBytes, size int) *Reader {
	if maxMessageBytes <= 0 {
		maxMessageBytes = DefaultMaxMessageBytes
	}
	return &Reader{br: bufio.NewReaderSize(r, size), max: maxMessageBytes}
}

// Wait blocks until the start block of the next frame has arrived, skipping (and
// counting, for the next Frame's Skipped) the bytes before it. It returns io.EOF when the
// stream ends first, or the reader's error. An error from Wait leaves the Reader usable:
// a server sets an idle deadline, calls Wait, then sets the deadline for the frame.
func (r *Reader) Wait() error {
	for {
		if _, err := r.br.Peek(1); err != nil {
			return err
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if r.cr {
			r.cr = false
			if buf[0] == CarriageReturn {
				r.br.Discard(1)
				continue
			}
		}
		if i := bytes.IndexByte(buf, StartBlock); i >= 0 {
			r.br.Discard(i)
			r.skipped += i
			return nil
		}
		r.br.Discard(len(buf))
		r.skipped += len(buf)
	}
}

// ReadFrame reads the next frame. Bytes before its start block are skipped and counted
// in Skipped. The frame ends at the first end block (0x1C); the CR after it is taken
// when present and may be missing (the stream may end there, or the next start block
// follow). A 0x0B inside a message is part of it.
//
// Errors: io.EOF at the end of the stream between frames (Skipped counts what came
// after the last frame); a *TruncatedError (ErrTruncated) when it ends inside one; a
// *TooLargeError (ErrTooLarge) for a message over the limit, after which the Reader may
// go on with the next frame; otherwise the underlying reader's error, after which the
// position in the stream is lost and the connection should be closed.
func (r *Reader) ReadFrame() (Frame, error) {
	if err := r.Wait(); err != nil {
		if err != io.EOF {
			return Frame{}, err // the skipped bytes stay counted for the next frame
		}
		f := Frame{Skipped: r.skipped}
		r.skipped = 0
		return f, io.EOF
	}
	f := Frame{Skipped: r.skipped}
	r.skipped = 0
	var err error
	r.br.Discard(1) // the start block
	f.Data, err = r.readMessage()
	return f, err
}

// readMessage reads up to the end block, keeping at most r.max bytes.
func (r *Reader) readMessage() ([]byte, error) {
	var data []byte
	for {
		chunk, err := r.br.ReadSlice(EndBlock)
		end := err == nil
		if end {
			chunk = chunk[:len(chunk)-1]
		}
		if len(data)+len(chunk) > r.max {
			return nil, r.skipOversize(data, chunk, end)
		}
		data = appendBounded(data, chunk, r.max)
		switch {
		case end:
			r.ended()
			if data == nil {
				data = []byte{}
			}
			return data, nil
		case err == io.EOF:
			return nil, &TruncatedError{Len: int64(len(data))}
		case err != bufio.ErrBufferFull:
			return nil, err
		}
	}
}

// skipOversize keeps the head of a message found to be over the limit and reads past
// the rest of its frame without keeping it.
func (r *Reader) skipOversize(data, chunk []byte, end bool) error {
	head := make([]byte, 0, min(HeadSize, r.max))
	head = append(head, data[:min(len(data), cap(head))]...)
	head = append(head, chunk[:min(len(chunk), cap(head)-len(head))]...)
	size := int64(len(data) + len(chunk))
	for !end {
		var err error
		chunk, err = r.br.ReadSlice(EndBlock)
		end = err == nil
		if end {
			chunk = chunk[:len(chunk)-1]
		}
		size += int64(len(chunk))
		if err == io.EOF {
			return &TruncatedError{Len: size}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
	r.ended()
	return &TooLargeError{Max: r.max, Size: size, Head: head}
}

// ended takes the CR after an end block if it has arrived already, and otherwise leaves
// it for the next Wait: a sender that omits it is waiting for an answer, so the Reader
// must not block on it.
func (r *Reader) ended() {
	r.cr = false
	if r.br.Buffered() > 0 {
		if b, _ := r.br.Peek(1); b[0] == CarriageReturn {
			r.br.Discard(1)
		}
		return
	}
	r.cr = true
}

// appendBounded appends chunk to data, growing it geometrically but never beyond max
// (which len(data)+len(chunk) does not exceed).
func appendBounded(data, chunk []byte, limit int) []byte {
	if len(chunk) == 0 {
		return data
	}
	n := len(data) + len(chunk)
	if n > cap(data) {
		grown := make([]byte, len(data), min(limit, max(n, 2*cap(data))))
		copy(grown, data)
		data = grown
	}
	return append(data, chunk...)
}

// AppendFrame appends the frame of msg to dst.
func AppendFrame(dst, msg []byte) []byte {
	dst = append(dst, StartBlock)
	dst = append(dst, msg...)
	return append(dst, EndBlock, CarriageReturn)
}

// WriteFrame writes msg to w as one frame, in one Write. A message containing the end
// block byte cannot be framed: ErrEndBlockInMessage, and nothing is written.
func WriteFrame(w io.Writer, msg []byte) error {
	if err := checkMessage(msg); err != nil {
		return err
	}
	_, err := w.Write(AppendFrame(make([]byte, 0, len(msg)+3), msg))
	return err
}
