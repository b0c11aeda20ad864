package hl7tofhir

// BAR^P01 (add patient accounts) and BAR^P12 (update diagnosis/procedure):
// PID, PV1, DG1 as in ADT; PID-18 is the Account (IG segment-pid-to-account),
// GT1 its guarantors (gt1.go), IN1/IN2 the Coverages it lists (in1.go), PR1
// Procedures (pr1.go), ROL practitioner roles (rol.go). The IG has no BAR
// message map; this follows its ADT_A01 map for the segments they share.
//
// The Account is made when a segment needs it (GT1, IN1, FT1): convert.go
// has no hook after PID for it, so a BAR with none of them has no Account.
// DB1 (disability) has no mapping in the IG and is listed in Result.Ignored,
// as are UB1, UB2, DRG, ACC and IN3.

// account is the patient's Account (IG segment-pid-to-account): status
// active, identifier PID-18, subject the Patient; keyed by PID-18. Without
// a PID-18 only a BAR makes one (keyed by the message). It is read from PID
// once per message.
func (c *conv) account() *entry {
	if c.state(stAccountKnown) != nil {
		return c.state(stAccount)
	}
	c.setState(stAccountKnown, c.patient)
	id, ident, err := c.identifier(c.pid.field(18, 1))
	if err != nil {
		c.warn(err)
	}
	key := ""
	switch {
	case id != nil:
		key = "pid18|" + keyPart(ident.System+"|"+ident.Value)
	case c.msgType == "BAR":
		key = "msg|" + c.msgKey(c.pid)
	default:
		return nil
	}
	e, _ := c.entry("Account", key)
	if id != nil {
		e.res.Set("identifier", []any{id})
	}
	e.res.Set("status", "active")
	e.res.Set("subject", []any{c.patient.ref()})
	c.setState(stAccount, e)
	return e
}
