package hl7

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Batch is an ER7 body split into its messages by SplitBatch: an HL7 batch
// (FHS, BHS, messages, BTS, FTS; the FHS and FTS optional), several messages
// one after another with no batch header, or one message.
type Batch struct {
	// Delims are those of the first FHS, BHS or MSH: the ones to answer in.
	Delims Delimiters
	// File is the FHS and Header the BHS (the first, when a file holds
	// several batches); their Segment is "" when there is none.
	File, Header BatchHeader
	// Messages are the messages in order, each from its MSH up to the end of
	// its last segment (terminator included), before the next MSH, BHS, BTS,
	// FHS or FTS. Each is a slice of the body SplitBatch was given, not a
	// copy, and is not checked: Parse each to find out whether it is valid.
	Messages [][]byte
	// Warnings report what was odd but did not stop the split: a BTS-1 or
	// FTS-1 count that does not match, a missing trailer, segments outside
	// any message (ignored).
	Warnings []string
}

// BatchHeader is an FHS or a BHS, which have the same fields. Values are ER7
// as written: components, repetitions and escape sequences are left as they
// are, so a value copied into an answer (see NewBatchACK) is written back
// unchanged. Unescape a value to show it.
type BatchHeader struct {
	Segment                         string // "FHS" or "BHS"; "" when absent
	SendingApp, SendingFacility     string // FHS-3/BHS-3, FHS-4/BHS-4
	ReceivingApp, ReceivingFacility string // -5, -6
	Time                            string // -7, as written (YYYYMMDDHHMMSS[+ZZZZ])
	Security                        string // -8
	Name                            string // -9: the file name/ID, or the batch name/ID/type
	Comment                         string // -10
	ControlID                       string // -11: the file or batch control ID
	RefControlID                    string // -12: the control ID this one answers
}

// maxBatchWarnings caps Batch.Warnings, so that a body of a million stray
// lines does not yield a million warnings.
const maxBatchWarnings = 20

// SplitBatch splits body into its messages without parsing them (see Batch).
// Segments may end with CR, LF or CRLF, blank lines are skipped, and a
// leading UTF-8 byte order mark and MLLP framing are stripped, as Parse does.
// It works on the raw bytes in any character set DecodeCharset reads, since
// segment names and delimiters are ASCII.
//
// The error is a *ParseError, returned only when body is empty or does not
// start with an MSH, FHS or BHS segment. A batch with no messages (BTS-1 = 0)
// is not an error. A count in BTS-1 or FTS-1 that does not match what the
// batch or file holds is a warning: the messages found are what is
// processed.
//
// It takes one pass over body, so its time is linear in the size of body.
func SplitBatch(body []byte) (*Batch, error) {
	for len(body) > 0 {
		if body[0] == 0x0B {
			body = body[1:]
		} else if len(body) >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF {
			body = body[3:]
		} else {
			break
		}
	}
	s := batchSplitter{body: body, b: &Batch{}, msgStart: -1}
	// Track the next CR and the next LF apart, so each is found with one
	// IndexByte however the lines end.
	nextCR, nextLF := -1, -1
	for pos := 0; pos < len(body); {
		if nextCR < pos {
			nextCR = indexByteFrom(body, pos, '\r')
		}
		if nextLF < pos {
			nextLF = indexByteFrom(body, pos, '\n')
		}
		end := min(nextCR, nextLF)
		next := min(end+1, len(body))
		if end+1 < len(body) && body[end] == '\r' && body[end+1] == '\n' {
			next = end + 2
		}
		start := pos
		for start < end && body[start] == 0x0B {
			start++ // the start of a further MLLP frame
		}
		// The segment's text, and its span with its terminator; an MLLP
		// end block with no CR before it is neither.
		textEnd, spanEnd := end, next
		for textEnd > start && body[textEnd-1] == 0x1C {
			textEnd--
			spanEnd = textEnd
		}
		if !isBlankLine(body[start:textEnd]) {
			if err := s.segment(body[start:textEnd], start, spanEnd); err != nil {
				return nil, err
			}
		}
		pos = next
	}
	return s.finish()
}

// indexByteFrom returns the index of c in b at or after from, or len(b).
func indexByteFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

