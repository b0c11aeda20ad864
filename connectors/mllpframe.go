package connectors

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"junction/engine"
	"junction/fhir"
	"junction/hl7"
	"junction/mllp"
	"junction/transforms"
)

// How an MLLP listener answers a frame: the frame is refused whole when it holds more
// messages than max_messages_per_frame, charged against the listener's memory budget
// (answered AE, busy, when there is no room), then split and each message processed by
// the channel that takes it.

// handle answers one frame: its messages, each processed by its channel in order, get an
// ACK each, in one batch for a batch (or for several messages in one frame).
func (l *mllpListener) handle(ctx context.Context, c *mllp.Conn, f mllp.Frame) []byte {
	log := l.log.With("listen", l.addr, "remote", c.RemoteAddr().String())
	switch {
	case f.Skipped > 2:
		log.Warn("mllp: bytes outside a frame skipped", "bytes", f.Skipped)
	case f.Skipped > 0: // most likely an LF (or CR LF) some senders put after each frame
		log.Debug("mllp: bytes outside a frame skipped", "bytes", f.Skipped)
	}
	if len(f.Data) == 0 {
		log.Info("mllp: empty frame: nothing to answer")
		return nil
	}
	if n, first := countMessages(f.Data, l.settings.maxMessages); n > l.settings.maxMessages {
		return l.tooMany(c, log, f.Data, first)
	}
	charge := engine.MemoryFactor * int64(len(f.Data))
	wait, cancel := context.WithTimeout(ctx, engine.MemoryWait)
	granted := l.budget.Acquire(wait, charge)
	cancel()
	if granted {
		defer l.budget.Release(charge)
	}
	received := time.Now()
	split := splitHL7
	if !granted {
		split = splitHeads // to answer AE: the messages' MSH segments are enough
	}
	batch, msgs, err := split(f.Data)
	if err != nil {
		l.drop(c, log, "the frame holds no HL7v2 message", "err", err, "start", snippetOf(f.Data))
		return nil
	}
	for _, w := range batch.Warnings {
		log.Warn("mllp: batch", "warning", w)
	}
	for i, m := range msgs {
		if !m.hasMSH || m.h.field(10) == "" {
			l.drop(c, log, fmt.Sprintf("message %d of %d in the frame has no control id (MSH-10) to answer; nothing in the frame was processed", i+1, len(msgs)), "start", snippetOf(m.raw))
			return nil
		}
	}
	var acks [][]byte
	if granted {
		meta := connMeta(c)
		acks = make([][]byte, len(msgs))
		for i := range msgs {
			acks[i] = l.processOne(ctx, log, &msgs[i], meta, received)
		}
	} else {
		acks = l.busy(log, msgs, len(f.Data))
	}
	if batch.Header.Segment == "" && batch.File.Segment == "" && len(msgs) == 1 {
		return acks[0]
	}
	return l.batchAnswer(batch, msgs, acks)
}

// busy answers each message of a frame that found no room in the memory budget within
// engine.MemoryWait: AE, send it again. Nothing of the frame is processed or stored.
func (l *mllpListener) busy(log *slog.Logger, msgs []inMessage, size int) [][]byte {
	st := l.budget.Stats()
	log.Warn("mllp: frame answered AE: no room in the listener's memory budget", "messages", len(msgs), "bytes", size,
		"charge", humanSize(engine.MemoryFactor*int64(size)), "in_use", humanSize(st.InUse), "max_memory", humanSize(st.Budget))
	r := refuse(http.StatusServiceUnavailable, "AE", fhir.CodeTransient, "the listener is busy: the message was not accepted; send it again shortly")
	l.countRefused(len(msgs), r) // metrics.go
	acks := make([][]byte, len(msgs))
	for i, m := range msgs {
		acks[i] = m.cs.Encode(mllpACK(l.ackFor(m.h), m.h, r, nil, m.text))
	}
	return acks
}

