package hl7tofhir

// PD1 -> Patient.generalPractitioner (IG segment-pd1-to-patient): PD1-3
// (XON, the GP practice) -> Organization, PD1-4 (XCN, the GP) ->
// Practitioner.
func (c *conv) mapPD1(s seg) error {
	for r := 1; r <= s.reps(3); r++ {
		if org := c.organization(s.field(3, r)); org != nil {
			c.patient.res.Append("generalPractitioner", org.ref())
		}
	}
	for r := 1; r <= s.reps(4); r++ {
		if gp := c.practitioner(s.field(4, r)); gp != nil {
			c.patient.res.Append("generalPractitioner", gp.ref())
		}
	}
	return nil
}