// isBlankLine reports whether a line holds only spaces, tabs or MLLP framing.
func isBlankLine(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != 0x0B && c != 0x1C {
			return false
		}
	}
	return true
}

// batchSplitter is SplitBatch's state between segments.
type batchSplitter struct {
	body             []byte
	b                *Batch
	seg              int  // 1-based index of the current (non-blank) segment
	started          bool // an MSH, FHS or BHS has been seen
	msgStart, msgEnd int  // the current message's span; msgStart is -1 when none
	inBatch          bool // after a BHS, before its BTS
	batches          int  // BHS segments seen
	sinceBHS         int  // messages since the last BHS or BTS
	ftsSeen          bool
	dropped          int // warnings over maxBatchWarnings
}

func (s *batchSplitter) warn(format string, args ...any) {
	if len(s.b.Warnings) >= maxBatchWarnings {
		s.dropped++
		return
	}
	s.b.Warnings = append(s.b.Warnings, fmt.Sprintf(format, args...))
}

// segment handles one segment, text, which spans s.body[start:end] with its
// terminator.
func (s *batchSplitter) segment(text []byte, start, end int) error {
	s.seg++
	name := batchSegmentName(text)
	if !s.started {
		if name != "MSH" && name != "FHS" && name != "BHS" {
			return &ParseError{SegIndex: s.seg, Msg: fmt.Sprintf(
				`expected a message starting with "MSH" or a batch starting with "FHS" or "BHS", got %q`, batchSnippet(text))}
		}
		s.started = true
		s.b.Delims = s.delimiters(text, name)
	}
	if name == "" {
		if s.msgStart >= 0 {
			s.msgEnd = end
		} else {
			s.warn("segment %d (%q) is outside any message: ignored", s.seg, batchSnippet(text))
		}
		return nil
	}
	s.endMessage()
	switch name {
	case "MSH":
		s.msgStart, s.msgEnd = start, end
		s.sinceBHS++
	case "FHS":
		if s.b.File.Segment != "" {
			s.warn("segment %d is a second FHS: only the first is read", s.seg)
		} else {
			s.b.File = readBatchHeader(text, name)
			if s.seg != 1 {
				s.warn("segment %d is an FHS, which should be the first segment", s.seg)
			}
		}
	case "BHS":
		if s.inBatch {
			s.warn("segment %d is a BHS before the BTS of the batch before it", s.seg)
		}
		s.batches++
		if s.batches == 1 {
			s.b.Header = readBatchHeader(text, name)
		}
		s.inBatch, s.sinceBHS = true, 0
	case "BTS":
		if !s.inBatch {
			s.warn("segment %d is a BTS without a BHS before it", s.seg)
		}
		s.checkCount(text, "BTS-1", "the batch holds %d messages", s.sinceBHS)
		s.inBatch, s.sinceBHS = false, 0
	case "FTS":
		if s.b.File.Segment == "" {
			s.warn("segment %d is an FTS without an FHS", s.seg)
		}
		if s.inBatch {
			s.warn("segment %d is an FTS before the BTS of the last batch", s.seg)
		}
		s.checkCount(text, "FTS-1", "the file holds %d batches", s.batches)
		s.ftsSeen = true
	}
	return nil
}

// endMessage adds the current message, if any, to the batch.
func (s *batchSplitter) endMessage() {
	if s.msgStart >= 0 {
		s.b.Messages = append(s.b.Messages, s.body[s.msgStart:s.msgEnd])
		s.msgStart = -1
	}
}

// finish closes the last message and reports missing trailers.
func (s *batchSplitter) finish() (*Batch, error) {
	if !s.started {
		return nil, &ParseError{Msg: `empty body: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS"`}
	}
	s.endMessage()
	if s.inBatch {
		s.warn("the batch has no BTS")
	}
	if s.b.File.Segment != "" && !s.ftsSeen {
		s.warn("the file has no FTS")
	}
	if s.batches > 1 {
		s.warn("the file holds %d batches: Header is the first one's BHS", s.batches)
	}
	if s.dropped > 0 {
		s.b.Warnings = append(s.b.Warnings, fmt.Sprintf("and %d more warnings", s.dropped))
	}
	return s.b, nil
}

