package hl7tofhir

// ADT events (v2 chapter 3) beyond one patient and one visit.
//
//   - A17 swap patients: two PID/PV1 pairs, each a Patient and an
//     Encounter, the second pair's PV1 at the second patient's new bed;
//   - A34, A39, A40 (merges; A34 and A39 of v2.3-2.4 are withdrawn in later
//     versions but still sent): each PID and the MRG after it are a pair,
//     the PID the surviving Patient (link "replaces"), the MRG-1 patient
//     the merged-away one (active false, link "replaced-by"), as the IG's
//     segment-mrg-to-patient map has it. A pair without an MRG, or whose
//     MRG names its own PID, converts without links, with a warning;
//   - any other event carries one patient: a second PID is left out with a
//     warning, not merged into the first.
//
// Every other segment (OBX, AL1, DG1, NK1, ...) belongs to the first
// patient, as in v2 each of them follows the first PID group.

// mergeEvents are the events whose PID/MRG pairs are merges.
var mergeEvents = map[string]bool{"A34": true, "A39": true, "A40": true}

// mapPeople maps the patients and visits: the first PID (whose
// identifier is the only thing here that can refuse the message), the
// first PV1 when the message kind has an Encounter, and the event's
// further PID, PV1 and MRG segments.
func (c *conv) mapPeople(pid seg, withEncounter bool) error {
	c.pid = pid
	if err := c.mapPatient(pid); err != nil {
		return err
	}
	if pv1, ok := c.first("PV1"); ok && withEncounter {
		c.pv1 = pv1
		if err := c.mapEncounter(pv1); err != nil && !c.warn(err) {
			return err
		}
	}
	adt := c.msgType == "ADT"
	switch {
	case adt && c.event == "A17":
		c.mapSwap()
	case adt && mergeEvents[c.event]:
		c.mapMerges()
	default:
		for _, s := range c.segs {
			if s.name == "PID" && s.occ > 1 {
				c.warnf(s.label(), "", "is a second PID segment, not converted",
					"one PID: "+c.msgType+"^"+c.event+" carries one patient (A17 swaps and A34, A39, A40 merges carry several)")
			}
		}
	}
	return nil
}

// secondPatient maps a further PID to a Patient without making it the
// message's patient; a PID that cannot be identified is a warning here.
func (c *conv) secondPatient(s seg) *entry {
	first := c.patient
	defer func() { c.patient = first }()
	if err := c.mapPatient(s); err != nil {
		if fe, ok := err.(*FieldError); ok {
			w := *fe
			w.refuses = false
			c.warn(&w)
		}
		return nil
	}
	return c.patient
}

// mapSwap maps the second PID/PV1 pair of an A17.
func (c *conv) mapSwap() {
	var pid2, pv2 seg
	for _, s := range c.segs {
		switch {
		case s.name == "PID" && s.occ == 2:
			pid2 = s
		case s.name == "PV1" && s.occ == 2:
			pv2 = s
		}
	}
	if pid2.v == nil {
		c.warnf("PID", "", "segment is missing for the second patient", "two PID/PV1 pairs: ADT^A17 swaps two patients")
		return
	}
	p := c.secondPatient(pid2)
	if p == nil || pv2.v == nil {
		return
	}
	first, enc := c.patient, c.encounter
	c.patient = p
	if err := c.mapEncounter(pv2); err != nil {
		c.warn(err)
	}
	c.patient, c.encounter = first, enc
}

// mapMerges maps each PID/MRG pair of a merge.
func (c *conv) mapMerges() {
	var survivor *entry
	var survivorSeg seg
	paired := false
	finish := func() {
		if survivor != nil && !paired {
			c.warnf(survivorSeg.label(), "", "has no MRG segment after it",
				"an MRG segment: ADT^"+c.event+" names the merged-away patient in MRG-1")
		}
	}
	for _, s := range c.segs {
		switch s.name {
		case "PID":
			finish()
			survivorSeg, paired = s, false
			if s.occ == 1 {
				survivor = c.patient
			} else {
				survivor = c.secondPatient(s)
			}
		case "MRG":
			if survivor == nil {
				if survivorSeg.v == nil {
					c.warnf(s.label(), "", "comes before any PID", "a PID/MRG pair: the PID is the surviving patient")
				}
				continue // else its PID had no identifier, already a warning
			}
			paired = true
			if err := c.mapMerge(s, survivor); err != nil {
				c.warn(err)
			}
		}
	}
	finish()
}
