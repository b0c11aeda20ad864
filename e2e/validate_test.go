package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `junction validate` checks files offline against R4 plus the given packages: one
// OperationOutcome per file, exit 1 when any has an error.
func TestValidateCommand(t *testing.T) {
	pkgs := filepath.Join(repoRoot, "fhir", "packages")
	seed := filepath.Join(repoRoot, "fhir", "testdata", "seed-care-delivery-report.json")
	b, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	os.WriteFile(broken, []byte(strings.Replace(string(b), `"status" : "final"`, `"status" : "finished"`, 1)), 0o644)
	args := []string{"validate",
		"-package", filepath.Join(pkgs, "hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"),
		"-package", filepath.Join(pkgs, "dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"),
		"-package", filepath.Join(pkgs, "hl7.fhir.dk.core#1.1.0.tgz"),
		"-profile", "http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report"}

	out, err := exec.Command(junctionBin, append(args, seed)...).Output()
	if err != nil {
		t.Fatalf("the seed bundle: %v\n%s", err, out)
	}
	var oo struct {
		ResourceType string
		Issue        []struct{ Severity, Diagnostics string }
	}
	if err := json.Unmarshal(out, &oo); err != nil || oo.ResourceType != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %v\n%s", err, out)
	}
	for _, i := range oo.Issue {
		if i.Severity == "error" || i.Severity == "fatal" {
			t.Errorf("seed bundle: %s", i.Diagnostics)
		}
	}

	cmd := exec.Command(junctionBin, append(args, seed, broken)...)
	out, err = cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("with a broken file: err %v, want exit 1\n%s", err, out)
	}
	if n := strings.Count(string(out), `"resourceType": "OperationOutcome"`); n != 2 {
		t.Fatalf("%d outcomes for 2 files:\n%s", n, out)
	}
	if !strings.Contains(string(out), "finished") {
		t.Errorf("the outcome does not name the bad code:\n%s", out)
	}
}
