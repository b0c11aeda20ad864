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
	Version     string // MSH-12
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
// is stripped). Errors name the segment, field and value at fault.
func (c *Converter) Convert(raw []byte) (*Result, error) {
	m, err := hl7.Parse(raw)
	if err != nil {
		return nil, err
	}
	return c.ConvertMessage(m)
}

// ConvertMessage converts a message already parsed (and perhaps changed with
// Set), saving the serialising and parsing again that Convert(m.Bytes())
// would cost. It does not change m. The work is linear in the size of the
// message: each segment is read once, through its own hl7.Segment.
func (c *Converter) ConvertMessage(m *hl7.Message) (*Result, error) {
	cv := &conv{Converter: c, m: m, byKey: map[string]*entry{}, seenNull: map[string]bool{},
		copyLimit: copyAllowance(m.Len())}
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
	}
	if cv.patient != nil {
		res.PatientID = cv.patient.id
	}
	return res, nil
}

// messageKinds are the supported MSH-9 values. Person-level events (A28,
// A31, A40) carry a placeholder PV1, so they make no Encounter.
var messageKinds = map[string]struct {
	encounter bool // map PV1/PV2 to an Encounter
}{
	"ADT^A01": {true}, "ADT^A02": {true}, "ADT^A03": {true}, "ADT^A04": {true},
	"ADT^A05": {true}, "ADT^A06": {true}, "ADT^A07": {true}, "ADT^A08": {true},
	"ADT^A11": {true}, "ADT^A13": {true},
	"ADT^A28": {false}, "ADT^A31": {false}, "ADT^A40": {false},
	"ORU^R01": {true}, "VXU^V04": {true},
}

const supportedKinds = "ADT^A01 to ADT^A08, ADT^A11, ADT^A13, ADT^A28, ADT^A31, ADT^A40, ORU^R01 or VXU^V04"

func (c *conv) run() error {
	segs := c.segments()
	c.segs = segs
	c.msh = segs[0]
	if err := c.header(); err != nil {
		return err
	}
	kind := c.msgType + "^" + c.event
	k, ok := messageKinds[kind]
	if !ok {
		return fieldErr("MSH-9", c.m.GetRawPath(hl7.Path{Segment: "MSH", Field: 9}), "is not a supported message type", supportedKinds)
	}

	// The Patient and Encounter come first: the other resources refer to them.
	pid, ok := c.first("PID")
	if !ok {
		return fieldErr("PID", "", "segment is missing", "a PID segment: "+kind+" carries a patient")
	}
	c.pid = pid
	if err := c.mapPatient(pid); err != nil {
		return err
	}
	if pv1, ok := c.first("PV1"); ok && k.encounter {
		c.pv1 = pv1
		if err := c.mapEncounter(pv1); err != nil {
			return err
		}
	}
	if kind == "ADT^A40" {
		mrg, ok := c.first("MRG")
		if !ok {
			return fieldErr("MRG", "", "segment is missing", "an MRG segment: ADT^A40 names the merged-away patient in MRG-1")
		}
		if err := c.mapMerge(mrg); err != nil {
			return err
		}
	}

	// The rest in message order; OBR, ORC and RXA open groups that the
	// segments after them belong to.
	var g group
	for _, s := range segs[1:] {
		var err error
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
			g = group{order: &order{orc: s}}
		case "OBR":
			if kind != "ORU^R01" {
				c.ignore(s)
				continue
			}
			g.report, err = c.mapOBR(s, g)
			g.obs = nil
		case "RXA":
			if kind != "VXU^V04" {
				c.ignore(s)
				continue
			}
			g.imm, err = c.mapRXA(s, g)
			g.obs = nil
		case "RXR":
			err = c.mapRXR(s, g)
		case "OBX":
			g.obs, err = c.mapOBX(s, g)
		case "NTE":
			c.mapNTE(s, g)
		default:
			c.ignore(s)
		}
		if err != nil {
			return err
		}
	}
	if c.encounter != nil && len(c.diagnoses) > 0 {
		c.encounter.res.Set("diagnosis", c.diagnoses)
	}
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

// header reads MSH: message type, control ID, version and timestamp.
func (c *conv) header() error {
	s := c.msh
	c.msgType = strings.ToUpper(s.get(9, 1, 1))
	c.event = strings.ToUpper(s.get(9, 1, 2))
	if c.msgType == "" {
		return fieldErr("MSH-9", "", "is empty", "a message type such as ADT^A01")
	}
	c.controlID = s.get(10, 1, 1)
	if c.controlID == "" {
		return fieldErr("MSH-10", "", "is empty", "a message control ID: it identifies the Bundle")
	}
	version := s.get(12, 1, 1)
	spec, ok := versions[version]
	if !ok {
		return fieldErr("MSH-12", version, "is not a supported HL7 version", supportedVersions())
	}
	c.spec = spec
	c.sender = s.get(3, 1, 1) + "|" + s.get(4, 1, 1)
	c.senderKey = keyPart(c.sender)
	c.msgPrefix = keyPart("msg|" + c.sender + "|" + c.controlID)
	t, err := c.timeAt(s, 7, 1, 1, false)
	if err != nil {
		return err
	}
	if !t.hasTime() {
		return fieldErr("MSH-7", s.get(7, 1, 1), "has no time of day", "a date/time to at least the hour: it is the Bundle timestamp")
	}
	c.timestamp = t.dateTime(c.opts.TimeZone)
	return nil
}

// messageIdentifier is Bundle.identifier: MSH-10, scoped by the sender.
func (c *conv) messageIdentifier() *Object {
	sys := ""
	if app := c.msh.get(3, 1, 1); app != "" {
		sys = c.templateSystem(app+"-"+c.msh.get(4, 1, 1), "msh-10")
	}
	return obj("system", sys, "value", c.controlID)
}
