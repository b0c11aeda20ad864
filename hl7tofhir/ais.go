package hl7tofhir

import "strings"

// AIS -> Appointment (IG segment-ais-to-appointment): AIS-3 universal
// service identifier is a serviceType; AIS-10 filler status (table 0278)
// is the Appointment's status when SCH-25 and the event left it open;
// AIS-4 start (or the Appointment's start plus the AIS-5 offset) and AIS-7
// duration give the Appointment its start and end when SCH-11 did not. AIS
// is not a participant: the IG maps the service to serviceType.
func (c *conv) mapAIS(s seg, _ *group) error {
	appt, err := c.appointment(s)
	if appt == nil {
		return err
	}
	if svc := c.codeableAt(s, 3, 1); svc.Len() > 0 {
		appt.res.Append("serviceType", svc)
	}
	if code := strings.ToUpper(s.get(10, 1, 1)); code != "" && c.state(stStatusFixed) != appt {
		if st, ok := appointmentStatus[code]; ok {
			appt.res.Set("status", st)
		} else {
			c.warn(fieldErr(s.at(10, 1, 0), s.get(10, 1, 1), "is not a filler status the IG maps", "HL7 table 0278: Pending, Waitlist, Booked, Started, Complete, Cancelled, Deleted, Noshow"))
		}
	}
	start, end, err := c.slotPeriod(appt, s, resourceSlot{start: 4, offset: 5, offsetUnits: 6, duration: 7, durationUnits: 8})
	if err != nil {
		return err
	}
	c.appointmentTimes(appt, start, end)
	return nil
}
