package hl7tofhir

import "strings"

// AIP -> Appointment.participant (IG segment-aip-to-appointment): AIP-3
// personnel resource ID (XCN) is the actor, a Practitioner; AIP-4 resource
// type is participant.type (a v3 ParticipationType code, the IG's value
// set, gets that system when sent without one); period AIP-6 start (or the Appointment's plus
// the AIP-7 offset), end by AIP-9 duration; status AIP-12 (table 0278 by
// participationStatus: Booked accepted, Pending tentative, Cancelled
// declined, ...).
func (c *conv) mapAIP(s seg, _ *group) error {
	appt, err := c.appointment(s)
	if appt == nil {
		return err
	}
	var types []any
	if t := c.participantType(s.field(4, 1)); t.Len() > 0 {
		types = []any{t}
	}
	actor := c.practitioner(s.field(3, 1))
	return c.participant(appt, s, resourceSlot{start: 6, offset: 7, offsetUnits: 8, duration: 9, durationUnits: 10, status: 12}, actor, types)
}

// participantType is a resource type CWE as participant.type: a code of
// the encounter participant types sent with no coding system gets the v3
// ParticipationType system.
func (c *conv) participantType(f field) *Object {
	if f.c(3) == "" {
		if d, ok := v3ParticipationTypes[strings.ToUpper(f.c(1))]; ok {
			return obj("coding", []any{obj("system", sysParticipation, "code", strings.ToUpper(f.c(1)), "display", d)}, "text", f.c(2))
		}
	}
	return c.codeable(f, 1)
}

// v3ParticipationTypes are the codes of R4's encounter-participant-type
// value set from v3 ParticipationType, with their displays.
var v3ParticipationTypes = map[string]string{
	"ADM": "admitter", "ATND": "attender", "CALLBCK": "callback contact", "CON": "consultant",
	"DIS": "discharger", "ESC": "escort", "REF": "referrer", "SPRF": "secondary performer",
	"PPRF": "primary performer", "PART": "Participation",
}
