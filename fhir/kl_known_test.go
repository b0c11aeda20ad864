package fhir

// knownDisagreements lists the cases (suite/file) where Junction does not yet give what the
// HL7 reference validator gives, with the cause and the area it belongs to. They are
// reported with t.Log rather than failing; a case that agrees again is reported too, so it
// can be taken off the list.
var knownDisagreements = func() map[string]string {
	const (
		patientOfEveryone = "Bundle/references: the expectation (gen.py's, not a validator run) is the Patient's own error " +
			"only; Junction also gives 'Unable to find a match for profile Condition/… among choices' at the four " +
			"follow-up observations' focus, because a Condition whose subject fails klgateway-care-citizen does not fit " +
			"klgateway-care-condition - as HAPI does in the seed's error example (focus → Condition → follow-up " +
			"Encounter without period, TestSeedEncounterWithoutPeriodGivesExactlyHAPIsTwoErrors); the two conflict"
	)
	return map[string]string{
		"regression 1.0.4 broken/citizen.json": patientOfEveryone,
		"regression 1.2.0 broken/citizen.json": patientOfEveryone,
	}
}()
