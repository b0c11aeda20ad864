package hl7tofhir

import (
	"strconv"
	"strings"
	"time"
)

// SIU^S12-S22, S26 (IG message SIU_S12 to Bundle): SCH makes the
// Appointment (sch.go), PID and PV1 the Patient and Encounter as in ADT, and
// the RESOURCES group adds the Appointment's participants: AIS the service
// (serviceType), AIG general resources (HealthcareService, or Location),
// AIL locations, AIP personnel (Practitioner); RGS only opens the group.
//
// Appointment.status: SCH-25 filler status (IG FillerStatusCodes[Appointment],
// table 0278), else the event; the events that end an appointment (S15
// cancel, S16 discontinue, S17 delete, S26 no-show) win over a stale SCH-25.
// S23/S24 (blocked and opened slots) describe Slots, not appointments: they
// are not supported message types, and their SCH and AIx are ignored.
//
// Departures from the IG, where R4 requires what the IG leaves open:
//   - participant.status (required): from the resource's filler status
//     (AIG-14, AIL-12, AIP-12) by table 0278 (accepted, tentative or
//     declined), accepted when empty; the patient is accepted;
//   - Appointment.start/end (required of booked appointments, app-3): SCH-11
//     start and end, else the first resource's start and end, else the start
//     plus SCH-9 (AIS-7, ...) duration;
//   - SCH-12 and SCH-16 contacts keep their role as participant.type text:
//     the IG's "placer contact" and "filler contact" codes are not in the
//     participant-type code system;
//   - NTE (Appointment.comment in the IG) is not mapped: convert.go
//     dispatches NTE itself (to Observations and orders), so an SIU's NTE
//     is listed in Ignored.

// appointmentStatus is table 0278 Filler Status Codes -> Appointment.status
// (IG FillerStatusCodes[Appointment]); Discontinued, Blocked and Overbook are
// unmapped in the IG: Overbook is a booked appointment, Discontinued one
// that was cancelled part-way.
var appointmentStatus = map[string]string{
	"PENDING": "pending", "WAITLIST": "waitlist", "BOOKED": "booked", "STARTED": "checked-in",
	"COMPLETE": "fulfilled", "CANCELLED": "cancelled", "DELETED": "entered-in-error",
	"NOSHOW": "noshow", "OVERBOOK": "booked", "DISCONTINUED": "cancelled",
}

// eventAppointmentStatus is the status an SIU event gives when SCH-25 is
// empty; final marks the events that win over SCH-25.
var eventAppointmentStatus = map[string]struct {
	status string
	final  bool
}{
	"S12": {"booked", false}, "S13": {"booked", false}, "S14": {"booked", false},
	"S15": {"cancelled", true}, "S16": {"cancelled", true}, "S17": {"entered-in-error", true},
	"S18": {"booked", false}, "S19": {"booked", false}, "S20": {"booked", false},
	"S21": {"booked", false}, "S22": {"booked", false}, "S26": {"noshow", true},
}

// slotEvent reports the SIU events about Slots (S23 blocked, S24 opened)
// and schedule queries (S25), which make no Appointment.
func slotEvent(event string) bool { return event == "S23" || event == "S24" || event == "S25" }

// participationStatus is table 0278 -> Appointment.participant.status.
var participationStatus = map[string]string{
	"PENDING": "tentative", "WAITLIST": "tentative", "BOOKED": "accepted", "STARTED": "accepted",
	"COMPLETE": "accepted", "OVERBOOK": "accepted", "CANCELLED": "declined", "DELETED": "declined",
	"DISCONTINUED": "declined", "NOSHOW": "declined", "BLOCKED": "declined",
}

// Per-message state of the scheduling and financial mappings, kept in
// c.byKey under names that are not Type/id keys (conv has no field for it):
// the current Appointment, Coverage, ChargeItem and the Account.
const (
	stAppointment  = "~appointment"
	stStatusFixed  = "~appointment-status-fixed"
	stCoverage     = "~coverage"
	stCharge       = "~charge"
	stAccount      = "~account"
	stAccountKnown = "~account-known"
)

func (c *conv) state(name string) *entry { return c.byKey[name] }

func (c *conv) setState(name string, e *entry) { c.byKey[name] = e }

// appointment is the Appointment SCH made. Without one it is nil, with a
// warning (a resource segment with no SCH before it), or with the segment
// ignored in slot events.
func (c *conv) appointment(s seg) (*entry, error) {
	if e := c.state(stAppointment); e != nil {
		return e, nil
	}
	if slotEvent(c.event) {
		c.ignore(s)
		return nil, nil
	}
	return nil, fieldErr(s.label(), "", "has no SCH before it", "an SCH segment: "+s.name+" adds a participant to its Appointment")
}

// resourceSlot is what each of AIG, AIL and AIP says of its resource's time:
// start, offset and units, duration and units, and its filler status.
type resourceSlot struct {
	start, offset, offsetUnits, duration, durationUnits, status int
}