// tooMany answers a frame holding more than max_messages_per_frame messages, the first
// of which starts at first: one AR, to the first message, in a batch (as a frame of
// several messages is answered), naming the limit. Nothing of the frame is processed.
func (l *mllpListener) tooMany(c *mllp.Conn, log *slog.Logger, data []byte, first int) []byte {
	most := l.settings.maxMessages
	line := data[first:]
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	text, cs, _ := hl7.DecodeCharset(line)
	h, ok := readMSH(text)
	b, err := hl7.SplitBatch(data[:first+len(line)]) // the FHS and BHS before it, and it
	if !ok || h.field(10) == "" || err != nil {
		l.drop(c, log, fmt.Sprintf("the frame holds more than %d messages (max_messages_per_frame) and its first has no control id (MSH-10) to answer", most), "start", snippetOf(data))
		return nil
	}
	r := refuse(http.StatusRequestEntityTooLarge, "AR", fhir.CodeTooLong, "the frame holds more than %d messages, the most this listener takes in one frame: none of them was processed; send them in smaller batches", most)
	log.Warn("mllp: frame answered AR: too many messages", "control_id", h.field(10), "max_messages_per_frame", most, "bytes", len(data))
	l.countRefused(1, r) // metrics.go
	ack := cs.Encode(mllpACK(l.ackFor(h), h, r, nil, text))
	return l.batchAnswer(b, []inMessage{{raw: line, text: text, cs: cs, h: h, hasMSH: true}}, [][]byte{ack})
}

// countMessages counts the messages in an MLLP frame as hl7.SplitBatch splits it (a
// segment named MSH starts each), without keeping anything: up to limit+1, where it
// stops. first is where the first message starts (-1: none).
func countMessages(data []byte, limit int) (n, first int) {
	first = -1
	data, off := trimFrameStart(data)
	for pos := 0; pos < len(data) && n <= limit; {
		start := pos
		for start < len(data) && data[start] == mllp.StartBlock {
			start++
		}
		if seg := data[start:]; len(seg) > 3 && string(seg[:3]) == "MSH" && isPunct(seg[3]) {
			if n++; first < 0 {
				first = off + start
			}
		}
		i := bytes.IndexAny(data[start:], "\r\n")
		if i < 0 {
			break
		}
		pos = start + i + 1
	}
	return n, first
}

// trimFrameStart drops the start blocks and byte order marks SplitBatch skips at the
// start of a body, and says how many bytes it dropped.
func trimFrameStart(data []byte) ([]byte, int) {
	off := 0
	for {
		switch {
		case len(data) > 0 && data[0] == mllp.StartBlock:
			data, off = data[1:], off+1
		case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
			data, off = data[3:], off+3
		default:
			return data, off
		}
	}
}

// isPunct reports whether c may be a field separator (as hl7 reads segment names).
func isPunct(c byte) bool {
	return c > ' ' && c < 0x7F && !isAlnum(c)
}

// splitHeads splits body as splitHL7 does, but decodes only each message's MSH segment:
// enough to answer each message without processing it.
func splitHeads(body []byte) (*hl7.Batch, []inMessage, error) {
	batch, err := hl7.SplitBatch(body)
	if err != nil {
		return nil, nil, err
	}
	msgs := make([]inMessage, len(batch.Messages))
	for i, raw := range batch.Messages {
		line := raw
		if j := bytes.IndexAny(line, "\r\n"); j >= 0 {
			line = line[:j]
		}
		m := &msgs[i]
		m.raw = raw
		m.text, m.cs, _ = hl7.DecodeCharset(line)
		m.h, m.hasMSH = readMSH(m.text)
	}
	return batch, msgs, nil
}

// ackFor is the ack block of the channel that takes a message with header h (the first
// channel's when none does).
func (l *mllpListener) ackFor(h mshHeader) ackConfig {
	if r := l.route(h); r != nil {
		return r.ack
	}
	return l.first.ack
}

