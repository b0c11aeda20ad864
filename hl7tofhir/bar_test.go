package hl7tofhir

import (
	"strings"
	"testing"
)

const (
	mshBAR = "MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240702090000||BAR^P01^BAR_P01|BAR-9|P|2.5.1"
	pidBAR = "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M||||||||||ACC-1^^^RX1^AN"
	pv1BAR = "PV1|1|I|WARD7^^^RX1||||||||||||||||V2^^^RX1^VN"
)

func TestTheInsuredIsThePatientOrARelatedPerson(t *testing.T) {
	res := schedConvert(t, mshBAR, pidBAR,
		"IN1|1|P1^Plan one^L|INS1^^^RX1|Insurer One|||||||||||||SEL^Self^HL70063",
		"IN1|2|P2^Plan two^L|INS2^^^RX1|Insurer Two||||||||||||DOE^Jane|CHD^Child^HL70063|19500101||||2")
	covs := schedResources(t, res, "Coverage")
	if len(covs) != 2 {
		t.Fatalf("got %d Coverages, want 2", len(covs))
	}
	if covs[0]["subscriber"].(map[string]any)["reference"] != covs[0]["beneficiary"].(map[string]any)["reference"] {
		t.Errorf("IN1-17 SEL: subscriber %v, want the Patient (the beneficiary)", covs[0]["subscriber"])
	}
	rel := covs[1]["relationship"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if rel["code"] != "child" || covs[1]["order"].(float64) != 2 {
		t.Errorf("IN1[2]: relationship %v order %v, want child and 2", rel, covs[1]["order"])
	}
	rps := schedResources(t, res, "RelatedPerson")
	if len(rps) != 1 || rps[0]["birthDate"] != "1950-01-01" {
		t.Errorf("RelatedPersons %v, want the insured DOE^Jane", rps)
	}
	acct := schedResources(t, res, "Account")[0]
	if len(acct["coverage"].([]any)) != 2 {
		t.Errorf("Account.coverage %v, want both Coverages", acct["coverage"])
	}
}

func TestIN2AddsMemberNumbersToItsCoverage(t *testing.T) {
	res := schedConvert(t, mshBAR, pidBAR, "IN2|orphan",
		"IN1|1|P1^Plan^L|INS1^^^RX1|Insurer", "IN2||||||HIC-1||MCD-2"+strings.Repeat("|", 53)+"MBR-3^^^INS1")
	ids := schedResources(t, res, "Coverage")[0]["identifier"].([]any)
	var got []string
	for _, id := range ids {
		m := id.(map[string]any)
		typ := ""
		if ty, ok := m["type"].(map[string]any); ok {
			typ = ty["coding"].([]any)[0].(map[string]any)["code"].(string) + ":"
		}
		got = append(got, typ+m["value"].(string))
	}
	if strings.Join(got, " ") != "P1 MB:MBR-3 MC:HIC-1 MA:MCD-2" {
		t.Errorf("Coverage identifiers %v", got)
	}
	if !strings.Contains(strings.Join(res.Ignored, " "), "IN2 (segment 3)") {
		t.Errorf("Ignored %v, want the IN2 with no IN1 before it", res.Ignored)
	}
}

func TestGuarantorsArePatientOrganizationOrRelatedPerson(t *testing.T) {
	res := schedConvert(t, mshBAR, pidBAR,
		"GT1|1||||||||||SEL^Self^HL70063",
		"GT1|2||||||||||||||||||||Acme Ltd^^ACME1",
		"GT1|3|G-3^^^RX1|DOE^John||||||M||FTH^Father^HL70063|||20241231||||||||Y")
	acct := schedResources(t, res, "Account")[0]
	gs := acct["guarantor"].([]any)
	if len(gs) != 3 {
		t.Fatalf("guarantors %v, want 3", gs)
	}
	if o := schedResources(t, res, "Organization"); len(o) != 1 || o[0]["name"] != "Acme Ltd" {
		t.Errorf("Organizations %v, want Acme Ltd", o)
	}
	last := gs[2].(map[string]any)
	if last["onHold"] != true || last["period"].(map[string]any)["end"] != "2024-12-31" {
		t.Errorf("GT1[3] guarantor %v, want on hold until 2024-12-31", last)
	}
}

func TestAGuarantorWithoutAnAccountIsARelatedPersonOnly(t *testing.T) {
	res := schedConvert(t, mshA01, pidOK, pv1OK, "GT1|1||DOE^John")
	if a := schedResources(t, res, "Account"); len(a) != 0 {
		t.Errorf("an ADT with no PID-18 made Accounts %v", a)
	}
	if rp := schedResources(t, res, "RelatedPerson"); len(rp) != 1 {
		t.Errorf("RelatedPersons %v, want the guarantor", rp)
	}
}

func TestABARWithoutAnAccountNumberStillHasAnAccount(t *testing.T) {
	res := schedConvert(t, mshBAR, "PID|1||4857773456^^^NHS^NH||PATEL^Ravi", "GT1|1||DOE^John")
	if a := schedResources(t, res, "Account"); len(a) != 1 || a[0]["identifier"] != nil {
		t.Errorf("Accounts %v, want one, keyed by the message", a)
	}
}

func TestROLIsPlacedByWhereItIs(t *testing.T) {
	res := schedConvert(t, mshBAR, pidBAR,
		"ROL|R1^RX1|AD|PP^Primary Care Provider^HL70443|G1^GP^Gary^^^^^^RX1",
		"ROL|R2^RX1|AD|CP^Consultant^HL70443|C9^CON^Carl^^^^^^RX1",
		pv1BAR,
		"ROL|R3^RX1|AD|AT^Attending^HL70443|C1^DOC^Ann^^^^^^RX1",
		"ROL|R4^RX1|AD|CP^Consulting^HL70443|C2^DOC^Bob^^^^^^RX1",
		"IN1|1|P1^Plan^L|INS1^^^RX1|Insurer",
		"ROL|R5^RX1|AD|AT^Attending^HL70443|C3^DOC^Cat^^^^^^RX1")
	pat := schedResources(t, res, "Patient")[0]
	if gp := pat["generalPractitioner"].([]any); len(gp) != 1 {
		t.Errorf("generalPractitioner %v, want the PP role", gp)
	}
	enc := schedResources(t, res, "Encounter")[0]
	if parts, _ := enc["participant"].([]any); len(parts) != 2 {
		t.Errorf("Encounter.participant %v, want the two ROL after PV1", parts)
	}
	if n := len(schedResources(t, res, "PractitionerRole")); n != 3 {
		t.Errorf("%d PractitionerRoles, want 3", n)
	}
	ignored := strings.Join(res.Ignored, " ")
	if !strings.Contains(ignored, "ROL (segment 4)") || !strings.Contains(ignored, "ROL (segment 9)") {
		t.Errorf("Ignored %v, want the patient-level CP role and the ROL in the insurance group", res.Ignored)
	}
}

func TestARVLabelsThePatientOrTheEncounter(t *testing.T) {
	res := schedConvert(t, strings.Replace(mshBAR, "2.5.1", "2.8", 1), "ARV|1|A|ALL^All", pidBAR,
		"ARV|1|A|DEM^Demographics||||R", pv1BAR, "ARV|2|A|PSY^Psychiatry||||V", "ARV|3|D|HIV^HIV||||V")
	pat := schedResources(t, res, "Patient")[0]
	enc := schedResources(t, res, "Encounter")[0]
	codes := func(r map[string]any) string {
		var out []string
		for _, s := range r["meta"].(map[string]any)["security"].([]any) {
			out = append(out, s.(map[string]any)["code"].(string))
		}
		return strings.Join(out, " ")
	}
	if got := codes(pat); got != "DEM R" {
		t.Errorf("Patient security %s, want DEM R", got)
	}
	if got := codes(enc); got != "PSY V" {
		t.Errorf("Encounter security %s, want PSY V (the deleted ARV adds nothing)", got)
	}
	if !strings.Contains(strings.Join(res.Ignored, " "), "ARV (segment 2)") {
		t.Errorf("Ignored %v, want the message-level ARV", res.Ignored)
	}
}

func TestDB1HasNoMappingAndIsIgnored(t *testing.T) {
	res := schedConvert(t, mshBAR, pidBAR, "DB1|1|PT||Y")
	if !strings.Contains(strings.Join(res.Ignored, " "), "DB1") {
		t.Errorf("Ignored %v, want DB1", res.Ignored)
	}
}

func TestProceduresInADTAreUnknownAndKeyedByCodeAndTime(t *testing.T) {
	pr1 := "PR1|1||80146002^Appendectomy^SCT||20240612100000|||A1^ANA^Ann|||S1^SUR^Sam"
	a := schedConvert(t, mshA01, pidOK, pv1OK, pr1)
	b := schedConvert(t, strings.Replace(mshA01, "|E-1|", "|E-2|", 1), pidOK, pv1OK, pr1)
	pa, pb := schedResources(t, a, "Procedure"), schedResources(t, b, "Procedure")
	if len(pa) != 1 || pa[0]["status"] != "unknown" || pa[0]["id"] != pb[0]["id"] {
		t.Errorf("Procedures %v and %v, want one of status unknown, the same in both messages", pa, pb)
	}
	if perf := pa[0]["performer"].([]any); len(perf) != 2 {
		t.Errorf("performers %v, want anaesthetist and surgeon", perf)
	}
}