// participant builds an Appointment.participant for actor (nil: type only),
// with period and status from the segment's slot fields, and moves the
// Appointment's start and end to the first resource's when SCH-11 had none.
func (c *conv) participant(appt *entry, s seg, slot resourceSlot, actor *entry, types []any) error {
	start, end, err := c.slotPeriod(appt, s, slot)
	if err != nil {
		c.warn(err)
	}
	status := "accepted"
	if slot.status > 0 {
		if code := strings.ToUpper(s.get(slot.status, 1, 1)); code != "" {
			if st, ok := participationStatus[code]; ok {
				status = st
			} else {
				c.warn(fieldErr(s.at(slot.status, 1, 0), code, "is not a filler status code", "HL7 table 0278: Pending, Waitlist, Booked, Started, Complete, Cancelled, ..."))
			}
		}
	}
	p := obj("type", types, "status", status, "period", obj("start", start, "end", end))
	if actor != nil {
		p = obj("type", types, "actor", actor.ref(), "status", status, "period", obj("start", start, "end", end))
	}
	if p.Get("actor") == nil && p.Get("type") == nil {
		return fieldErr(s.label(), "", "names no resource", "a resource ID or type: app-1 needs a participant's type or actor")
	}
	appt.res.Append("participant", p)
	c.appointmentTimes(appt, start, end)
	return nil
}

// slotPeriod reads a resource's start (or the Appointment's start plus the
// offset) and its end (start plus duration), as the IG's AIx maps do.
func (c *conv) slotPeriod(appt *entry, s seg, slot resourceSlot) (start, end string, err error) {
	start, err = c.dateTimeAt(s, slot.start, 1, 1)
	if err != nil {
		return "", "", err
	}
	if start == "" && slot.offset > 0 {
		if base, _ := appt.res.Get("start").(string); base != "" {
			mins, ok, err := durationMinutes(s, slot.offset, slot.offsetUnits)
			if err != nil {
				return "", "", err
			}
			if ok {
				start = addMinutes(base, mins)
			}
		}
	}
	if start != "" && slot.duration > 0 {
		mins, ok, err := durationMinutes(s, slot.duration, slot.durationUnits)
		if err != nil {
			return start, "", err
		}
		if ok {
			end = addMinutes(start, mins)
		}
	}
	return start, end, nil
}

// appointmentTimes fills Appointment.start and end from a participant's
// period when SCH did not give them; they are instants, so a date alone
// does not do.
func (c *conv) appointmentTimes(appt *entry, start, end string) {
	if appt.res.Get("start") == nil && appt.res.Get("end") == nil && isInstant(start) && isInstant(end) {
		appt.res.Set("start", start)
		appt.res.Set("end", end)
	}
}

// untimedAppointment makes an Appointment that no segment gave a start and
// end (SCH-11, AIS-4, AIG-8, AIL-6, AIP-6) proposed, with a warning: R4
// allows only proposed, cancelled and waitlisted appointments without
// times (app-3), and a feed that books a visit by day or clinic alone is
// common.
func (c *conv) untimedAppointment() {
	e := c.state(stAppointment)
	if e == nil || e.res.Get("start") != nil {
		return
	}
	switch st, _ := e.res.Get("status").(string); st {
	case "proposed", "cancelled", "waitlist":
		return
	default:
		c.warnf("SCH-11", "", "is empty and no resource segment gives a start and end: the Appointment is proposed, not "+st, "a start and end time (R4 app-3: a "+st+" Appointment has them)")
		e.res.Set("status", "proposed")
	}
}

// isInstant reports whether a rendered dateTime has a time of day (and so
// the zone dateTime adds with it).
func isInstant(v string) bool { return strings.Contains(v, "T") }

// durationMinutes reads an NM duration and its CNE units (default minutes,
// as v2 says for SCH-10 and the AIx duration units; unitField 0: always
// minutes) as whole minutes.
func durationMinutes(s seg, field, unitField int) (int, bool, error) {
	n, err := numberAt(s, field, 1, 1)
	if err != nil || n == "" {
		return 0, false, err
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 {
		return 0, false, fieldErr(s.at(field, 1, 0), string(n), "is not a duration", "a positive number of units")
	}
	unit := ""
	if unitField > 0 {
		unit = strings.ToLower(s.get(unitField, 1, 1))
	}
	per := minutesPer[unit]
	if per == 0 {
		return 0, false, fieldErr(s.at(unitField, 1, 0), unit, "is not a duration unit", "minutes (min), hours (h), days (d) or seconds (s)")
	}
	if m := f * per; m > maxMinutes {
		return 0, false, fieldErr(s.at(field, 1, 0), string(n), "is not a plausible duration", "at most 100 years")
	}
	return int(f*per + 0.5), true, nil
}

// maxMinutes bounds durations (100 years), so that adding one to a time
// stays within FHIR's years.
const maxMinutes = 100 * 366 * 24 * 60

// minutesPer is the length of a duration unit (ISO+ or UCUM) in minutes.
var minutesPer = map[string]float64{"": 1, "min": 1, "m": 1, "mn": 1, "minutes": 1, "s": 1.0 / 60, "sec": 1.0 / 60,
	"h": 60, "hr": 60, "hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440}

// addMinutes adds minutes to a rendered FHIR dateTime that has a time of day,
// keeping its offset; a date alone gets no end.
func addMinutes(dateTime string, minutes int) string {
	t, err := time.Parse(time.RFC3339Nano, dateTime)
	if err != nil {
		return ""
	}
	return t.Add(time.Duration(minutes) * time.Minute).Format("2006-01-02T15:04:05Z07:00")
}

// codingOf is a CWE repetition as one Coding (IG CWE[Coding]): the
// identifier triplet, else the alternate.
func (c *conv) codingOf(f field) *Object {
	cc := c.codeable(f, 1)
	if codings, _ := cc.Get("coding").([]any); len(codings) > 0 {
		return codings[0].(*Object)
	}
	if t, _ := cc.Get("text").(string); t != "" {
		return obj("display", t)
	}
	return nil
}