// processOne runs one message through the channel that takes it, and returns its ACK in
// the message's character set.
func (l *mllpListener) processOne(ctx context.Context, log *slog.Logger, m *inMessage, connMeta map[string]string, received time.Time) []byte {
	for _, w := range m.warnings {
		log.Warn("mllp: character set", "control_id", m.h.field(10), "warning", w)
	}
	route := l.route(m.h)
	cfg := l.first.ack
	var r *ackReply
	var parsed *transforms.Message
	if route == nil {
		// What the listener takes is the operator's to know, not any sender's: the log
		// has it, the ACK says only that this message is not taken.
		log.Warn("mllp: message matches no channel", "control_id", m.h.field(10), "message", describeMSH(m.h), "listener_takes", l.takes())
		r = refuse(http.StatusUnprocessableEntity, "AR", fhir.CodeNotSupported, "message type %s to %s/%s matches no channel: it is not taken here",
			orNone(m.h.messageType()), orNone(m.h.component(5, 1)), orNone(m.h.component(6, 1)))
	} else if r = channelRefusal(l.eng, route.channel); r != nil {
		cfg = route.ack // a channel stopped or paused by an operator: AE, send it again later
	} else {
		cfg = route.ack
		res := route.channel.Process(ctx, m.inbound(connMeta, received))
		r, parsed = resultReply(l.log, route.channel, res), res.Msg
	}
	if r.code != "AA" {
		log.Info("mllp: message answered "+r.code, "control_id", m.h.field(10), "reason", r.issue.Diagnostics)
	}
	l.observeMessage(route, r, received) // metrics.go
	return m.cs.Encode(mllpACK(cfg, m.h, r, parsed, m.text))
}

// tooLarge answers a frame over max_message_bytes with AR, when its head holds an MSH
// with a control id; otherwise it closes the connection.
func (l *mllpListener) tooLarge(_ context.Context, c *mllp.Conn, tl *mllp.TooLargeError) []byte {
	log := l.log.With("listen", l.addr, "remote", c.RemoteAddr().String())
	var h mshHeader
	ok := false
	text, cs, _ := hl7.DecodeCharset(tl.Head)
	if b, err := hl7.SplitBatch(text); err == nil && len(b.Messages) > 0 {
		h, ok = readMSH(b.Messages[0])
	}
	if !ok || h.field(10) == "" {
		l.drop(c, log, fmt.Sprintf("a frame of %d bytes is over max_message_bytes (%d) and its start holds no control id (MSH-10) to answer", tl.Size, tl.Max), "start", snippetOf(tl.Head))
		return nil
	}
	cfg := l.ackFor(h)
	r := refuse(http.StatusRequestEntityTooLarge, "AR", fhir.CodeTooLong, "the message is %d bytes, larger than the %s limit of this listener", tl.Size, humanSize(int64(tl.Max)))
	log.Info("mllp: message answered AR", "control_id", h.field(10), "reason", r.issue.Diagnostics)
	l.countRefused(1, r) // metrics.go
	return cs.Encode(mllpACK(cfg, h, r, nil, nil))
}

// batchAnswer is the answer to a batch frame (or to several messages in one frame): a
// batch (in a file for a file) holding each message's ACK in order. Its header swaps the
// inbound BHS's sender and receiver (for messages without a BHS, the first MSH's), as
// written, in the charset of the frame; ack.application and ack.facility replace ours.
func (l *mllpListener) batchAnswer(b *hl7.Batch, msgs []inMessage, acks [][]byte) []byte {
	ba := hl7.NewBatchACK(b, acks)
	ba.Time = time.Now()
	ba.ControlID = uuid.NewString()
	if ba.File {
		ba.FileControlID = uuid.NewString()
	}
	cfg, cs := l.first.ack, hl7.CharsetUTF8
	if len(msgs) > 0 {
		cfg, cs = l.ackFor(msgs[0].h), msgs[0].cs
		if b.Header.Segment == "" && b.File.Segment == "" {
			if h, ok := readMSH(msgs[0].raw); ok { // as written: the batch is in its delimiters
				first := func(n int) string { v, _, _ := strings.Cut(h.field(n), string(h.delims.Repetition)); return v }
				ba.SendingApp, ba.SendingFacility = first(5), first(6)
				ba.ReceivingApp, ba.ReceivingFacility = first(3), first(4)
			}
		}
	}
	d := ba.Delims
	if d.Field == 0 {
		d = hl7.DefaultDelimiters
	}
	if cfg.application != "" {
		ba.SendingApp = string(cs.Encode([]byte(hl7.Escape(cfg.application, d))))
	}
	if cfg.facility != "" {
		ba.SendingFacility = string(cs.Encode([]byte(hl7.Escape(cfg.facility, d))))
	}
	return ba.Bytes()
}
