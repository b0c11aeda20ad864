package fhir

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The KL packages with every snapshot removed: the generator rebuilds them from the
// differentials, and validation against the rebuilt profiles must give exactly what the
// published snapshots give.

var klSets = map[string][]string{
	"1.0.4": {"hl7.fhir.dk.kl.gateway.care#1.0.4", "dk.fhir.ig.kl.common.caresocial#0.7.0", "hl7.fhir.dk.core#1.1.0"},
	"1.2.0": {"kl.dk.fhir.gateway#1.2.0", "kl.dk.fhir.term#2.2.0", "hl7.fhir.dk.core#3.2.0"},
}

// strippedValidator loads the packages of an IG version without their snapshots.
func strippedValidator(t testing.TB, version string) (*Validator, []*Package) {
	t.Helper()
	pkgs := loadPackages(t, klSets[version]...)
	for _, p := range pkgs {
		for _, sd := range p.structures {
			sd.Snapshot = nil
		}
	}
	v, err := NewValidator(pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	return v, pkgs
}

// issueLines renders an outcome for comparison: severity, text and location of each issue.
func issueLines(oo *OperationOutcome) []string {
	var out []string
	for _, i := range oo.Issue {
		out = append(out, i.Severity+" "+i.Diagnostics+" @ "+strings.Join(i.Location, " | "))
	}
	return out
}

// klInstances lists instances to compare: the seeds and their broken variants, and every
// file of the KL regression set for the version.
func klInstances(t *testing.T, version string) map[string][]byte {
	out := map[string][]byte{}
	if version == "1.0.4" {
		seed := seedText(t)
		out["seed"] = []byte(seed)
		out["seed without Encounter.period"] = []byte(withoutEncounterPeriod(t, seed))
		out["seed with a code outside the value set"] = []byte(strings.Replace(seed, `"code" : "I2.1"`, `"code" : "I9.9"`, 1))
	} else {
		b := string(readFile(t, "testdata/care-delivery-report-1.2.0.json"))
		out["1.2.0 report"] = []byte(b)
		out["1.2.0 report without Encounter.period"] = []byte(withoutEncounterPeriod(t, b))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "kl-regression", version, "*", "*.json"))
	ex, _ := filepath.Glob(filepath.Join("testdata", "kl-examples", version, "*.json"))
	for _, f := range append(files, ex...) {
		if filepath.Base(f) != "expected.json" {
			out[f] = readFile(t, f)
		}
	}
	return out
}

func TestRegeneratedKLSnapshotsValidateLikeThePublishedOnes(t *testing.T) {
	for _, version := range []string{"1.0.4", "1.2.0"} {
		published := validator104
		if version == "1.2.0" {
			published = validator120
		}
		pv := published(t)
		gv, _ := strippedValidator(t, version)
		inst := klInstances(t, version)
		names := make([]string, 0, len(inst))
		for n := range inst {
			names = append(names, n)
		}
		sort.Strings(names)
		agree := 0
		for _, n := range names {
			want := issueLines(validate(t, pv, inst[n]))
			got := issueLines(validate(t, gv, inst[n]))
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("%s %s: generated snapshots give\n%s\npublished give\n%s", version, n, strings.Join(got, "\n"), strings.Join(want, "\n"))
				continue
			}
			agree++
		}
		t.Logf("snapshot regeneration %s: %d/%d instances agree", version, agree, len(names))
	}
}

// Every element the published snapshot constrains is in the generated one, with the same
// cardinality, types, fixed and pattern values and binding.
func TestRegeneratedKLSnapshotsHaveThePublishedElements(t *testing.T) {
	for _, version := range []string{"1.0.4", "1.2.0"} {
		orig := loadPackages(t, klSets[version]...)
		_, gen := strippedValidator(t, version)
		for i, p := range orig {
			for j, sd := range p.structures {
				compareSnapshots(t, sd, gen[i].structures[j])
			}
		}
	}
}

func compareSnapshots(t *testing.T, pub, gen *StructureDefinition) {
	t.Helper()
	byID := map[string]*ElementDefinition{}
	for _, ed := range gen.Snapshot.Element {
		byID[ed.ID] = ed
	}
	for _, want := range pub.Snapshot.Element {
		got := byID[want.ID]
		if underUnloadedExtension(want.ID) {
			continue
		}
		if got == nil {
			if len(want.Type) == 1 && !constrains(want) {
				continue // an unconstrained child the publisher unfolded
			}
			t.Errorf("%s: %s missing from the generated snapshot", pub.URL, want.ID)
			continue
		}
		if d := elementDifference(want, got); d != "" {
			t.Errorf("%s: %s: %s", pub.URL, want.ID, d)
		}
	}
}

func underUnloadedExtension(id string) bool {
	for _, u := range unloadedExtensions {
		if strings.Contains(id, u) {
			return true
		}
	}
	return false
}

// constrains tells whether a snapshot element says more than its type's definition would.
func constrains(ed *ElementDefinition) bool {
	return ed.Fixed != nil || ed.Pattern != nil || ed.SliceName != "" || ed.Slicing != nil ||
		(ed.Base != nil && ed.Min != nil && (*ed.Min != ed.Base.Min || ed.Max != ed.Base.Max))
}

func elementDifference(want, got *ElementDefinition) string {
	var d []string
	if intOr(want.Min, 0) != intOr(got.Min, 0) || want.Max != got.Max {
		d = append(d, "cardinality "+card(got)+", published "+card(want))
	}
	if typeList(want.Type) != typeList(got.Type) && !sameTypeAnyway(want, got) {
		d = append(d, "types "+typeList(got.Type)+", published "+typeList(want.Type))
	}
	if string(want.Fixed) != string(got.Fixed) || string(want.Pattern) != string(got.Pattern) {
		d = append(d, "fixed/pattern "+string(got.Fixed)+string(got.Pattern)+", published "+string(want.Fixed)+string(want.Pattern))
	}
	if want.Binding != nil && want.Binding.Strength != "example" && (got.Binding == nil || stripVersion(want.Binding.ValueSet) != stripVersion(got.Binding.ValueSet) || want.Binding.Strength != got.Binding.Strength) {
		d = append(d, "binding differs")
	}
	if (want.Slicing == nil) != (got.Slicing == nil) || (want.Slicing != nil && want.Slicing.Rules != got.Slicing.Rules && !strings.HasSuffix(want.Path, "[x]")) {
		d = append(d, "slicing differs")
	}
	return strings.Join(d, "; ")
}

// sameTypeAnyway: the built-in core gives Resource.id as System.String (the validator reads
// it as id) and Bundle.entry.response.outcome as OperationOutcome where the published
// snapshots copy Resource.
func sameTypeAnyway(want, got *ElementDefinition) bool {
	return strings.HasSuffix(want.Path, ".id") && strings.Count(want.Path, ".") == 1 ||
		typeList(want.Type) == "Resource"
}

// unloadedExtensions are extension definitions the KL profiles use that are not loaded (FHIR
// core extensions): their children fall back to Extension's, so the generated elements
// below them lack the published constraints.
var unloadedExtensions = []string{"extension:goalRelationship."}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func card(ed *ElementDefinition) string {
	return strings.TrimSpace(strings.Join([]string{strconv.Itoa(intOr(ed.Min, 0)), "..", ed.Max}, ""))
}
