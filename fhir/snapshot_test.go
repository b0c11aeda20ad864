package fhir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Differential-only profiles (testdata/differential): the generated snapshot has the
// elements and constraints the differential asks for, and instances validate against it with
// exactly the errors expected.

const diffBase = "http://junction.example/fhir/diff/StructureDefinition/"

var (
	diffOnce sync.Once
	diffV    *Validator
	diffErr  error
)

func diffValidator(t testing.TB) *Validator {
	t.Helper()
	diffOnce.Do(func() {
		p, err := LoadPackage("testdata/differential")
		if err != nil {
			diffErr = err
			return
		}
		diffV, diffErr = NewValidator(p)
	})
	if diffErr != nil {
		t.Fatal(diffErr)
	}
	return diffV
}

func snapshotElement(t *testing.T, v *Validator, url, id string) *ElementDefinition {
	t.Helper()
	sd := v.reg.structure(url, nil)
	if sd == nil || sd.Snapshot == nil {
		t.Fatalf("%s has no snapshot", url)
	}
	for _, ed := range sd.Snapshot.Element {
		if ed.ID == id {
			return ed
		}
	}
	t.Fatalf("%s: no element %s in the generated snapshot", url, id)
	return nil
}

func TestGeneratedSnapshotHasWhatTheDifferentialAsksFor(t *testing.T) {
	v := diffValidator(t)
	el := func(id string) *ElementDefinition { return snapshotElement(t, v, diffBase+"test-diff-bp", id) }
	root := el("Observation")
	keys := ""
	for _, c := range root.Constraint {
		keys += c.Key + " "
	}
	if !strings.Contains(keys, "obs-6") || !strings.Contains(keys, "obs-7") || !strings.Contains(keys, "tdb-1") {
		t.Errorf("root invariants not merged with the base's: %s", keys)
	}
	if ed := el("Observation.code.coding:loinc.system"); string(ed.Fixed) != `"http://loinc.org"` || ed.Path != "Observation.code.coding.system" {
		t.Errorf("code.coding:loinc.system (unfolded from Coding): fixed %s path %s", ed.Fixed, ed.Path)
	}
	if ed := el("Observation.code.coding.system"); !ed.MustSupport || intOr(ed.Min, 0) != 1 {
		t.Errorf("code.coding.system: mustSupport %v min %d", ed.MustSupport, intOr(ed.Min, 0))
	}
	if ed := el("Observation.identifier:local/official.period"); ed.Max != "0" {
		t.Errorf("re-slice local/official.period: max %s", ed.Max)
	}
	if ed := el("Observation.identifier:local/official"); ed.SliceName != "local/official" || intOr(ed.Min, 0) != 0 {
		t.Errorf("re-slice: sliceName %q min %d", ed.SliceName, intOr(ed.Min, 0))
	}
	if ed := el("Observation.identifier:local.value"); ed.MaxLength != 8 {
		t.Errorf("maxLength %d", ed.MaxLength)
	}
	if ed := el("Observation.component:systolic.value[x]:valueQuantity.value"); string(ed.MaxValue) != "400" || ed.MaxValueType != "decimal" || string(ed.MinValue) != "0" {
		t.Errorf("min/maxValue: %s %s %s", ed.MinValue, ed.MaxValue, ed.MaxValueType)
	}
	if ed := el("Observation.component:diastolic.value[x]"); typeList(ed.Type) != "Quantity" {
		t.Errorf("diastolic value[x] types %s", typeList(ed.Type))
	}
	if ed := el("Observation.component:diastolic.value[x].code"); string(ed.Fixed) != `"mm[Hg]"` {
		t.Errorf("valueQuantity.code (renamed choice path) fixed %s", ed.Fixed)
	}
	if ed := el("Observation.method"); ed.Binding == nil || ed.Binding.Strength != "required" {
		t.Errorf("method binding %+v", ed.Binding)
	}
	if ed := el("Observation.subject"); len(ed.Type) != 1 || len(ed.Type[0].TargetProfile) != 1 {
		t.Errorf("subject type %+v", ed.Type)
	}
	if ed := el("Observation.component:systolic.value[x]"); ed.Slicing == nil || len(ed.Slicing.Discriminator) != 1 {
		t.Errorf("slice-of-slice value[x] slicing %+v", ed.Slicing)
	}
}