// checkCount warns when the count in field (BTS-1, FTS-1), if any, is not
// have.
func (s *batchSplitter) checkCount(text []byte, field, holds string, have int) {
	v := string(bytes.TrimSpace(batchField(text, 1)))
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		s.warn("segment %d: %s %q is not a number", s.seg, field, v)
	case n != have:
		s.warn("segment %d: %s is %d but "+holds, s.seg, field, n, have)
	}
}

// delimiters reads the delimiters from the first MSH, FHS or BHS.
func (s *batchSplitter) delimiters(text []byte, name string) Delimiters {
	fs := text[3]
	enc := text[4:]
	if i := bytes.IndexByte(enc, fs); i >= 0 {
		enc = enc[:i]
	}
	ok := len(enc) == 4 || len(enc) == 5
	for i := 0; ok && i < len(enc); i++ {
		ok = isPunctByte(enc[i]) && enc[i] != fs && bytes.IndexByte(enc[i+1:], enc[i]) < 0
	}
	if !ok {
		s.warn(`segment %d: %s-2 %q is not 4 encoding characters (e.g. ^~\&): using |^~\&`, s.seg, name, enc)
		return DefaultDelimiters
	}
	d := Delimiters{Field: fs, Component: enc[0], Repetition: enc[1], Escape: enc[2], Subcomponent: enc[3]}
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	return d
}

// batchSegmentName returns "MSH", "FHS", "BHS", "BTS" or "FTS" when text is
// one of those segments, else "". MSH, FHS and BHS must be followed by their
// field separator; BTS and FTS may stand alone.
func batchSegmentName(text []byte) string {
	if len(text) < 3 || (len(text) > 3 && !isPunctByte(text[3])) {
		return ""
	}
	switch name := string(text[:3]); name {
	case "MSH", "FHS", "BHS":
		if len(text) > 3 {
			return name
		}
	case "BTS", "FTS":
		return name
	}
	return ""
}

