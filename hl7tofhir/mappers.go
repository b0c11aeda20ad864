package hl7tofhir

// segmentMappers map the segments that convert.go's run does not dispatch itself,
// by segment name. A mapper sees the order group the segment belongs to (and may
// open a new one); a *FieldError it returns becomes a warning of the conversion.
var segmentMappers = map[string]func(c *conv, s seg, g *group) error{
	// Scheduling and financial (sch.go ... arv.go).
	"SCH": (*conv).mapSCH, "AIS": (*conv).mapAIS, "AIG": (*conv).mapAIG, "AIL": (*conv).mapAIL,
	"AIP": (*conv).mapAIP, "RGS": (*conv).mapRGS, "FT1": (*conv).mapFT1, "IN1": (*conv).mapIN1,
	"IN2": (*conv).mapIN2, "GT1": (*conv).mapGT1, "PR1": (*conv).mapPR1, "ROL": (*conv).mapROL,
	"ARV": (*conv).mapARV,
	// Orders, pharmacy and documents (tq1.go, spm.go, rxe.go, rxo.go, txa.go).
	"TQ1": (*conv).mapTQ1, "SPM": (*conv).mapSPM, "RXE": (*conv).mapRXE, "RXO": (*conv).mapRXO,
	"RXC": (*conv).mapRXC, "TXA": (*conv).mapTXA,
}
