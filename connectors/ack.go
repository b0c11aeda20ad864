package connectors

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"junction/engine"
	"junction/fhir"
	"junction/hl7"
	"junction/hl7tofhir"
	"junction/transforms"
)

// What the HL7v2 sources ($ingest and mllp) answer, and the ACKs that carry it: the same
// message gets the same code from either (AA, AE or AR), for the same reasons.

// ackConfig is a source's ack block: MSH-3, MSH-4 of its ACKs and the MSH-12 used when
// the message's own version cannot be read.
type ackConfig struct{ application, facility, version string }

// ackReply is what we answer: an ACK code, an HTTP status (for $ingest) and an outcome.
type ackReply struct {
	status    int
	code      string // AA, AE, AR
	issue     fhir.Issue
	messageID int64
	header    http.Header
	reason    string // for the metrics, when the status does not tell (metrics.go)
}

func refuse(status int, code, issueCode, format string, args ...any) *ackReply {
	return &ackReply{status: status, code: code, issue: fhir.Issue{Severity: fhir.SeverityError, Code: issueCode, Diagnostics: fmt.Sprintf(format, args...)}}
}

// resultReply turns what became of a message its channel processed into the answer, with
// the code Channel.ACKCode decides: AE when it could not be stored (send again later), AA
// or AR (the channel's filtered_ack) when filtered, AE when it is in ERROR (errorReply),
// else AA.
func resultReply(log *slog.Logger, ch *engine.Channel, res engine.Result) *ackReply {
	if res.StoreErr != nil {
		log.Error("message not stored", "channel", ch.Name, "err", res.StoreErr)
		r := refuse(http.StatusServiceUnavailable, "AE", fhir.CodeTransient, "the message could not be stored and was not accepted; send it again later")
		r.header = http.Header{"Retry-After": {"5"}}
		r.reason = engine.RefusalStoreUnavailable
		return r
	}
	var r *ackReply
	switch code := ch.ACKCode(res); {
	case res.Status == engine.StatusFiltered:
		// Which filter, and its text, are the operator's: the stored message has them.
		if code == "AR" {
			r = refuse(http.StatusUnprocessableEntity, "AR", fhir.CodeBusinessRule, "message %d was received but not routed: filtered by channel %s", res.MessageID, ch.Name)
		} else {
			r = &ackReply{status: http.StatusOK, code: "AA", issue: fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational, Diagnostics: fmt.Sprintf("message %d received; not routed: filtered by channel %s", res.MessageID, ch.Name)}}
		}
	case code == "AE":
		r = errorReply(log, ch, res)
	default:
		r = &ackReply{status: http.StatusOK, code: "AA", issue: fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational, Diagnostics: fmt.Sprintf("message %d accepted", res.MessageID)}}
	}
	r.messageID = res.MessageID
	return r
}

// errorReply answers a message stored as ERROR. What is wrong with the content is the
// sender's to fix and is said (400 for content that does not parse, 422 for a value
// toFHIR() cannot convert); any other failure (a script failing at run time, output that
// cannot be written) is the operator's: the sender gets 422 and where the operator finds
// it, never the script's text or its place in routes.yaml, which the stored message and
// the log keep.
func errorReply(log *slog.Logger, ch *engine.Channel, res engine.Result) *ackReply {
	if text, status, ok := senderError(res.Err); ok {
		code := fhir.CodeProcessing
		if status == http.StatusBadRequest {
			code = fhir.CodeStructure
		}
		return refuse(status, "AE", code, "message %d: %s", res.MessageID, text)
	}
	log.Warn("message not processed", "channel", ch.Name, "message", res.MessageID, "err", res.Err)
	return refuse(http.StatusUnprocessableEntity, "AE", fhir.CodeProcessing, "%s", operatorError(ch.Name, res.MessageID, res.Err))
}

// senderError is the part of a processing error that its sender can act on, with the
// status to answer: content that does not parse (400) or a field toFHIR() cannot convert
// (422), without the script that found it. ok is false for every other error.
func senderError(err error) (text string, status int, ok bool) {
	var fe *hl7tofhir.FieldError
	var re *transforms.RuntimeError
	var ce *transforms.ContentError
	switch {
	case errors.As(err, &fe):
		return fe.Error(), http.StatusUnprocessableEntity, true
	case errors.As(err, &re):
		return "", 0, false
	case errors.As(err, &ce):
		return ce.Error(), http.StatusBadRequest, true
	}
	return "", 0, false
}

// operatorError tells the sender of message id that channel could not process it, and
// where the operator finds why.
func operatorError(channel string, id int64, err error) string {
	step := "transform"
	var re *transforms.RuntimeError
	if errors.As(err, &re) && strings.Contains(re.Script.Path, ".filter[") {
		step = "filter"
	}
	return fmt.Sprintf("message %d was received but could not be processed by channel %s's %s; the operator has the details under message id %d", id, channel, step, id)
}

// newACK is the ACK with code of the message msg (parsed; nil when it did not parse)
// whose content is body: sent by c.application and c.facility, a fresh control id,
// MSA-2 the message's MSH-10 and MSH-12 its version (c.version when it has none). The
// caller fills in the receiver and the text.
func (c ackConfig) newACK(code string, msg *transforms.Message, body []byte) hl7.ACK {
	ack := hl7.ACK{
		SendingApp:      c.application,
		SendingFacility: c.facility,
		Time:            time.Now(),
		ControlID:       uuid.NewString(),
		ProcessingID:    "P",
		Version:         c.version,
		Code:            code,
	}
	if msg != nil && msg.HL7 != nil {
		_, _, ack.RefControlID, ack.Version = msg.HL7.Header()
		if ack.Version == "" {
			ack.Version = c.version
		}
	} else {
		ack.RefControlID = sniffControlID(body)
	}
	return ack
}