func TestValidInstanceOfADifferentialProfileHasNoErrors(t *testing.T) {
	oo := validate(t, diffValidator(t), readFile(t, "testdata/differential/instances/bp-valid.json"))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("errors:\n%s", dump(oo))
	}
}

// Each broken twin of the valid instance gives exactly one error, naming the constraint.
func TestBrokenInstancesOfADifferentialProfileGiveExactlyTheExpectedError(t *testing.T) {
	valid := string(readFile(t, "testdata/differential/instances/bp-valid.json"))
	url := diffBase + "test-diff-bp"
	cases := []struct{ name, old, new, want string }{
		{"slice missing", `"system" : "urn:junction:bp"`, `"system" : "urn:junction:xx"`, "Observation.identifier:local: minimum required = 1, but only found 0 (from " + url + ")"},
		{"maxLength", `"BP0001"`, `"BP000100001"`, "value is longer than permitted maximum length of 8"},
		{"re-slice constraint", `"use" : "official", "system" : "urn:junction:bp"`, `"use" : "official", "period" : { "start" : "2024-01-01" }, "system" : "urn:junction:bp"`, "Observation.identifier:local/official.period: max allowed = 0, but found 1"},
		{"pattern slice missing", `"code" : "vital-signs"`, `"code" : "laboratory"`, "Observation.category:vs: minimum required = 1, but only found 0"},
		{"child of unfolded type", `"coding" : [ { "system" : "http://loinc.org", "code" : "85354-9" } ]`, `"coding" : [ { "system" : "http://loinc.org", "code" : "85354-9" }, { "code" : "x" } ]`, "Observation.code.coding.system: minimum required = 1, but only found 0"},
		{"fixed value in slice", `"85354-9"`, `"85354-0"`, "Value is '85354-0' but must be '85354-9'"},
		{"min narrowed", `"subject" : { "reference" : "Patient/p1" },`, ``, "Observation.subject: minimum required = 1, but only found 0"},
		{"added invariant", `"effectiveDateTime" : "2024-05-01T10:00:00Z",`, ``, "Constraint failed: tdb-1: 'A blood pressure says when it was measured'"},
		{"max narrowed to 0", `"status" : "final",`, `"status" : "final", "note" : [ { "text" : "x" } ],`, "Observation.note: max allowed = 0, but found 1"},
		{"choice max 0", `"status" : "final",`, `"status" : "final", "valueString" : "x",`, "Observation.value[x]: max allowed = 0, but found 1"},
		{"closed slicing", `"component" : [`, `"component" : [ { "code" : { "text" : "pulse" }, "valueQuantity" : { "value" : 60 } },`, "does not match any known slice defined in the profile " + url + " and slicing is CLOSED"},
		{"fixed under renamed choice", `"value" : 80, "unit" : "mmHg", "system" : "http://unitsofmeasure.org", "code" : "mm[Hg]"`, `"value" : 80, "unit" : "mmHg", "system" : "http://unitsofmeasure.org", "code" : "mmHg"`, "Value is 'mmHg' but must be 'mm[Hg]'"},
		{"fixed in slice of slice", `"value" : 120, "unit" : "mmHg", "system" : "http://unitsofmeasure.org", "code" : "mm[Hg]"`, `"value" : 120, "unit" : "mmHg", "system" : "http://unitsofmeasure.org", "code" : "mmHg"`, "Value is 'mmHg' but must be 'mm[Hg]'"},
		{"type narrowed", `"effectiveDateTime" : "2024-05-01T10:00:00Z"`, `"effectivePeriod" : { "start" : "2024-05-01T10:00:00Z" }`, "The type 'Period' is not valid here - must be one of dateTime"},
		{"required binding", `"code" : "device"`, `"code" : "remote"`, "remote"},
	}
	v := diffValidator(t)
	for _, c := range cases {
		if !strings.Contains(valid, c.old) {
			t.Fatalf("%s: %q not in the valid instance", c.name, c.old)
		}
		oo := validate(t, v, []byte(strings.Replace(valid, c.old, c.new, 1)))
		errs := errorsOf(oo)
		if len(errs) != 1 || !strings.Contains(errs[0].Diagnostics, c.want) {
			t.Errorf("%s: want exactly one error with %q, got:\n%s", c.name, c.want, dump(oo))
		}
	}
}

