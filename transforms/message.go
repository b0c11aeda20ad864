// Package transforms is the expr environment of filter and transform steps: it parses a
// message by data type into what scripts see (get/set on HL7v2 paths, resource for FHIR,
// rows for CSV), compiles scripts once at config load and runs them with reused VMs.
package transforms

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"junction/hl7"
	"junction/hl7tofhir"
)

// Data types as the $ingest data-type header spells them.
const (
	HL7v2 = "Hl7v2"
	FHIR  = "FHIR"
	CSV   = "CSV"
)

// DataTypes lists the data types Junction understands.
var DataTypes = []string{HL7v2, FHIR, CSV}

// Message is one message as scripts see it. It is not safe for concurrent use.
type Message struct {
	DataType string
	// Raw is the content as received. Nothing may modify it once parsed: the
	// parsed HL7v2 message and scripts' body share its bytes.
	Raw  []byte
	Meta map[string]string

	HL7      *hl7.Message        // HL7v2
	Resource map[string]any      // FHIR
	Rows     []map[string]string // CSV: header row → records

	// Converter turns HL7v2 into FHIR for toFHIR(), with the channel's site settings (nil:
	// the defaults).
	Converter *hl7tofhir.Converter

	changed bool   // a set() touched the parsed content
	body    []byte // setBody() output; overrides everything
	hasBody bool

	// fhir is the last toFHIR() output, whose bytes the string given to the
	// script shares, so that setBody(toFHIR()) keeps them without a copy.
	fhir []byte
	// warnings are the values toFHIR() could not convert (nil when none).
	warnings []*hl7tofhir.FieldError
	// segNames caches segments() until a set().
	segNames []string
}

// ContentError says what is wrong with a message's content and where.
type ContentError struct {
	DataType string
	Where    string // "PID-7", "line 3, col 14", "line 2"
	Msg      string
}

func (e *ContentError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("%s: %s", e.DataType, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.DataType, e.Where, e.Msg)
}

// Parse reads raw content of the given data type. Errors are *ContentError.
func Parse(dataType string, raw []byte, meta map[string]string) (*Message, error) {
	m := &Message{DataType: dataType, Raw: raw, Meta: meta}
	if !utf8.Valid(raw) {
		return nil, &ContentError{DataType: dataType, Where: invalidUTF8At(raw), Msg: "content is not valid UTF-8 (send UTF-8 text)"}
	}
	switch dataType {
	case HL7v2:
		// The content is never modified once received (see NewSession), so
		// the parsed message shares its bytes rather than holding a copy.
		msg, err := hl7.ParseString(unsafe.String(unsafe.SliceData(raw), len(raw)))
		if err != nil {
			var pe *hl7.ParseError
			if errors.As(err, &pe) {
				return nil, &ContentError{DataType: dataType, Msg: pe.Error()}
			}
			return nil, &ContentError{DataType: dataType, Msg: err.Error()}
		}
		// A sender matches our ACK to its message by MSH-10, and routing needs MSH-9.
		for _, f := range [...]struct{ path, what string }{{"MSH-9.1", "message type"}, {"MSH-10", "message control ID"}} {
			if v, _ := msg.Get(f.path); v == "" {
				return nil, &ContentError{DataType: dataType, Where: f.path, Msg: "required field (" + f.what + ") is empty"}
			}
		}
		m.HL7 = msg
	case FHIR:
		res, err := parseFHIR(raw)
		if err != nil {
			return nil, err
		}
		m.Resource = res
	case CSV:
		rows, err := parseCSV(raw)
		if err != nil {
			return nil, err
		}
		m.Rows = rows
	default:
		return nil, &ContentError{DataType: dataType, Msg: fmt.Sprintf("unsupported data type %q (expected one of Hl7v2, FHIR, CSV)", dataType)}
	}
	return m, nil
}

// Output is the content after the transform, or nil when the transform left it unchanged.
func (m *Message) Output() ([]byte, error) {
	if m.hasBody {
		return m.body, nil
	}
	if !m.changed {
		return nil, nil
	}
	switch {
	case m.HL7 != nil:
		return m.HL7.Bytes(), nil
	case m.Resource != nil:
		return json.Marshal(m.Resource)
	}
	return nil, nil
}

// ControlID is MSH-10 for HL7v2, the resource id for FHIR, "" for CSV.
func (m *Message) ControlID() string {
	switch {
	case m.HL7 != nil:
		v, _ := m.HL7.Get("MSH-10")
		return v
	case m.Resource != nil:
		id, _ := m.Resource["id"].(string)
		return id
	}
	return ""
}

func parseFHIR(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(raw, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		return nil, &ContentError{DataType: FHIR, Where: lineCol(raw, off), Msg: "unexpected content after the JSON value"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &ContentError{DataType: FHIR, Where: "line 1, col 1", Msg: "expected a JSON object (a FHIR resource)"}
	}
	rt, _ := obj["resourceType"].(string)
	if rt == "" {
		return nil, &ContentError{DataType: FHIR, Msg: `expected a "resourceType" text property naming the FHIR resource`}
	}
	return obj, nil
}

// jsonError turns encoding/json errors into line/column errors.
func jsonError(raw []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the offending byte itself: point at it.
		return &ContentError{DataType: FHIR, Where: lineCol(raw, max(se.Offset-1, 0)), Msg: "invalid JSON: " + se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ContentError{DataType: FHIR, Where: lineCol(raw, int64(len(raw))), Msg: "invalid JSON: unexpected end of input"}
	}
	return &ContentError{DataType: FHIR, Msg: "invalid JSON: " + err.Error()}
}

// lineCol renders a byte offset as "line L, col C" (1-based, columns in characters).
func lineCol(raw []byte, off int64) string {
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	line, col := 1, 1
	for _, r := range string(raw[:off]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return "line " + strconv.Itoa(line) + ", col " + strconv.Itoa(col)
}

func invalidUTF8At(raw []byte) string {
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			return lineCol(raw, int64(i))
		}
		i += n
	}
	return ""
}

func parseCSV(raw []byte) ([]map[string]string, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))))
	r.FieldsPerRecord = 0 // every record as long as the header
	header, err := r.Read()
	if err == io.EOF {
		return nil, &ContentError{DataType: CSV, Where: "line 1", Msg: "empty content: expected a header row"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		if h == "" {
			return nil, &ContentError{DataType: CSV, Where: fmt.Sprintf("line 1, column %d", i+1), Msg: "empty column name in the header row"}
		}
		if seen[h] {
			return nil, &ContentError{DataType: CSV, Where: fmt.Sprintf("line 1, column %d", i+1), Msg: fmt.Sprintf("column name %q appears twice in the header row", h)}
		}
		seen[h] = true
	}
	var rows []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ContentError{DataType: CSV, Where: fmt.Sprintf("line %d, column %d", pe.Line, pe.Column), Msg: pe.Err.Error()}
	}
	return &ContentError{DataType: CSV, Msg: err.Error()}
}