// sniffControlID reads MSH-10 from a message that did not parse, so the ACK can still
// point at it.
func sniffControlID(body []byte) string {
	s := string(body)
	s = strings.TrimPrefix(s, "\ufeff")
	if len(s) < 4 || !strings.HasPrefix(s, "MSH") {
		return ""
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) < 4 {
		return ""
	}
	fields := strings.Split(s, s[3:4])
	if len(fields) > 9 {
		return fields[9]
	}
	return ""
}

// mshHeader is the MSH segment of a message, read without parsing the message: enough to
// route it and to answer it even when the rest does not parse.
type mshHeader struct {
	delims hl7.Delimiters
	fields []string // fields[i] is MSH-i as written (fields[0] is "MSH", fields[1] the separator)
}

// readMSH reads the first segment of msg, which must be an MSH with its delimiters.
func readMSH(msg []byte) (mshHeader, bool) {
	s := string(msg)
	s = strings.TrimPrefix(s, "\ufeff")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) < 5 || !strings.HasPrefix(s, "MSH") {
		return mshHeader{}, false
	}
	fs := s[3]
	enc, _, _ := strings.Cut(s[4:], string(fs))
	if len(enc) < 4 || isAlnum(fs) {
		return mshHeader{}, false
	}
	d := hl7.Delimiters{Field: fs, Component: enc[0], Repetition: enc[1], Escape: enc[2], Subcomponent: enc[3]}
	if len(enc) > 4 {
		d.Truncation = enc[4]
	}
	parts := strings.Split(s[4:], string(fs))
	return mshHeader{delims: d, fields: append([]string{"MSH", string(fs)}, parts...)}, true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// field is MSH-n as written ("" when absent).
func (h mshHeader) field(n int) string {
	if n < len(h.fields) {
		return h.fields[n]
	}
	return ""
}

// component is component c (1-based) of the first repetition of MSH-n, unescaped.
func (h mshHeader) component(n, c int) string {
	if h.fields == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.field(n), string(h.delims.Repetition))
	parts := strings.Split(v, string(h.delims.Component))
	if c > len(parts) {
		return ""
	}
	return hl7.Unescape(parts[c-1], h.delims)
}

// messageType is MSH-9 as CODE^EVENT (CODE alone when there is no event).
func (h mshHeader) messageType() string {
	code, event := h.component(9, 1), h.component(9, 2)
	if event == "" {
		return code
	}
	return code + "^" + event
}

// er7 is the first repetition of MSH-n written with the default delimiters |^~\&, its
// components (and subcomponents) kept, so it can be copied into an ACK.
func (h mshHeader) er7(n int) string {
	v, _, _ := strings.Cut(h.field(n), string(h.delims.Repetition))
	if h.delims == hl7.DefaultDelimiters {
		return v
	}
	var b strings.Builder
	for i, comp := range strings.Split(v, string(h.delims.Component)) {
		if i > 0 {
			b.WriteByte('^')
		}
		for j, sub := range strings.Split(comp, string(h.delims.Subcomponent)) {
			if j > 0 {
				b.WriteByte('&')
			}
			b.WriteString(hl7.Escape(hl7.Unescape(sub, h.delims), hl7.DefaultDelimiters))
		}
	}
	return b.String()
}

// mllpACK is the ACK of an MLLP message with header h: MSH-3 and MSH-4 are cfg's
// application and facility, or by default the application and facility the message was
// sent to (its MSH-5, MSH-6), as Mirth answers; MSH-5 and MSH-6 are its sender (MSH-3,
// MSH-4), components kept; MSH-11 is the message's processing id; MSA-3 the reply's text.
func mllpACK(cfg ackConfig, h mshHeader, r *ackReply, msg *transforms.Message, body []byte) []byte {
	ack := cfg.newACK(r.code, msg, body)
	if ack.RefControlID == "" {
		ack.RefControlID = h.component(10, 1)
	}
	if v := h.component(12, 1); ack.Version == cfg.version && v != "" {
		ack.Version = v
	}
	if p := h.component(11, 1); p != "" {
		ack.ProcessingID = p
	}
	ack.Text = r.issue.Diagnostics
	app, fac := h.er7(5), h.er7(6)
	if cfg.application != "" {
		app = hl7.Escape(cfg.application, hl7.DefaultDelimiters)
	}
	if cfg.facility != "" {
		fac = hl7.Escape(cfg.facility, hl7.DefaultDelimiters)
	}
	return ackWithHeader(ack, [4]string{app, fac, h.er7(3), h.er7(4)})
}

// ackWithHeader renders ack with MSH-3 to MSH-6 given as ER7 (components kept), which
// hl7.ACK would escape: it renders them empty and puts these in their place.
func ackWithHeader(ack hl7.ACK, er7 [4]string) []byte {
	const empty = `MSH|^~\&||||` // MSH-1, MSH-2 and empty MSH-3 to MSH-6; MSH-7 follows
	ack.SendingApp, ack.SendingFacility, ack.ReceivingApp, ack.ReceivingFacility = "", "", "", ""
	b := ack.Bytes()
	out := make([]byte, 0, len(b)+len(er7[0])+len(er7[1])+len(er7[2])+len(er7[3]))
	out = append(out, `MSH|^~\&`...)
	for _, v := range er7 {
		out = append(append(out, '|'), v...)
	}
	return append(out, b[len(empty):]...)
}
