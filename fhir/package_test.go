package fhir

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPackageTgz(t *testing.T) {
	p, err := LoadPackage("packages/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID() != "hl7.fhir.dk.kl.gateway.care#1.0.4" || p.Canonical != "http://gateway.kl.dk/1.0" || p.Dependencies["dk.fhir.ig.kl.common.caresocial"] != "current" {
		t.Errorf("manifest: %s %s %v", p.ID(), p.Canonical, p.Dependencies)
	}
	if len(p.StructureDefinitions()) != 12 {
		t.Errorf("%d StructureDefinitions, want 12", len(p.StructureDefinitions()))
	}
}

// An unpacked npm package (folder with package/package.json) loads like the .tgz.
func TestLoadPackageUnpacked(t *testing.T) {
	dir := t.TempDir()
	untar(t, "packages/hl7.fhir.dk.core#1.1.0.tgz", dir)
	p, err := LoadPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID() != "hl7.fhir.dk.core#1.1.0" || len(p.StructureDefinitions()) == 0 {
		t.Errorf("unpacked: %s, %d definitions", p.ID(), len(p.StructureDefinitions()))
	}
}

func TestLoadPackageLooseFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"StructureDefinition-test-organization.json", "ValueSet-test-marital.json", "CodeSystem-test-codes.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), readFile(t, filepath.Join("testdata/profiles", f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.json"), []byte(`{"hello":"world"}`), 0o644)
	p, err := LoadPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.structures) != 1 || len(p.valueSets) != 1 || len(p.codeSystems) != 1 {
		t.Errorf("loose folder: %d/%d/%d", len(p.structures), len(p.valueSets), len(p.codeSystems))
	}
	// A single file.
	one, err := LoadPackage("testdata/profiles/StructureDefinition-test-organization.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(one)
	if err != nil {
		t.Fatal(err)
	}
	oo := validate(t, v, []byte(`{"resourceType":"Organization","id":"o","meta":{"profile":["http://junction.example/fhir/StructureDefinition/test-organization"]},"alias":["x"]}`))
	if findIssue(oo, SeverityError, "Organization.name: minimum required = 1") == nil {
		t.Errorf("single-file profile not applied:\n%s", dump(oo))
	}
	if _, err := LoadPackage("testdata/resources/bundle-valid.json"); err == nil || !strings.Contains(err.Error(), "Bundle") {
		t.Errorf("a Bundle file as a package: %v", err)
	}
	if _, err := LoadPackage("testdata/nowhere"); err == nil {
		t.Error("missing path loaded")
	}
}

func TestDependencies(t *testing.T) {
	// hl7.terminology.r4 and hl7.fhir.uv.extensions.r4 are never loaded: that is fine.
	validator104(t)
	// A missing package dependency is a clear error.
	_, err := NewValidator(loadPackages(t, "hl7.fhir.dk.kl.gateway.care#1.0.4")...)
	if err == nil || !strings.Contains(err.Error(), "needs dk.fhir.ig.kl.common.caresocial#current, which is not loaded") {
		t.Fatalf("missing dependency: %v", err)
	}
}

// A differential the generator cannot turn into a snapshot is refused with the reason.
func TestDifferentialRefused(t *testing.T) {
	dir := t.TempDir()
	sd := strings.Replace(string(readFile(t, "testdata/profiles/StructureDefinition-test-organization.json")),
		`"path" : "Organization.name"`, `"path" : "Organization.nickname"`, 1)
	sd = strings.Replace(sd, `"id" : "Organization.name"`, `"id" : "Organization.nickname"`, 1)
	os.WriteFile(filepath.Join(dir, "sd.json"), []byte(sd), 0o644)
	p, err := LoadPackage(filepath.Join(dir, "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewValidator(p)
	if err == nil || !strings.Contains(err.Error(), "test-organization: differential element Organization.nickname") {
		t.Fatalf("bad differential: %v", err)
	}
}

// The generated snapshot of a differential-only profile.
func TestSnapshotGenerated(t *testing.T) {
	v := testValidator(t)
	p, err := v.profileByURL(testBase+"test-patient", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cpr *elemDef
	for _, d := range p.root.children {
		if d.name == "identifier" {
			if len(d.slices) != 2 || d.min != 1 {
				t.Fatalf("identifier: %d slices, min %d", len(d.slices), d.min)
			}
			cpr = d.slices[0]
		}
	}
	if cpr == nil || cpr.sliceName != "cpr" || cpr.max != 1 || cpr.min != 1 || len(cpr.children) == 0 {
		t.Fatalf("cpr slice: %+v", cpr)
	}
	for _, ch := range cpr.children {
		if ch.name == "system" && (ch.fixed == nil || ch.fixed.text != "urn:oid:1.2.208.176.1.2" || ch.min != 1) {
			t.Errorf("cpr.system: fixed %+v min %d", ch.fixed, ch.min)
		}
	}
}

func TestCheckBundleType(t *testing.T) {
	if oo := CheckBundleType(readFile(t, seedPath)); oo != nil {
		t.Fatalf("seed refused: %s", dump(oo))
	}
	s := strings.Replace(seedText(t), `"type" : "collection"`, `"type" : "transaction"`, 1)
	oo := CheckBundleType([]byte(s))
	if oo == nil || oo.Issue[0].Diagnostics != "Bundle.type must be one of collection, document, message, but is 'transaction'" || oo.Issue[0].Location[1] != "Line 9, Col 26" {
		t.Fatalf("transaction accepted or misreported: %+v", oo)
	}
	if oo := CheckBundleType([]byte(`{"resourceType":"Patient"}`)); oo == nil || !strings.Contains(oo.Issue[0].Diagnostics, "must be a Bundle") {
		t.Fatalf("Patient: %+v", oo)
	}
	if oo := CheckBundleType([]byte(`not json`)); oo != nil {
		t.Fatal("non-JSON is for Validate to report")
	}
}

func untar(t *testing.T, tgz, dir string) {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := filepath.Join(dir, filepath.Clean(h.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
