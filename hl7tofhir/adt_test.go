package hl7tofhir

import (
	"testing"
)

// TestEachADTEventConvertsToItsExpectedBundle converts one message per ADT
// event in testdata/adt and compares each Bundle, field by field, with its
// .json (go test ./hl7tofhir -run TestEachADTEvent -update rewrites them).
// Each converts without a warning.
func TestEachADTEventConvertsToItsExpectedBundle(t *testing.T) {
	checkGoldens(t, "testdata/adt", 19, checkFHIR, true)
}

func adtResult(t *testing.T, name string) *Result {
	t.Helper()
	return convertFile(t, "adt/"+name+".hl7", goldenOptions(t))
}

// links returns each Patient's link types by the Patient's family name.
func links(t *testing.T, res *Result) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range resources(t, res, "Patient") {
		names, _ := p["name"].([]any)
		family := ""
		if len(names) > 0 {
			family, _ = names[0].(map[string]any)["family"].(string)
		}
		for _, l := range asList(p["link"]) {
			out[family] = append(out[family], l.(map[string]any)["type"].(string))
		}
	}
	return out
}

func TestAnA17SwapMakesTwoPatientsEachWithTheirEncounter(t *testing.T) {
	res := adtResult(t, "adt_a17_swap_patients")
	patients, encounters := resources(t, res, "Patient"), resources(t, res, "Encounter")
	if len(patients) != 2 || len(encounters) != 2 {
		t.Fatalf("got %d Patients and %d Encounters, want 2 and 2", len(patients), len(encounters))
	}
	for i := range encounters {
		subject := encounters[i]["subject"].(map[string]any)["reference"]
		if subject != patients[i]["fullUrl"] {
			t.Errorf("Encounter %d is of %v, want %v", i, subject, patients[i]["fullUrl"])
		}
	}
}

func TestAnA39MergesEachPIDWithTheMRGAfterIt(t *testing.T) {
	got := links(t, adtResult(t, "adt_a39_merge_two_persons"))
	for family, want := range map[string]string{"SMITH": "replaces", "JONES": "replaces"} {
		if len(got[family]) != 2 || got[family][0] != want || got[family][1] != "replaced-by" {
			t.Errorf("links of the %s Patients (survivor, then merged away): got %v", family, got[family])
		}
	}
	if n := len(resources(t, adtResult(t, "adt_a39_merge_two_persons"), "Patient")); n != 4 {
		t.Errorf("got %d Patients, want 2 survivors and 2 merged away", n)
	}
}

func TestAnA34MergeLinksTheMergedAwayPatient(t *testing.T) {
	res := adtResult(t, "adt_a34_merge_patient_id")
	ps := resources(t, res, "Patient")
	if len(ps) != 2 || ps[1]["active"] != false || asList(ps[1]["link"])[0].(map[string]any)["type"] != "replaced-by" {
		t.Errorf("want the survivor and an inactive replaced-by Patient, got %v", ps)
	}
}

func TestAnA60MapsIAMAndAL1ToAllergies(t *testing.T) {
	all := resources(t, adtResult(t, "adt_a60_adverse_reactions"), "AllergyIntolerance")
	if len(all) != 2 {
		t.Fatalf("got %d AllergyIntolerances, want 2", len(all))
	}
	if all[0]["type"] != "allergy" || all[0]["onsetDateTime"] != "2019" || all[1]["clinicalStatus"] != nil || all[1]["onsetString"] != "childhood" {
		t.Errorf("IAM mapping: got %v", all)
	}
	if n := len(resources(t, adtResult(t, "adt_a60_with_al1"), "AllergyIntolerance")); n != 1 {
		t.Errorf("an A60 with AL1 made %d AllergyIntolerances, want 1", n)
	}
}

func TestEncounterStatusFollowsTheADTEvent(t *testing.T) {
	for name, want := range map[string]string{
		"adt_a01_admit": "in-progress", "adt_a03_discharge": "finished", "adt_a05_preadmit": "planned",
		"adt_a11_cancel_admit": "cancelled", "adt_a09_patient_departing": "in-progress", "adt_a12_cancel_transfer": "in-progress",
	} {
		encs := resources(t, adtResult(t, name), "Encounter")
		if len(encs) != 1 || encs[0]["status"] != want {
			t.Errorf("%s: Encounter status %v, want %s", name, encs, want)
		}
	}
}