// batchField returns field n (n >= 1) of a segment that is not a header:
// the n-th after its name, split on the separator after the name.
func batchField(text []byte, n int) []byte {
	if len(text) < 4 {
		return nil
	}
	fs := text[3]
	rest := text[4:]
	for ; n > 1; n-- {
		i := bytes.IndexByte(rest, fs)
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
	if i := bytes.IndexByte(rest, fs); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// readBatchHeader reads an FHS or BHS, whose field 1 is the separator after
// the name, so the first field split off is field 2.
func readBatchHeader(text []byte, name string) BatchHeader {
	var f [13]string
	fs := text[3]
	rest := text[4:]
	for n := 2; n <= 12; n++ {
		i := bytes.IndexByte(rest, fs)
		if i < 0 {
			f[n] = string(rest)
			break
		}
		f[n] = string(rest[:i])
		rest = rest[i+1:]
	}
	return BatchHeader{Segment: name,
		SendingApp: f[3], SendingFacility: f[4], ReceivingApp: f[5], ReceivingFacility: f[6],
		Time: f[7], Security: f[8], Name: f[9], Comment: f[10], ControlID: f[11], RefControlID: f[12]}
}

// batchSnippet is the start of a segment for messages: at most 20 bytes, cut
// on a UTF-8 boundary.
func batchSnippet(text []byte) string {
	if len(text) > 20 {
		n := 20
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	return string(text)
}

// BatchACK is the answer to a batch: a batch (in a file when the inbound was
// one) holding the acknowledgements of its messages, in their order.
//
// When to answer with a batch rather than with one ACK per message is the
// connector's choice. HL7 (v2.5 §2.10.3) answers a batch with a batch, and a
// suggestion is:
//
//   - MLLP: a frame holding a batch (BHS … BTS) is answered with one frame
//     holding a BatchACK; a frame holding a single message with a single ACK.
//   - $ingest (HTTP): a batch body is answered with one ACK per message in
//     one response, since each message is accepted or refused on its own and
//     the HTTP status answers the request as a whole.
//
// All header fields are ER7, written as given (Escape plain text first); the
// batch is written with Delims, the inbound batch's. The ACKs are written as
// given, each ending with CR, so build them with the same delimiters for a
// batch that does not use |^~\& (ACK.Bytes writes |^~\&, which each ACK's
// own MSH declares, and most receivers accept).
type BatchACK struct {
	Delims                          Delimiters // the inbound Batch.Delims; zero means |^~\&
	SendingApp, SendingFacility     string     // BHS-3, BHS-4 (and FHS-3, FHS-4)
	ReceivingApp, ReceivingFacility string     // BHS-5, BHS-6 (and FHS-5, FHS-6)
	// Time is BHS-7 and FHS-7, formatted YYYYMMDDHHMMSS in its own
	// location; a zero Time leaves them empty.
	Time         time.Time
	Comment      string // BHS-10
	ControlID    string // BHS-11: this answer's batch control ID
	RefControlID string // BHS-12: the inbound BHS-11
	// File wraps the batch in FHS … FTS|1, to answer a file.
	File             bool
	FileControlID    string // FHS-11
	RefFileControlID string // FHS-12: the inbound FHS-11
	// ACKs are complete acknowledgement messages (e.g. ACK.Bytes). Empty
	// ones are left out; BTS-1 counts the rest.
	ACKs [][]byte
}

// NewBatchACK returns the answer to in holding acks: the sending and
// receiving application and facility swapped from in's BHS (or FHS), the
// control IDs to refer to from BHS-11 and FHS-11, in a file when in was one.
// The caller sets Time, ControlID and FileControlID, and may replace the
// sending application and facility with its own.
func NewBatchACK(in *Batch, acks [][]byte) BatchACK {
	h := in.Header
	if h.Segment == "" {
		h = in.File
	}
	return BatchACK{
		Delims:     in.Delims,
		SendingApp: h.ReceivingApp, SendingFacility: h.ReceivingFacility,
		ReceivingApp: h.SendingApp, ReceivingFacility: h.SendingFacility,
		RefControlID:     in.Header.ControlID,
		File:             in.File.Segment != "",
		RefFileControlID: in.File.ControlID,
		ACKs:             acks,
	}
}

// Bytes renders the answer, each segment ending with CR:
//
//	FHS|^~\&|SendingApp|SendingFacility|ReceivingApp|ReceivingFacility|Time||||FileControlID|RefFileControlID
//	BHS|^~\&|SendingApp|SendingFacility|ReceivingApp|ReceivingFacility|Time|||Comment|ControlID|RefControlID
//	MSH|…  (each ACK)
//	MSA|…
//	BTS|<number of ACKs>
//	FTS|1
//
// with FHS and FTS only when File is set, and empty trailing fields left out.
func (a BatchACK) Bytes() []byte {
	d := a.Delims
	if d.Field == 0 {
		d = DefaultDelimiters
	}
	var ts string
	if !a.Time.IsZero() {
		ts = a.Time.Format("20060102150405")
	}
	n := 256 + len(a.Comment)
	for _, m := range a.ACKs {
		n += len(m) + 1
	}
	b := make([]byte, 0, n)
	if a.File {
		b = a.appendHeader(b, "FHS", d, ts, "", a.FileControlID, a.RefFileControlID)
	}
	b = a.appendHeader(b, "BHS", d, ts, a.Comment, a.ControlID, a.RefControlID)
	count := 0
	for _, m := range a.ACKs {
		m = bytes.TrimRight(m, "\r\n")
		if len(m) == 0 {
			continue
		}
		b = append(append(b, m...), '\r')
		count++
	}
	b = append(b, "BTS"...)
	b = strconv.AppendInt(append(b, d.Field), int64(count), 10)
	b = append(b, '\r')
	if a.File {
		b = append(append(b, "FTS"...), d.Field, '1', '\r')
	}
	return b
}

// appendHeader appends an FHS or BHS segment and its CR.
func (a BatchACK) appendHeader(b []byte, name string, d Delimiters, ts, comment, id, ref string) []byte {
	fields := [...]string{a.SendingApp, a.SendingFacility, a.ReceivingApp, a.ReceivingFacility,
		ts, "", "", comment, id, ref} // fields 3 to 12
	last := len(fields)
	for last > 0 && fields[last-1] == "" {
		last--
	}
	b = append(b, name...)
	b = append(b, d.Field, d.Component, d.Repetition, d.Escape, d.Subcomponent)
	if d.Truncation != 0 {
		b = append(b, d.Truncation)
	}
	for _, f := range fields[:last] {
		b = append(append(b, d.Field), f...)
	}
	return append(b, '\r')
}
