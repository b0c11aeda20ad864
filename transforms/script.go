package transforms

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/google/uuid"

	"junction/hl7tofhir"
)

// Script is one filter or transform step with where it was written.
type Script struct {
	Source string
	File   string
	Line   int    // line of the script's first character in File
	Path   string // e.g. channels[0].filter[1]
	// LineStarts, for a YAML folded (>) scalar whose lines were joined into one, holds the
	// character offset in Source where each following file line starts, so errors still
	// point at the right line.
	LineStarts []int
}

// Where is "routes.yaml:14 (channels[0].filter[1])" for error messages.
func (s Script) Where() string {
	return fmt.Sprintf("%s:%d (%s)", s.File, s.Line, s.Path)
}

// Env is what a script sees. Functions are fields bound once per pooled env to the message
// being processed, so running a script allocates nothing for the environment.
type Env struct {
	Body     string              `expr:"body"`
	Meta     map[string]string   `expr:"meta"`
	Resource map[string]any      `expr:"resource"`
	Rows     []map[string]string `expr:"rows"`
	DataType string              `expr:"dataType"`
	Channel  string              `expr:"channel"`

	Get          func(path string) (string, error)             `expr:"get"`
	Set          func(path string, value any) (bool, error)    `expr:"set"`
	SetRaw       func(path string, value string) (bool, error) `expr:"setRaw"`
	SetBody      func(value any) (bool, error)                 `expr:"setBody"`
	Segments     func() []string                               `expr:"segments"`
	SegmentCount func(name string) int                         `expr:"segmentCount"`
	UUID         func() string                                 `expr:"uuid"`
	HL7Time      func(t time.Time) string                      `expr:"hl7time"`
	ToFHIR       func() (string, error)                        `expr:"toFHIR"`
	// Error fails the script with its text: error("no MRN") marks the message (or, in a
	// destination's steps, the delivery) ERROR.
	Error func(text string) (any, error) `expr:"error"`
	// Response is the destination's response to the message, in its response steps.
	Response func() string `expr:"response"`

	msg      *Message
	response []byte
}

// Program is a compiled script.
type Program struct {
	Script
	prog *vm.Program
}

// Kind of step: a filter must give true or false.
type Kind int

const (
	Filter Kind = iota
	Transform
	// Response is a destination's response step: like a transform, and it may call
	// response().
	Response
)

// CompileError is a script that does not compile, located in the config file.
type CompileError struct {
	Script Script
	Line   int // line in File
	Msg    string
}

func (e *CompileError) Error() string { return e.Msg }

// Compile checks and compiles a script against Env. dataTypes are the channel's (nil: any):
// literal get/set paths that are HL7v2 ones are checked now rather than at message time
// (every literal path when the channel takes HL7v2 only, none when it takes no HL7v2),
// as are values set() cannot write into an HL7v2 field.
func Compile(s Script, kind Kind, dataTypes []string) (*Program, error) {
	return CompileWith(s, kind, dataTypes, nil)
}

// CompileWith is Compile for a configuration with shared code: the script may call lib's
// functions and lookup() its tables (literal table names and the number of arguments
// given to functions are checked now). lib may be nil.
func CompileWith(s Script, kind Kind, dataTypes []string, lib *Library) (*Program, error) {
	if lib == nil {
		lib = emptyLibrary
	}
	opts := []expr.Option{expr.Env(Env{}), expr.Optimize(true)}
	if kind == Filter {
		opts = append(opts, expr.AsBool())
	}
	paths := pathCheckFor(dataTypes)
	// Our own checks first: they say more than expr would of the same mistakes (the number
	// of arguments of a function, a lookup table's name).
	err := lib.check(s.Source, kind, paths, "")
	if err == nil {
		var prog *vm.Program
		if prog, err = lib.compile(s.Source, opts); err == nil {
			// Then what needs expr's types: a value set() cannot write into a field.
			if err = checkSetValues(s.Source, prog.Node(), paths); err == nil {
				return &Program{Script: s, prog: prog}, nil
			}
		}
	}
	return nil, compileError(s, err)
}

var emptyLibrary = NewLibrary()

func compileError(s Script, err error) error {
	line, msg := s.Line, err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		line = s.Line + fe.Line - 1
		col := fe.Column
		if fe.Line == 1 {
			for i, start := range s.LineStarts {
				if start <= fe.Column {
					line, col = s.Line+i+1, fe.Column-start
				}
			}
		}
		msg = fmt.Sprintf("%s (column %d of the expression)", fe.Message, col+1)
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	return &CompileError{Script: s, Line: line, Msg: msg}
}

// RuntimeError is a script that failed on a message.
type RuntimeError struct {
	Script Script
	Err    error
}

func (e *RuntimeError) Error() string {
	msg := e.Err.Error()
	var fe *file.Error
	if errors.As(e.Err, &fe) {
		msg = fe.Message
	}
	return fmt.Sprintf("%s: %s", e.Script.Where(), strings.ReplaceAll(msg, "\n", " "))
}

func (e *RuntimeError) Unwrap() error { return e.Err }

// runner is a pooled env plus a VM, bound to one message at a time.
type runner struct {
	env Env
	vm  vm.VM
}

var runners = sync.Pool{New: func() any { return newRunner() }}

