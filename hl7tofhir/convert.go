package hl7tofhir

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"junction/hl7"
)

// Converter turns HL7v2 messages into FHIR R4 transaction Bundles. Build it
// once with NewConverter; it is immutable and safe for concurrent use.
type Converter struct {
	opts Options
	ns   uuid.UUID
}

// NewConverter checks opts and fills in defaults.
func NewConverter(opts Options) (*Converter, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Converter{opts: o, ns: uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:junction:hl7tofhir:"+o.IDNamespace))}, nil
}

// Convert is NewConverter(opts) then Convert(raw), for one-off use.
func Convert(raw []byte, opts Options) (*Result, error) {
	c, err := NewConverter(opts)
	if err != nil {
		return nil, err
	}
	return c.Convert(raw)
}

// Result is a converted message.
type Result struct {
	// Bundle is the FHIR R4 transaction Bundle; json.Marshal renders it.
	Bundle *Object

	MessageType string // MSH-9, e.g. "ADT^A01"
	ControlID   string // MSH-10
	Version     string // MSH-12 as read: the nearest supported version when MSH-12 is not one (a warning)
	PatientID   string // the Patient's logical id

	// Nulls lists the elements sent as the v2 null "" ("delete this
	// value"), e.g. "PID-8". They are omitted from the resources: each
	// resource is PUT whole, so an omitted element is deleted on the server,
	// which is what "" asks. Callers that PATCH instead can use this list.
	Nulls []string

	// Ignored lists the segments that were not mapped, e.g. "ZU1 (segment
	// 14)": Z-segments (site-defined, no standard meaning) and segments
	// outside this mapping (IN1, GT1, ...).
	Ignored []string

	// Warnings are what did not convert, each naming segment and field, the
	// value and what was expected: the rest of the message converted without
	// it. Only a message whose patient or event cannot be identified is
	// refused (an error from Convert).
	Warnings []*FieldError
}

// JSON renders the Bundle as indented FHIR JSON.
func (r *Result) JSON() []byte { return indentJSON(r.Bundle) }

// conv is the state of one conversion.
type conv struct {
	*Converter
	m         *hl7.Message
	spec      *versionSpec
	msgType   string // "ADT"
	event     string // "A01"
	controlID string
	sender    string // MSH-3.1 and MSH-4.1, scoping message-based ids
	timestamp string

	entries []*entry
	byKey   map[string]*entry

	nulls    []nullAt
	seenNull map[string]bool
	ignored  []string
	warnings []*FieldError
	// moreWarnings counts the warnings past maxWarnings, left out.
	moreWarnings int

	segs          []seg
	firsts        map[string]int // segment name -> index of its first occurrence
	msh, pid, pv1 seg
	patient       *entry
	encounter     *entry
	diagnoses     []any // Encounter.diagnosis, filled by DG1
	provTargets   []*entry

	// Keys made from message-level values, bounded in length (keyPart) so
	// that the per-segment keys built from them cost the same however long
	// MSH-3, MSH-4 or MSH-10 is.
	senderKey string // keyPart(sender)
	msgPrefix string // keyPart("msg|" + sender + "|" + controlID)

	// copied is what group headers (ORC) have added to the Bundle by being
	// copied into each of their OBR and RXA resources, in JSON bytes;
	// copyLimit bounds it (see charge).
	copied, copyLimit int
}

// Convert converts one ER7 message (CR, LF or CRLF line ends; MLLP framing
// is stripped). A message the hl7 parser refuses is mended where it can be
// (see mend): lines that are not segments are left out and a malformed
// MSH-2 is read as ^~\&, each with a warning. Errors name the segment,
// field and value at fault.
func (c *Converter) Convert(raw []byte) (*Result, error) {
	m, err := hl7.Parse(raw)
	if err == nil {
		return c.convert(m, nil)
	}
	mended, notes, ok := mend(raw)
	if !ok {
		return nil, err
	}
	m, err2 := hl7.Parse(mended)
	if err2 != nil {
		return nil, err
	}
	return c.convert(m, notes)
}

// ConvertMessage converts a message already parsed (and perhaps changed with
// Set), saving the serialising and parsing again that Convert(m.Bytes())
// would cost. It does not change m. The work is linear in the size of the
// message: each segment is read once, through its own hl7.Segment.
func (c *Converter) ConvertMessage(m *hl7.Message) (*Result, error) { return c.convert(m, nil) }

// convert converts m; notes are warnings from mending its text.
func (c *Converter) convert(m *hl7.Message, notes []*FieldError) (*Result, error) {
	cv := &conv{Converter: c, m: m, byKey: map[string]*entry{}, seenNull: map[string]bool{},
		copyLimit: copyAllowance(m.Len())}
	for _, n := range notes {
		cv.warn(n)
	}
	if err := cv.run(); err != nil {
		return nil, err
	}
	res := &Result{
		Bundle:      cv.bundle(),
		MessageType: cv.msgType + "^" + cv.event,
		ControlID:   cv.controlID,
		Version:     cv.spec.name,
		Nulls:       sortedNulls(cv.nulls),
		Ignored:     cv.ignored,
		Warnings:    cv.allWarnings(),
	}
	if cv.patient != nil {
		res.PatientID = cv.patient.id
	}
	return res, nil
}

func (c *conv) run() error {
	segs := c.segments()
	c.segs = segs
	c.msh = segs[0]
	if err := c.header(); err != nil {
		return err
	}
	kind := c.msgType + "^" + c.event
	k, known := messageKinds[kind]
	pid, hasPID := c.first("PID")
	msh9 := clipValue(c.m.GetRawPath(hl7.Path{Segment: "MSH", Field: 9}))
	switch {
	case !known && !hasPID:
		return refusal("MSH-9", msh9, "is not a supported message type", supportedKinds)
	case !known:
		// A message of a type not mapped still names a patient: the Patient
		// (and the Encounter of its PV1) are worth having, and the segments
		// this mapping knows convert as they would in any message.
		c.warnf("MSH-9", msh9, "is not a supported message type: its event is not mapped, only the segments this mapping knows (PID, PV1, OBX, ...)", supportedKinds)
		k.encounter = true
	case !hasPID:
		return refusal("PID", "", "segment is missing", "a PID segment: "+kind+" carries a patient")
	}

	// The Patient and Encounter come first: the other resources refer to them.
	if err := c.mapPeople(pid, k.encounter); err != nil {
		return err
	}

	// The rest in message order; OBR, ORC and RXA open groups that the
	// segments after them belong to.
	var g group
	for _, s := range segs[1:] {
		var err error
		mark := len(c.entries)
		switch s.name {
		case "PID", "PV1", "MRG", "EVN":
			// Mapped above (EVN in the Provenance).
		case "PV2":
			if c.encounter == nil {
				c.ignore(s)
			}
		case "PD1":
			err = c.mapPD1(s)
		case "NK1":
			err = c.mapNK1(s)
		case "AL1":
			err = c.mapAL1(s)
		case "DG1":
			err = c.mapDG1(s)
		case "ORC":
			g, err = c.openOrder(s, g)
		case "OBR":
			err = c.mapGroupOBR(s, &g)
			g.obs = nil
		case "RXA":
			if kind != "VXU^V04" {
				c.ignore(s)
				continue
			}
			g.imm, err = c.mapRXA(s, g)
			g.obs = nil
		case "RXR":
			err = c.mapGroupRXR(s, g)
		case "OBX":
			g.obs, err = c.mapGroupOBX(s, g)
		case "NTE":
			err = c.mapGroupNTE(s, g)
		default:
			if f, ok := segmentMappers[s.name]; ok {
				err = f(c, s, &g)
			} else {
				c.ignore(s)
			}
		}
		if err != nil {
			if !c.warn(err) {
				return err
			}
			c.rollback(mark, &g)
		}
	}
	if c.encounter != nil && len(c.diagnoses) > 0 {
		c.encounter.res.Set("diagnosis", c.diagnoses)
	}
	c.untimedAppointment()
	return c.mapProvenance()
}

// group is the order group the current segment belongs to.
type group struct {
	order  *order // the ORC that opened the group; nil if none
	report *entry // DiagnosticReport of the current OBR (ORU)
	imm    *entry // Immunization of the current RXA (VXU)
	obs    *entry // the last Observation, for NTE
}

// first returns the first segment named name.
func (c *conv) first(name string) (seg, bool) {
	if i, ok := c.firsts[name]; ok {
		return c.segs[i], true
	}
	return seg{}, false
}

func (c *conv) ignore(s seg) {
	c.ignored = append(c.ignored, fmt.Sprintf("%s (segment %d)", s.name, s.index+1))
}

// header reads MSH: message type, control ID, version and timestamp. Only
// an empty MSH-9 or MSH-10 refuses the message: without them there is no
// event to convert and no identity for the Bundle.
func (c *conv) header() error {
	s := c.msh
	c.msgType = strings.ToUpper(strings.TrimSpace(s.get(9, 1, 1)))
	c.event = strings.ToUpper(strings.TrimSpace(s.get(9, 1, 2)))
	if c.msgType == "" {
		return refusal("MSH-9", "", "is empty", "a message type such as ADT^A01")
	}
	if c.event == "" {
		// v2.3 made MSH-9.2 the place of the event; EVN-1 had it before.
		// Some senders put the message structure (ADT_A01) in MSH-9.1.
		typ, ev, isStructure := strings.Cut(c.msgType, "_")
		if evn, ok := c.first("EVN"); ok && evn.get(1, 1, 1) != "" {
			c.event = strings.ToUpper(strings.TrimSpace(evn.get(1, 1, 1)))
			c.warnf("MSH-9.2", "", "is empty: the event is read from EVN-1 ("+c.event+")", "the trigger event, e.g. A01")
		} else if isStructure && typ != "" && ev != "" {
			c.event = ev
			c.warnf("MSH-9", c.msgType, "is a message structure, not a type and event: read as "+typ+"^"+ev, "a message type and trigger event such as ADT^A01")
		}
		if isStructure && typ != "" {
			c.msgType = typ
		}
	}
	c.controlID = s.get(10, 1, 1)
	if c.controlID == "" {
		return refusal("MSH-10", "", "is empty", "a message control ID: it identifies the Bundle")
	}
	c.spec = c.version(s.get(12, 1, 1))
	c.sender = s.get(3, 1, 1) + "|" + s.get(4, 1, 1)
	c.senderKey = keyPart(c.sender)
	c.msgPrefix = keyPart("msg|" + c.sender + "|" + c.controlID)
	c.timestamp = c.messageTime(s)
	return nil
}

// version is the definitions for MSH-12. A version this mapping lacks is
// read as the nearest it has (see nearestVersion), with a warning: a v2.9
// or v2.2 message differs from its neighbour in fields this mapping does not
// read far more than in those it does.
func (c *conv) version(v string) *versionSpec {
	if spec, ok := versions[v]; ok {
		return spec
	}
	spec := nearestVersion(v)
	problem := "is not a supported HL7 version: read as v" + spec.name
	if v == "" {
		problem = "is empty: read as v" + spec.name
	}
	c.warnf("MSH-12", v, problem, supportedVersions())
	return spec
}

// messageTime is the Bundle timestamp (an instant) from MSH-7. A date with
// no time of day is taken as its midnight in the sender's zone, with a
// warning; a value that is no date/time at all gives none (and no
// Provenance, whose recorded time it is), with a warning.
func (c *conv) messageTime(s seg) string {
	t, err := c.timeAt(s, 7, 1, 1, false)
	if err != nil {
		c.warn(err)
		return ""
	}
	if t.prec == 0 {
		c.warnf("MSH-7", "", "is empty", "the date/time of the message: it is the Bundle timestamp and the Provenance's recorded time")
		return ""
	}
	if !t.hasTime() {
		c.warnf("MSH-7", s.get(7, 1, 1), "has no time of day: the Bundle timestamp is its midnight",
			"a date/time to at least the hour: it is the Bundle timestamp")
		t.prec = precSecond
	}
	return t.dateTime(c.opts.TimeZone)
}

// messageIdentifier is Bundle.identifier: MSH-10, scoped by the sender.
func (c *conv) messageIdentifier() *Object {
	sys := ""
	if app := c.msh.get(3, 1, 1); app != "" {
		sys = c.templateSystem(app+"-"+c.msh.get(4, 1, 1), "msh-10")
	}
	return obj("system", sys, "value", c.controlID)
}
