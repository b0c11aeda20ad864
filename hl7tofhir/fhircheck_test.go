package hl7tofhir

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// checkFHIR checks what can be checked of FHIR R4 validity without the
// validator: Bundle and entry structure, id syntax, that every reference
// resolves to an entry, date/dateTime/instant syntax, codes bound to
// required value sets, and the elements R4 requires of each resource made
// here. The project's FHIR validator checks the golden files fully.
func checkFHIR(t *testing.T, doc []byte) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	fail := func(format string, args ...any) { t.Helper(); t.Errorf("FHIR check: "+format, args...) }
	if b["resourceType"] != "Bundle" || b["type"] != "transaction" {
		fail("want a transaction Bundle, got resourceType %v type %v", b["resourceType"], b["type"])
	}
	entries, _ := b["entry"].([]any)
	if len(entries) == 0 {
		fail("Bundle has no entries")
	}
	fullURLs := map[string]bool{}
	for i, e := range entries {
		en := e.(map[string]any)
		res, _ := en["resource"].(map[string]any)
		full, _ := en["fullUrl"].(string)
		req, _ := en["request"].(map[string]any)
		rt, _ := res["resourceType"].(string)
		id, _ := res["id"].(string)
		at := fmt.Sprintf("entry[%d] (%s)", i, rt)
		if !reID.MatchString(id) {
			fail("%s: id %q does not match the FHIR id syntax", at, id)
		}
		if !reUUIDURN.MatchString(full) {
			if u, err := url.Parse(full); err != nil || !u.IsAbs() || !strings.HasSuffix(full, "/"+rt+"/"+id) {
				fail("%s: fullUrl %q is neither a urn:uuid nor an absolute URL ending in %s/%s", at, full, rt, id)
			}
		}
		if fullURLs[full] {
			fail("%s: fullUrl %q is not unique", at, full)
		}
		fullURLs[full] = true
		if req["method"] != "PUT" || req["url"] != rt+"/"+id {
			fail("%s: request %v, want PUT %s/%s", at, req, rt, id)
		}
		checkResource(t, at, rt, res)
	}
	// Every reference resolves inside the Bundle.
	walk(b, "", func(path string, k string, v any) {
		if k == "reference" {
			if s, _ := v.(string); !fullURLs[s] {
				fail("%s: reference %q is not the fullUrl of an entry", path, s)
			}
		}
		s, isString := v.(string)
		if !isString {
			return
		}
		switch {
		case k == "birthDate" || k == "expirationDate":
			if !reDate.MatchString(s) {
				fail("%s: %q is not a FHIR date", path, s)
			}
		case k == "timestamp" || k == "issued" || (k == "recorded" && strings.Contains(path, "Provenance")):
			if !reInstant.MatchString(s) {
				fail("%s: %q is not a FHIR instant", path, s)
			}
		case k == "start" || k == "end" || k == "recordedDate" || k == "recorded" || strings.HasSuffix(k, "DateTime"):
			if !reDateTime.MatchString(s) {
				fail("%s: %q is not a FHIR dateTime", path, s)
			}
		case k == "valueTime":
			if !reTime.MatchString(s) {
				fail("%s: %q is not a FHIR time", path, s)
			}
		}
		if s == "" {
			fail("%s: empty string (FHIR forbids it)", path)
		}
	})
}

