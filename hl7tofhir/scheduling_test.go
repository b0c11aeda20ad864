package hl7tofhir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchedulingAndFinancialGoldens converts each
// testdata/scheduling/*.hl7 (SIU, DFT, BAR) and compares the Bundle with
// its .json, written from the IG's SCH, AIx, IN1, PR1, ROL, ARV and PID
// [Account] maps; -update rewrites them.
func TestSchedulingAndFinancialGoldens(t *testing.T) {
	checkGoldens(t, "testdata/scheduling", 5, checkSchedulingFHIR, true)
}

// schedulingRequired are the elements R4 requires of the resources these
// mappings make, and the required value sets of their statuses.
var schedulingRequired = map[string]struct {
	elements []string
	statuses map[string]bool
}{
	"Appointment": {[]string{"status", "participant"}, set("proposed", "pending", "booked", "arrived", "fulfilled",
		"cancelled", "noshow", "entered-in-error", "checked-in", "waitlist")},
	"ChargeItem": {[]string{"status", "code", "subject"}, set("planned", "billable", "not-billable", "aborted",
		"billed", "entered-in-error", "unknown")},
	"Coverage":          {[]string{"status", "beneficiary", "payor"}, set("active", "cancelled", "draft", "entered-in-error")},
	"Account":           {[]string{"status"}, set("active", "inactive", "entered-in-error", "on-hold", "unknown")},
	"Procedure":         {[]string{"status", "subject"}, set("preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown")},
	"PractitionerRole":  {},
	"HealthcareService": {},
}

// checkSchedulingFHIR checks what checkFHIR checks for the resources it
// knows (references resolve, dates, codes), and for the scheduling and
// financial ones their required elements, statuses and the Appointment
// invariants app-1 (participant type or actor), app-2 (start and end
// together) and app-3 (times unless proposed, cancelled or waitlist).
func checkSchedulingFHIR(t *testing.T, doc []byte) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	fullURLs := map[string]bool{}
	for _, e := range asList(b["entry"]) {
		fullURLs[e.(map[string]any)["fullUrl"].(string)] = true
	}
	walk(b, "", func(path, k string, v any) {
		if s, ok := v.(string); ok && k == "reference" && !fullURLs[s] {
			t.Errorf("%s: reference %q is not the fullUrl of an entry", path, s)
		}
		if s, ok := v.(string); ok && (k == "start" || k == "end" || strings.HasSuffix(k, "DateTime") || k == "enteredDate") && !reDateTime.MatchString(s) {
			t.Errorf("%s: %q is not a FHIR dateTime", path, s)
		}
	})
	for i, e := range asList(b["entry"]) {
		res := e.(map[string]any)["resource"].(map[string]any)
		rt := res["resourceType"].(string)
		req, ok := schedulingRequired[rt]
		if !ok {
			continue
		}
		for _, el := range req.elements {
			if res[el] == nil {
				t.Errorf("entry[%d] (%s): required element %s is missing", i, rt, el)
			}
		}
		if st, _ := res["status"].(string); req.statuses != nil && !req.statuses[st] {
			t.Errorf("entry[%d] (%s): status %q is not in its required value set", i, rt, st)
		}
		if rt == "Appointment" {
			checkAppointment(t, i, res)
		}
	}
}

func checkAppointment(t *testing.T, i int, res map[string]any) {
	t.Helper()
	for _, p := range asList(res["participant"]) {
		pm := p.(map[string]any)
		if pm["type"] == nil && pm["actor"] == nil {
			t.Errorf("entry[%d] (Appointment): app-1: a participant has neither type nor actor", i)
		}
		if !set("accepted", "declined", "tentative", "needs-action")[pm["status"].(string)] {
			t.Errorf("entry[%d] (Appointment): participant status %v", i, pm["status"])
		}
	}
	start, end := res["start"] != nil, res["end"] != nil
	if start != end {
		t.Errorf("entry[%d] (Appointment): app-2: start and end must come together", i)
	}
	if !start && !set("proposed", "cancelled", "waitlist")[res["status"].(string)] {
		t.Errorf("entry[%d] (Appointment): app-3: a %v appointment needs start and end", i, res["status"])
	}
	for _, k := range []string{"start", "end"} {
		if s, ok := res[k].(string); ok && !reInstant.MatchString(s) {
			t.Errorf("entry[%d] (Appointment): %s %q is not an instant", i, k, s)
		}
	}
}

// TestAnyFieldOfTheSchedulingMessagesCanBeGarbage replaces each field of
// each golden scheduling and financial message with values that fit no type
// and checks that the message still converts to valid resources (warnings,
// not refusals or panics). MSH, EVN, PID and PV1 are not varied: they are
// the other mappings' to be lenient about.
func TestAnyFieldOfTheSchedulingMessagesCanBeGarbage(t *testing.T) {
	files, _ := filepath.Glob("testdata/scheduling/*.hl7")
	conv, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	garbage := []string{`""`, "^^^^", "&&&", "x~y~z", "99999999999999999999", "2024-13-45T99", "-1"}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		segs := strings.Split(strings.TrimRight(string(raw), "\r"), "\r")
		for i, sg := range segs {
			name := sg[:3]
			if name == "MSH" || name == "PID" || name == "EVN" || name == "PV1" {
				continue
			}
			fields := strings.Split(sg, "|")
			for fi := 1; fi < len(fields); fi++ {
				for _, g := range garbage {
					mutated := append([]string(nil), fields...)
					mutated[fi] = g
					msgSegs := append([]string(nil), segs...)
					msgSegs[i] = strings.Join(mutated, "|")
					res, err := conv.Convert([]byte(strings.Join(msgSegs, "\r") + "\r"))
					if err != nil {
						t.Errorf("%s: %s-%d = %q: %v", filepath.Base(f), name, fi, g, err)
						continue
					}
					t.Run(fmt.Sprintf("%s/%s-%d=%s", filepath.Base(f), name, fi, g), func(t *testing.T) {
						checkSchedulingFHIR(t, res.JSON())
					})
				}
			}
		}
	}
}
