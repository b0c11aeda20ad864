package hl7

import (
	"fmt"
	"time"
)

// ACK is an acknowledgement message (MSH + MSA).
type ACK struct {
	SendingApp, SendingFacility     string // MSH-3, MSH-4
	ReceivingApp, ReceivingFacility string // MSH-5, MSH-6
	Time                            time.Time
	ControlID                       string // MSH-10 of the ACK itself
	ProcessingID                    string // MSH-11, e.g. P
	Version                         string // MSH-12, e.g. 2.4
	Code                            string // MSA-1: AA, AE or AR
	RefControlID                    string // MSA-2: MSH-10 of the message acknowledged
	Text                            string // MSA-3
}

// Bytes renders the ACK with the default delimiters:
//
//	MSH|^~\&|SendingApp|SendingFacility|ReceivingApp|ReceivingFacility|Time||ACK|ControlID|ProcessingID|Version<CR>
//	MSA|Code|RefControlID|Text<CR>
//
// Every value is escaped, so Text may be e.g. JSON with \ and ^. Time is
// formatted YYYYMMDDHHMMSS in its own location (convert it first if the
// receiver expects UTC or local time); a zero Time leaves MSH-7 empty.
func (a ACK) Bytes() []byte {
	var ts string
	if !a.Time.IsZero() {
		ts = a.Time.Format("20060102150405")
	}
	b := make([]byte, 0, 96+len(a.Text))
	b = append(b, `MSH|^~\&`...)
	for _, v := range [...]string{a.SendingApp, a.SendingFacility, a.ReceivingApp, a.ReceivingFacility,
		ts, "", "ACK", a.ControlID, a.ProcessingID, a.Version} {
		b = append(b, '|')
		b = append(b, Escape(v, DefaultDelimiters)...)
	}
	b = append(b, "\rMSA"...)
	for _, v := range [...]string{a.Code, a.RefControlID, a.Text} {
		b = append(b, '|')
		b = append(b, Escape(v, DefaultDelimiters)...)
	}
	return append(b, '\r')
}

var (
	pathMSA1 = MustParsePath("MSA-1")
	pathMSA2 = MustParsePath("MSA-2")
	pathMSA3 = MustParsePath("MSA-3")
	pathERR8 = MustParsePath("ERR-8")
)

// ParseACK reads an acknowledgement from a downstream system: MSA-1 (the
// code: AA, AE, AR or the commit codes CA, CE, CR), MSA-2 (the control ID
// acknowledged) and the text, unescaped. The text is MSA-3, or when that is
// empty ERR-8 (the user message where v2.5+ systems put it).
func ParseACK(raw []byte) (code, refControlID, text string, err error) {
	m, err := Parse(raw)
	if err != nil {
		return "", "", "", err
	}
	idx, _ := m.find("MSA", 1)
	if idx < 0 {
		return "", "", "", &ParseError{Segment: "MSA", Msg: "expected an MSA segment in the acknowledgement"}
	}
	code = m.GetPath(pathMSA1)
	switch code {
	case "AA", "AE", "AR", "CA", "CE", "CR":
	default:
		return "", "", "", &ParseError{Segment: "MSA", SegIndex: idx + 1, Field: 1,
			Msg: fmt.Sprintf("expected an acknowledgement code (AA, AE, AR, CA, CE or CR), got %q", code)}
	}
	text = m.GetPath(pathMSA3)
	if text == "" {
		text = m.GetPath(pathERR8)
	}
	return code, m.GetPath(pathMSA2), text, nil
}
