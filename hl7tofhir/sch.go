package hl7tofhir

import "strings"

// SCH -> Appointment (IG segment-sch-to-appointment).
//
//   - identifier SCH-1 placer (PLAC) and SCH-2 filler (FILL) appointment
//     IDs; the filler's (else the placer's) keys the Appointment, so S12,
//     S13, S14 and S15 for one booking update one resource;
//   - status SCH-25 via table 0278, else the event (see siu.go);
//   - reasonCode SCH-7, appointmentType SCH-8 (the IG allows SCH-7 to be
//     either; its table 0276 codes are appointment reasons);
//   - minutesDuration SCH-9 in SCH-10 units (minutes when empty, v2's
//     default; hours and days are converted);
//   - start and end SCH-11.4 and SCH-11.5 (TQ), end = start + SCH-9 when
//     only the start is sent;
//   - participants: the Patient (PID), SCH-12 placer and SCH-16 filler
//     contacts, SCH-20 enterer (provenance-participant-type enterer) ->
//     Practitioner;
//   - basedOn SCH-26 placer and SCH-27 filler order numbers (IG
//     SCH[ServiceRequest]), as logical references by identifier: a
//     ServiceRequest entry made here, PUT whole, would erase the order its
//     order message made.
func (c *conv) mapSCH(s seg, _ *group) error {
	if slotEvent(c.event) {
		c.ignore(s)
		return nil
	}
	placer, placerKey := c.entityIdentifier(s.field(1, 1), "PLAC")
	filler, fillerKey := c.entityIdentifier(s.field(2, 1), "FILL")
	key := "msg|" + c.msgKey(s)
	switch {
	case fillerKey != "":
		key = "filler|" + fillerKey
	case placerKey != "":
		key = "placer|" + placerKey
	}
	e, _ := c.entry("Appointment", key)
	c.setState(stAppointment, e)
	a := e.res
	var ids []any
	for _, id := range []*Object{placer, filler} {
		if id != nil {
			ids = append(ids, id)
		}
	}
	a.Set("identifier", ids)
	a.Set("status", c.appointmentStatusOf(s, e))
	if r := c.codeableAt(s, 7, 1); r.Len() > 0 {
		a.Set("reasonCode", []any{r})
	}
	a.Set("appointmentType", c.codeableAt(s, 8, 1))
	mins, hasMins, err := durationMinutes(s, 9, 10)
	if err != nil {
		c.warn(err)
	}
	if hasMins && mins > 0 {
		a.Set("minutesDuration", mins)
	}
	c.scheduleTimes(s, a, mins, hasMins)
	c.schParticipants(s, a)
	for _, f := range []struct {
		field int
		typ   string
	}{{26, "PLAC"}, {27, "FILL"}} {
		for r := 1; r <= s.reps(f.field); r++ {
			if id, _ := c.entityIdentifier(s.field(f.field, r), f.typ); id != nil {
				a.Append("basedOn", obj("type", "ServiceRequest", "identifier", id))
			}
		}
	}
	return nil
}

// appointmentStatusOf decides Appointment.status: a final event (cancel,
// delete, no-show), else SCH-25, else the event. It records whether the
// status is settled, so that AIS-10 only fills in for an SCH that said
// nothing.
func (c *conv) appointmentStatusOf(s seg, e *entry) string {
	ev := eventAppointmentStatus[c.event]
	if ev.final {
		c.setState(stStatusFixed, e)
		return ev.status
	}
	code := strings.ToUpper(s.get(25, 1, 1))
	if code == "" {
		return firstNonEmpty(ev.status, "booked")
	}
	if st, ok := appointmentStatus[code]; ok {
		c.setState(stStatusFixed, e)
		return st
	}
	c.warn(fieldErr(s.at(25, 1, 0), s.get(25, 1, 1), "is not a filler status the IG maps", "HL7 table 0278: Pending, Waitlist, Booked, Started, Complete, Cancelled, Deleted, Noshow"))
	return firstNonEmpty(ev.status, "booked")
}

// scheduleTimes sets start and end from SCH-11 (TQ-4, TQ-5). They are
// instants: a date alone is a warning. app-2 wants both or neither, so a
// start with no end or duration is left for the resources to give.
func (c *conv) scheduleTimes(s seg, a *Object, mins int, hasMins bool) {
	var at [2]string
	for i, comp := range []int{4, 5} {
		v, err := c.dateTimeAt(s, 11, 1, comp)
		if err != nil {
			c.warn(err)
			continue
		}
		if v != "" && !isInstant(v) {
			c.warn(fieldErr(s.at(11, 1, comp), s.get(11, 1, comp), "has no time of day", "a date/time: Appointment.start and end are instants"))
			continue
		}
		at[i] = v
	}
	start, end := at[0], at[1]
	if start != "" && end == "" && hasMins {
		end = addMinutes(start, mins)
	}
	if start != "" && end != "" {
		a.Set("start", start)
		a.Set("end", end)
	}
}

// schParticipants adds the Patient and the SCH-12, SCH-16 and SCH-20
// people as participants.
func (c *conv) schParticipants(s seg, a *Object) {
	a.Append("participant", obj("actor", c.patient.ref(), "status", "accepted"))
	for _, p := range []struct {
		field int
		typ   *Object
	}{
		{12, obj("text", "placer contact")},
		{16, obj("text", "filler contact")},
		{20, obj("coding", []any{obj("system", sysProvenanceAgent, "code", "enterer", "display", "Enterer")})},
	} {
		for r := 1; r <= s.reps(p.field); r++ {
			if pr := c.practitioner(s.field(p.field, r)); pr != nil {
				a.Append("participant", obj("type", []any{p.typ}, "actor", pr.ref(), "status", "accepted"))
			}
		}
	}
}
