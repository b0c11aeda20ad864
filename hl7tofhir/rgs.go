package hl7tofhir

// RGS opens a resource group of an SIU message. It has no FHIR target (the
// IG maps none): its AIS, AIG, AIL and AIP add to the one Appointment. It is
// consumed, not listed in Result.Ignored.
func (c *conv) mapRGS(_ seg, _ *group) error { return nil }