// A differential that loosens its base is refused, naming the profile and the element.
func TestDifferentialThatWidensTheBaseIsRefusedNamingTheElement(t *testing.T) {
	cases := []struct{ element, want string }{
		{`{ "id" : "Observation.status", "path" : "Observation.status", "max" : "*" }`, "differential element Observation.status: max * is greater than the base's max 1"},
		{`{ "id" : "Observation.code", "path" : "Observation.code", "min" : 0 }`, "differential element Observation.code: min 0 is less than the base's min 1"},
		{`{ "id" : "Observation.status", "path" : "Observation.status", "binding" : { "strength" : "extensible" } }`, "differential element Observation.status: binding strength extensible is weaker than the base's required"},
		{`{ "id" : "Observation.effective[x]", "path" : "Observation.effective[x]", "type" : [ { "code" : "string" } ] }`, "differential element Observation.effective[x]: type string is not one of the base's types"},
		{`{ "id" : "Observation.status:x", "path" : "Observation.status", "sliceName" : "x" }`, "differential element Observation.status:x: slice x of Observation.status, which is not sliced"},
		{`{ "id" : "Observation.code.nickname", "path" : "Observation.code.nickname" }`, "differential element Observation.code.nickname: not found in the base: Observation.code has no element nickname"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		sd := `{ "resourceType" : "StructureDefinition", "url" : "http://junction.example/fhir/diff/StructureDefinition/wide", "name" : "Wide",
  "kind" : "resource", "type" : "Observation", "derivation" : "constraint", "baseDefinition" : "http://hl7.org/fhir/StructureDefinition/Observation",
  "differential" : { "element" : [ { "id" : "Observation", "path" : "Observation" }, ` + c.element + ` ] } }`
		if err := os.WriteFile(filepath.Join(dir, "sd.json"), []byte(sd), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPackage(filepath.Join(dir, "sd.json"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewValidator(p)
		if err == nil || !strings.Contains(err.Error(), "StructureDefinition http://junction.example/fhir/diff/StructureDefinition/wide: "+c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// minValue/maxValue from the differential reach the compiled profile; valueBounds (to be
// called from the validator's walk) reports values outside them.
func TestMinAndMaxValueFromADifferentialAreChecked(t *testing.T) {
	v := diffValidator(t)
	p, err := v.profileByURL(diffBase+"test-diff-bp", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := elemByID(p.root, "Observation.component:systolic.value[x]:valueQuantity.value")
	if d == nil {
		t.Fatal("no compiled element for the systolic value")
	}
	for value, want := range map[string]string{"120": "", "400": "", "400.5": "value is greater than permitted maximum value of 400", "-1": "value is less than permitted minimum value of 0"} {
		c := &vctx{v: v, is: &issues{}}
		n := &node{name: "value", typ: "decimal", value: value, hasValue: true}
		c.valueBounds(n, d)
		got := ""
		if len(c.is.list) > 0 {
			got = c.is.list[0].issue.Diagnostics
		}
		if got != want {
			t.Errorf("value %s: got %q, want %q", value, got, want)
		}
	}
}

// elemByID finds a compiled element by id, through children and slices.
func elemByID(d *elemDef, id string) *elemDef {
	if d.id == id {
		return d
	}
	for _, list := range [][]*elemDef{d.children, d.slices} {
		for _, c := range list {
			if strings.HasPrefix(id, c.id) {
				if f := elemByID(c, id); f != nil {
					return f
				}
			}
		}
	}
	return nil
}
