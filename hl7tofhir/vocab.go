package hl7tofhir

import "strings"

// Concept maps from v2 tables to FHIR codes, after the HL7 "v2 to FHIR" IG
// (hl7.org/fhir/uv/v2mappings) table-hl7xxxx-to-... ConceptMaps. Codes the
// IG leaves unmapped are left out, so the FHIR element is omitted rather
// than guessed; where a FHIR element is required (Encounter.class,
// Observation.status, ...) an unknown code is an error instead.

const (
	sysV2              = "http://terminology.hl7.org/CodeSystem/v2-"
	sysActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	sysParticipation   = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysMarital         = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	sysNullFlavor      = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
	sysRoleCode        = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	sysInterpretation  = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysConditionCat    = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysConditionVer    = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysAllergyClinical = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	sysUCUM            = "http://unitsofmeasure.org"
	sysBCP47           = "urn:ietf:bcp:47"
	sysLocationType    = "http://terminology.hl7.org/CodeSystem/location-physical-type"
	sysDataAbsent      = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
)

// code is a FHIR coding target.
type code struct{ system, code, display string }

func (c code) coding() *Object {
	return obj("system", c.system, "code", c.code, "display", c.display)
}

// Table 0001 Administrative Sex -> AdministrativeGender.
var genderMap = map[string]string{"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}

// Table 0004 Patient Class -> Encounter.class (v3 ActCode; codes without
// an ActCode equivalent stay in v2-0004, as the IG does).
var patientClassMap = map[string]code{
	"E": {sysActCode, "EMER", "emergency"},
	"I": {sysActCode, "IMP", "inpatient encounter"},
	"O": {sysActCode, "AMB", "ambulatory"},
	"P": {sysActCode, "PRENC", "pre-admission"},
	"R": {sysV2 + "0004", "R", "Recurring patient"},
	"B": {sysV2 + "0004", "B", "Obstetrics"},
	"C": {sysV2 + "0004", "C", "Commercial Account"},
	"N": {sysV2 + "0004", "N", "Not Applicable"},
	"U": {sysV2 + "0004", "U", "Unknown"},
}

// Table 0004 -> Encounter.status, used when the event does not say.
var patientClassStatus = map[string]string{
	"E": "in-progress", "I": "in-progress", "O": "in-progress", "P": "planned",
	"R": "in-progress", "B": "in-progress", "C": "in-progress", "N": "in-progress", "U": "unknown",
}

// Table 0003 event -> Encounter.status (IG Event[EncounterStatus]). A08 is
// left out: it does not convey a status, so PV1 decides.
var eventStatus = map[string]string{
	"A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "planned",
	"A05": "planned", "A06": "in-progress", "A07": "in-progress",
	"A11": "cancelled", "A13": "in-progress",
	// The IG's map leaves these out: A09/A10 (patient departing/arriving,
	// tracking), A12 (cancel transfer) and A17 (swap) move a patient who
	// stays admitted, so in-progress.
	"A09": "in-progress", "A10": "in-progress", "A12": "in-progress", "A17": "in-progress",
}

// Table 0200 Name Type -> HumanName.use.
var nameUseMap = map[string]string{
	"BAD": "old", "D": "usual", "L": "official", "M": "maiden", "MSK": "anonymous",
	"N": "nickname", "NAV": "temp", "R": "official", "TEMP": "temp", "NOUSE": "old",
}

// Table 0190 Address Type -> Address.use and Address.type.
var addressUseMap = map[string]string{"BA": "old", "BI": "billing", "C": "temp", "B": "work", "H": "home", "O": "work"}
var addressTypeMap = map[string]string{"M": "postal", "SH": "postal"}

// Table 0201 Telecommunication Use -> ContactPoint.use.
var telecomUseMap = map[string]string{"PRN": "home", "WPN": "work", "PRS": "mobile", "VHN": "temp", "ORN": "home"}

// Table 0202 Telecommunication Equipment Type -> ContactPoint.system (CP is
// a phone whose use is mobile).
var telecomSystemMap = map[string]string{
	"PH": "phone", "FX": "fax", "MD": "other", "CP": "phone", "SAT": "other", "BP": "pager",
	"INTERNET": "email", "X.400": "email", "TDD": "other", "TTY": "other",
}

// Table 0002 Marital Status -> v3 MaritalStatus / NullFlavor.
var maritalMap = map[string]code{
	"A": {sysMarital, "L", "Legally Separated"}, "D": {sysMarital, "D", "Divorced"},
	"M": {sysMarital, "M", "Married"}, "S": {sysMarital, "S", "Never Married"},
	"W": {sysMarital, "W", "Widowed"}, "C": {sysMarital, "C", "Common Law"},
	"G": {sysMarital, "T", "Domestic partner"}, "P": {sysMarital, "T", "Domestic partner"},
	"R": {sysMarital, "T", "Domestic partner"}, "E": {sysMarital, "L", "Legally Separated"},
	"N": {sysMarital, "A", "Annulled"}, "I": {sysMarital, "I", "Interlocutory"},
	"B": {sysMarital, "U", "unmarried"}, "U": {sysNullFlavor, "UNK", "unknown"},
	"O": {sysNullFlavor, "OTH", "other"}, "T": {sysNullFlavor, "NAVU", "not available"},
}

// Tables 0063 Relationship and 0131 Contact Role -> RelatedPerson.relationship.
var relationshipMap = map[string]code{
	"SEL": {sysRoleCode, "ONESELF", "self"}, "SPO": {sysRoleCode, "SPS", "spouse"},
	"DOM": {sysRoleCode, "SIGOTHR", "significant other"}, "CHD": {sysRoleCode, "CHILD", "child"},
	"GCH": {sysRoleCode, "GRNDCHILD", "grandchild"}, "NCH": {sysRoleCode, "NCHILD", "natural child"},
	"SCH": {sysRoleCode, "STPCHLD", "step child"}, "FCH": {sysRoleCode, "CHLDFOST", "foster child"},
	"PAR": {sysRoleCode, "PRN", "parent"}, "MTH": {sysRoleCode, "MTH", "mother"},
	"FTH": {sysRoleCode, "FTH", "father"}, "GRP": {sysRoleCode, "GRPRN", "grandparent"},
	"EXF": {sysRoleCode, "EXT", "extended family member"}, "SIB": {sysRoleCode, "SIB", "sibling"},
	"BRO": {sysRoleCode, "BRO", "brother"}, "SIS": {sysRoleCode, "SIS", "sister"},
	"FND": {sysRoleCode, "FRND", "unrelated friend"},
	"EMR": {sysV2 + "0131", "E", "Employer"}, "EMC": {sysV2 + "0131", "C", "Emergency Contact"},
	"UNK": {sysV2 + "0131", "U", "Unknown"}, "OTH": {sysV2 + "0131", "O", "Other"},
}

var contactRoleMap = map[string]code{
	"E": {sysV2 + "0131", "E", "Employer"}, "C": {sysV2 + "0131", "C", "Emergency Contact"},
	"F": {sysV2 + "0131", "F", "Federal Agency"}, "I": {sysV2 + "0131", "I", "Insurance Company"},
	"N": {sysV2 + "0131", "N", "Next-of-Kin"}, "S": {sysV2 + "0131", "S", "State Agency"},
	"O": {sysV2 + "0131", "O", "Other"}, "U": {sysV2 + "0131", "U", "Unknown"},
	// NOK is widespread in UK feeds for next of kin, where 0131 has N.
	"NOK": {sysV2 + "0131", "N", "Next-of-Kin"},
}

// Table 0078 Interpretation Codes -> v3 ObservationInterpretation (same
// codes; the ones the IG leaves unmapped stay in v2-0078).
var interpretationCodes = map[string]string{
	"<": "Off scale low", ">": "Off scale high", "A": "Abnormal", "AA": "Critical abnormal",
	"AC": "Anti-complementary substances present", "B": "Better", "CAR": "Carrier",
	"D": "Significant change down", "DET": "Detected", "E": "Equivocal", "EX": "outside threshold",
	"EXP": "Expected", "H": "High", "HH": "Critical high", "HU": "Significantly high",
	"I": "Intermediate", "IE": "Insufficient evidence", "IND": "Indeterminate", "L": "Low",
	"LL": "Critical low", "LU": "Significantly low", "N": "Normal",
	"NCL": "No CLSI defined breakpoint", "ND": "Not detected", "NEG": "Negative",
	"NR": "Non-reactive", "NS": "Non-susceptible", "POS": "Positive", "R": "Resistant",
	"RR": "Reactive", "S": "Susceptible", "SDD": "Susceptible-dose dependent",
	"SYN-R": "Synergy - resistant", "SYN-S": "Synergy - susceptible",
	"U": "Significant change up", "UNE": "Unexpected", "W": "Worse", "WR": "Weakly reactive",
}

// Table 0085 Observation Result Status -> Observation.status. The IG maps
// A, C, D, F, P, W and X; the rest are mapped to the nearest status so the
// required element is never empty: I/O (pending, order detail) registered,
// R/S (unverified, partial) preliminary, U/V/B (final, verified, appended)
// final or amended, N (not asked) final with a dataAbsentReason.
var observationStatusMap = map[string]string{
	"A": "amended", "C": "corrected", "D": "entered-in-error", "F": "final",
	"P": "preliminary", "W": "entered-in-error", "X": "cancelled",
	"I": "registered", "O": "registered", "R": "preliminary", "S": "preliminary",
	"U": "final", "V": "final", "B": "amended", "N": "final",
}

// Table 0123 Result Status -> DiagnosticReport.status (IG, plus A partial,
// M corrected, N registered for the codes it leaves open).
var reportStatusMap = map[string]string{
	"O": "registered", "I": "registered", "S": "registered", "P": "preliminary",
	"C": "corrected", "R": "partial", "F": "final", "X": "cancelled",
	"A": "partial", "M": "corrected", "N": "registered",
}

// Table 0127 Allergen Type -> AllergyIntolerance.category.
var allergyCategoryMap = map[string]string{
	"DA": "medication", "FA": "food", "EA": "environment", "AA": "biologic", "PA": "environment", "LA": "environment",
}

// Table 0128 Allergy Severity -> AllergyIntolerance.criticality.
var allergyCriticalityMap = map[string]string{"SV": "high", "MI": "low", "U": "unable-to-assess"}

// Table 0322 Completion Status -> Immunization.status.
var completionStatusMap = map[string]string{"CP": "completed", "RE": "not-done", "NA": "not-done", "PA": "completed"}

// codeSystems maps v2 coding system names (table 0396) to FHIR URIs.
var codeSystems = map[string]string{
	"SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct",
	"SNOMEDCT": "http://snomed.info/sct", "LN": "http://loinc.org", "LOINC": "http://loinc.org",
	"I10": "http://hl7.org/fhir/sid/icd-10", "ICD10": "http://hl7.org/fhir/sid/icd-10",
	"I10C": "http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
	"I9": "http://hl7.org/fhir/sid/icd-9-cm", "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
	"UCUM": sysUCUM, "CVX": "http://hl7.org/fhir/sid/cvx", "MVX": "http://terminology.hl7.org/CodeSystem/MVX",
	"RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm", "NDC": "http://hl7.org/fhir/sid/ndc",
	"NCIT": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "DMD": "https://dmd.nhs.uk",
	"C4": "http://www.ama-assn.org/go/cpt", "CPT": "http://www.ama-assn.org/go/cpt",
}

// codeSystem returns the FHIR URI for a v2 coding system name: site
// settings first, then the well-known names, then HL7nnnn (v2 tables).
// Local systems (L, 99zzz) and unknown names have no URI: the coding keeps
// its code and display without a system.
func (c *conv) codeSystem(name string) string {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "" {
		return ""
	}
	if u, ok := c.opts.CodeSystems[n]; ok {
		return u
	}
	if u, ok := codeSystems[n]; ok {
		return u
	}
	if strings.HasPrefix(n, "HL7") && len(n) == 7 && allDigits(n[3:]) {
		return sysV2 + n[3:]
	}
	return ""
}