func newRunner() *runner {
	r := &runner{}
	e := &r.env
	e.Get = func(path string) (string, error) { return e.msg.get(path) }
	e.Set = func(path string, v any) (bool, error) { return true, e.msg.set(path, v, false) }
	e.SetRaw = func(path, v string) (bool, error) { return true, e.msg.set(path, v, true) }
	e.SetBody = func(v any) (bool, error) { return true, e.msg.setBody(v) }
	e.Segments = func() []string { return e.msg.segments() }
	e.SegmentCount = func(name string) int {
		if e.msg.HL7 == nil {
			return 0
		}
		return e.msg.HL7.Count(name)
	}
	e.UUID = func() string { return uuid.NewString() }
	e.HL7Time = func(t time.Time) string { return t.Format("20060102150405") }
	e.ToFHIR = func() (string, error) { return e.msg.toFHIR() }
	e.Error = func(text string) (any, error) { return nil, errors.New(text) }
	e.Response = func() string { return string(e.response) }
	return r
}

// Session runs a channel's scripts over one message with one pooled runner.
type Session struct {
	r *runner
}

// NewSession binds a pooled runner to m. Call Close when done.
func NewSession(m *Message, channel string) *Session {
	r := runners.Get().(*runner)
	e := &r.env
	e.msg = m
	// The content is never modified once received: share its bytes rather than copy them.
	e.Body = unsafe.String(unsafe.SliceData(m.Raw), len(m.Raw))
	e.Meta = m.Meta
	e.Resource = m.Resource
	e.Rows = m.Rows
	e.DataType = m.DataType
	e.Channel = channel
	return &Session{r: r}
}

// Close returns the runner to the pool.
func (s *Session) Close() {
	e := &s.r.env
	e.msg, e.Meta, e.Resource, e.Rows, e.Body, e.response = nil, nil, nil, nil, "", nil
	runners.Put(s.r)
	s.r = nil
}

// SetResponse gives response() the destination's response, for Response steps.
func (s *Session) SetResponse(b []byte) { s.r.env.response = b }

// Filter runs a filter script.
func (s *Session) Filter(p *Program) (bool, error) {
	out, err := s.r.vm.Run(p.prog, &s.r.env)
	if err != nil {
		return false, &RuntimeError{Script: p.Script, Err: err}
	}
	b, _ := out.(bool)
	return b, nil
}

// Transform runs a transform step; its value is ignored, its effects (set, setBody) stay.
func (s *Session) Transform(p *Program) error {
	if _, err := s.r.vm.Run(p.prog, &s.r.env); err != nil {
		return &RuntimeError{Script: p.Script, Err: err}
	}
	return nil
}

func (m *Message) get(path string) (string, error) {
	switch {
	case m.HL7 != nil:
		return m.HL7.Get(path)
	case m.Resource != nil:
		v, err := jsonGet(m.Resource, path)
		if err != nil || v == nil {
			return "", err
		}
		return toText(v), nil
	}
	return "", fmt.Errorf("get(%q): get works on HL7v2 and FHIR messages; use rows for CSV", path)
}

func (m *Message) set(path string, v any, raw bool) error {
	switch {
	case m.HL7 != nil:
		text := toText(v)
		var err error
		if raw {
			err = m.HL7.SetRaw(path, text)
		} else {
			err = m.HL7.Set(path, text)
		}
		if err == nil {
			m.changed = true
			m.segNames = nil // a set may have appended a segment
		}
		return err
	case m.Resource != nil:
		if raw {
			return fmt.Errorf("setRaw(%q): setRaw works on HL7v2 messages only", path)
		}
		if err := jsonSet(m.Resource, path, v); err != nil {
			return err
		}
		m.changed = true
		return nil
	}
	return fmt.Errorf("set(%q): set works on HL7v2 and FHIR messages; use setBody for CSV", path)
}

var (
	defaultConverterOnce sync.Once
	defaultConverter     *hl7tofhir.Converter
)

// toFHIR converts the HL7v2 message, as transformed so far, into a FHIR R4 transaction
// Bundle (JSON text), following the HL7 v2-to-FHIR mapping IG.
func (m *Message) toFHIR() (string, error) {
	if m.HL7 == nil {
		return "", fmt.Errorf("toFHIR() converts HL7v2 messages; this one is %s", m.DataType)
	}
	conv := m.Converter
	if conv == nil {
		defaultConverterOnce.Do(func() { defaultConverter, _ = hl7tofhir.NewConverter(hl7tofhir.Options{}) })
		conv = defaultConverter
	}
	// The parsed message, as set() left it: no serialising and parsing again.
	res, err := conv.ConvertMessage(m.HL7)
	if err != nil {
		return "", err
	}
	if len(res.Warnings) > 0 {
		m.addWarnings(res.Warnings)
	}
	b, err := res.Bundle.MarshalJSON() // compact already: json.Marshal would copy it twice more
	if err != nil {
		return "", fmt.Errorf("toFHIR: %w", err)
	}
	if len(b) == 0 {
		return "", nil
	}
	// b is never written again: the script's string shares it, and so may
	// setBody.
	m.fhir = b
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// segments lists the HL7v2 segment names for segments(), listing them once
// however often a script asks (a script may ask once per OBX).
func (m *Message) segments() []string {
	if m.HL7 == nil {
		return nil
	}
	if m.segNames == nil {
		m.segNames = m.HL7.Segments()
	}
	return m.segNames
}

func (m *Message) setBody(v any) error {
	switch b := v.(type) {
	case string:
		if f := m.fhir; len(f) > 0 && len(b) == len(f) && unsafe.StringData(b) == unsafe.SliceData(f) {
			m.body = f // toFHIR()'s own bytes: setBody(toFHIR()) needs no copy
			break
		}
		m.body = []byte(b)
	case []byte:
		m.body = b
	default:
		out, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("setBody: cannot encode %T as JSON: %v", v, err)
		}
		m.body = out
	}
	m.hasBody = true
	return nil
}

// toText renders a script value as message text.
func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.Format("20060102150405")
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
