package fhir

// knownDisagreements lists the cases (suite/file) where Junction does not yet give what the
// HL7 reference validator gives, with the cause and the area it belongs to. They are
// reported with t.Log rather than failing; a case that agrees again is reported too, so it
// can be taken off the list.
var knownDisagreements = func() map[string]string {
	const (
		aggregation = "Bundle/references: for a reference of a standalone resource that the profile wants bundled the IG Publisher " +
			"gives 'Reference is remote which isn't supported by the specified aggregation mode(s) for the reference (bundled)'; " +
			"Junction words it 'Bundled or contained reference not found within the bundle/resource X' (or, mid-change, gives none)"
		resolveOutsideBundle = aggregation + "; and FHIRPath: the IG Publisher resolve()s Condition/VaskeSigLetteBegraensninger " +
			"to the IG's own example, Junction (validating the file alone) finds nothing and the klgateway-* invariant on resolve() fails"
		typedChoiceName = "FHIRPath: klgateway-citizen-observation-code-and-value-must-match (1.0.4) reads valueCodeableConcept, " +
			"the typed name of a choice, which the HL7 FHIRPath engine resolves and Junction's evaluator gives empty for, " +
			"so the invariant fails on every citizens' own observation"
		singleTarget = "Bundle/references: a bundled reference whose one targetProfile the target does not meet gives " +
			"'Unable to find a match for profile X among choices: <that profile>' at every reference to it (and, in 1.2.0, " +
			"fails gateway-care-report-1/-2 through conformsTo); HAPI reports the target's own error only (the seed's " +
			"error example: no issue at the Condition's follow-up-encounter reference to the Encounter without period)"
	)
	m := map[string]string{
		"regression 1.0.4 valid/citizens-own-observation.json":            typedChoiceName,
		"regression 1.0.4 broken/citizens-own-observation.json":           typedChoiceName,
		"regression 1.0.4 broken/citizen.json":                            singleTarget,
		"regression 1.2.0 broken/citizen.json":                            singleTarget,
		"examples 1.0.4/Bundle-374484d0-00cb-4b63-94d1-a0d984afc339.json": typedChoiceName,
	}
	for _, f := range []string{"CarePlan-Dialyse", "CarePlan-PersonligHygiejne", "Condition-ProblemerMedPersonligPleje",
		"Condition-VaskeSigLetteBegraensninger", "Condition-VaskeSigLetteBegraensningerNy", "Encounter-NaesteOpfoelgningsdato",
		"Observation-DialyseFortsaettes", "Observation-EgensomsorgBegraensninger", "Observation-EgensomsorgBegraensningerOmkringKropspleje",
		"Observation-PersonligHygiejneFortsaettes", "Observation-PersonligPlejeFortsaettes", "Observation-VaskeSigFortsaettes",
		"Procedure-Saarbehandling"} {
		m["examples 1.2.0/"+f+".json"] = aggregation
	}
	for _, f := range []string{"Goal-ForventetIngenBegraensninger", "Observation-OpleverIkkeBegraensningerMedVaskeSig", "Observation-UdfoererSelvVaskeSig"} {
		m["examples 1.2.0/"+f+".json"] = resolveOutsideBundle
	}
	return m
}()
