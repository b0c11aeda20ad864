package hl7tofhir

// AIL -> Appointment.participant (IG segment-ail-to-appointment): AIL-3
// location resource ID (PL) is the actor, a Location chained as PV1's are
// (location.go); period AIL-6 start (or the Appointment's plus the AIL-7
// offset), end by AIL-9 duration; status from AIL-12. AIL-4 location type
// is unmapped in the IG and left out.
func (c *conv) mapAIL(s seg, _ *group) error {
	appt, err := c.appointment(s)
	if appt == nil {
		return err
	}
	actor := c.location(s.field(3, 1))
	return c.participant(appt, s, resourceSlot{start: 6, offset: 7, offsetUnits: 8, duration: 9, durationUnits: 10, status: 12}, actor, nil)
}
