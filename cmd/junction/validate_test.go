package main

import (
	"os"
	"path/filepath"
	"testing"

	"junction/fhir"
)

// The files given to junction validate are each other's context: every resource among
// them (JSON or XML) can be resolved, and a file that is no resource is left out.
func TestTheFilesValidatedTogetherAreEachOthersContext(t *testing.T) {
	v, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	files := [][]byte{
		[]byte(`{"resourceType":"Patient","id":"p1"}`),
		[]byte(`<Organization xmlns="http://hl7.org/fhir"><id value="o1"/></Organization>`),
		[]byte(`not a resource`),
	}
	if rs := contextOf(v, files); rs.Len() != 2 {
		t.Errorf("context has %d resources, want 2", rs.Len())
	}
	if rs := contextOf(v, files[:1]); rs != nil {
		t.Errorf("a single file has a context of %d", rs.Len())
	}
	dir := t.TempDir()
	var args []string
	for i, f := range files[:2] {
		name := filepath.Join(dir, []string{"p.json", "o.json"}[i])
		if i == 1 {
			f = []byte(`{"resourceType":"Organization","id":"o1","name":"x"}`)
		}
		if err := os.WriteFile(name, f, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	if code, out, errOut := capture(t, func() int { return validate(args) }); code != 0 {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}