// FHIR R4 primitive regexes (from the spec).
var (
	reID       = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	reUUIDURN  = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reDate     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	reDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	reTime     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$`)
)

// required lists, per resource type, the elements R4 requires (1..1 or
// 1..*) and the codes of elements bound to required value sets.
var required = map[string][]string{
	"Patient":            {},
	"Encounter":          {"status", "class"},
	"Observation":        {"status", "code"},
	"DiagnosticReport":   {"status", "code"},
	"Immunization":       {"status", "vaccineCode", "patient", "occurrenceDateTime"},
	"AllergyIntolerance": {"patient"},
	"Condition":          {"subject"},
	"RelatedPerson":      {"patient"},
	"Provenance":         {"target", "recorded", "agent"},
	"Practitioner":       {},
	"Organization":       {},
	"Location":           {},
	"Appointment":        {"status", "participant"},
	"ChargeItem":         {"status", "code", "subject"},
	"Account":            {"status"},
}

var requiredCodes = map[string]map[string]bool{
	"gender":                         set("male", "female", "other", "unknown"),
	"name.use":                       set("usual", "official", "temp", "nickname", "anonymous", "old", "maiden"),
	"address.use":                    set("home", "work", "temp", "old", "billing"),
	"address.type":                   set("postal", "physical", "both"),
	"telecom.system":                 set("phone", "fax", "email", "pager", "url", "sms", "other"),
	"telecom.use":                    set("home", "work", "temp", "old", "mobile"),
	"Encounter.status":               set("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"),
	"Encounter.location.status":      set("planned", "active", "reserved", "completed"),
	"Observation.status":             set("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"),
	"DiagnosticReport.status":        set("registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown"),
	"Immunization.status":            set("completed", "entered-in-error", "not-done"),
	"AllergyIntolerance.type":        set("allergy", "intolerance"),
	"AllergyIntolerance.category":    set("food", "medication", "environment", "biologic"),
	"AllergyIntolerance.criticality": set("low", "high", "unable-to-assess"),
	"Patient.link.type":              set("replaced-by", "replaces", "refer", "seealso"),
	"comparator":                     set("<", "<=", ">=", ">"),
	"Location.mode":                  set("instance", "kind"),
	"Provenance.entity.role":         set("derivation", "revision", "quotation", "source", "removal"),
	"Appointment.status":             set("proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error", "checked-in", "waitlist"),
	"ChargeItem.status":              set("planned", "billable", "not-billable", "aborted", "billed", "entered-in-error", "unknown"),
	"Account.status":                 set("active", "inactive", "entered-in-error", "on-hold", "unknown"),
	"Appointment.participant.status": set("accepted", "declined", "tentative", "needs-action"),
}

func set(v ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range v {
		m[s] = true
	}
	return m
}

func checkResource(t *testing.T, at, rt string, res map[string]any) {
	t.Helper()
	fields, known := required[rt]
	if !known {
		t.Errorf("FHIR check: %s: resource type %s is not one this mapping makes", at, rt)
	}
	for _, f := range fields {
		if res[f] == nil {
			t.Errorf("FHIR check: %s: required element %s is missing", at, f)
		}
	}
	code := func(key string, v any) {
		t.Helper()
		s, _ := v.(string)
		if v != nil && !requiredCodes[key][s] {
			t.Errorf("FHIR check: %s: %s %q is not in its required value set", at, key, s)
		}
	}
	code(rt+".status", res["status"])
	if rt == "Patient" || rt == "RelatedPerson" {
		code("gender", res["gender"])
	}
	if rt == "AllergyIntolerance" {
		code("AllergyIntolerance.type", res["type"])
		code("AllergyIntolerance.criticality", res["criticality"])
		for _, c := range asList(res["category"]) {
			code("AllergyIntolerance.category", c)
		}
	}
	if rt == "Location" {
		code("Location.mode", res["mode"])
	}
	for _, n := range asList(res["name"]) {
		if m, ok := n.(map[string]any); ok {
			code("name.use", m["use"])
		}
	}
	for _, a := range asList(res["address"]) {
		m := a.(map[string]any)
		code("address.use", m["use"])
		code("address.type", m["type"])
	}
	for _, c := range asList(res["telecom"]) {
		m := c.(map[string]any)
		code("telecom.system", m["system"])
		code("telecom.use", m["use"])
		if m["value"] != nil && m["system"] == nil {
			t.Errorf("FHIR check: %s: cpt-2: a telecom value needs a system", at)
		}
	}
	for _, l := range asList(res["link"]) {
		code("Patient.link.type", l.(map[string]any)["type"])
	}
	if rt == "Encounter" {
		for _, l := range asList(res["location"]) {
			code("Encounter.location.status", l.(map[string]any)["status"])
		}
	}
	if rt == "Provenance" {
		for _, e := range asList(res["entity"]) {
			code("Provenance.entity.role", e.(map[string]any)["role"])
		}
		for _, a := range asList(res["agent"]) {
			if a.(map[string]any)["who"] == nil {
				t.Errorf("FHIR check: %s: agent.who is required", at)
			}
		}
	}
	walk(res, at, func(path, k string, v any) {
		if k == "comparator" {
			code("comparator", v)
		}
		if k == "system" && strings.HasSuffix(path, "valueQuantity.system") && v != sysUCUM {
			t.Errorf("FHIR check: %s: a Quantity system other than UCUM", path)
		}
	})
	if rt == "Observation" {
		n := 0
		for k := range res {
			if strings.HasPrefix(k, "value") {
				n++
			}
		}
		if n > 1 || (n == 1 && res["dataAbsentReason"] != nil) {
			t.Errorf("FHIR check: %s: obs-6: value[x] and dataAbsentReason are exclusive, one value only", at)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// walk calls fn for every key/value below v.
func walk(v any, path string, fn func(path, key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			fn(p, k, e)
			walk(e, p, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
