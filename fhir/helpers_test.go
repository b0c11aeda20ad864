package fhir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Shared validators over the real packages in fhir/packages (built once per test binary).

var (
	v104Once, v120Once sync.Once
	v104, v120         *Validator
	v104Err, v120Err   error
)

const (
	gw10      = "http://gateway.kl.dk/1.0/StructureDefinition/"
	gw12      = "http://fhir.kl.dk/gateway/StructureDefinition/"
	seedPath  = "testdata/seed-care-delivery-report.json"
	reportURL = gw10 + "klgateway-care-delivery-report"
)

func loadPackages(t testing.TB, names ...string) []*Package {
	t.Helper()
	var out []*Package
	for _, n := range names {
		p, err := LoadPackage(filepath.Join("packages", n+".tgz"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func validator104(t testing.TB) *Validator {
	t.Helper()
	v104Once.Do(func() {
		v104, v104Err = NewValidator(loadPackages(t, "hl7.fhir.dk.kl.gateway.care#1.0.4", "dk.fhir.ig.kl.common.caresocial#0.7.0", "hl7.fhir.dk.core#1.1.0")...)
	})
	if v104Err != nil {
		t.Fatal(v104Err)
	}
	return v104
}

func validator120(t testing.TB) *Validator {
	t.Helper()
	v120Once.Do(func() {
		v120, v120Err = NewValidator(loadPackages(t, "kl.dk.fhir.gateway#1.2.0", "kl.dk.fhir.term#2.2.0", "hl7.fhir.dk.core#3.2.0")...)
	})
	if v120Err != nil {
		t.Fatal(v120Err)
	}
	return v120
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func validate(t testing.TB, v *Validator, data []byte, profiles ...string) *OperationOutcome {
	t.Helper()
	oo, err := v.Validate(data, Options{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	return oo
}

// errorsOf lists the error and fatal issues.
func errorsOf(oo *OperationOutcome) []Issue {
	var out []Issue
	for _, i := range oo.Issue {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			out = append(out, i)
		}
	}
	return out
}

// findIssue returns the first issue whose diagnostics contain all parts.
func findIssue(oo *OperationOutcome, severity string, parts ...string) *Issue {
	for i := range oo.Issue {
		is := &oo.Issue[i]
		if severity != "" && is.Severity != severity {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(is.Diagnostics, p)
		}
		if ok {
			return is
		}
	}
	return nil
}

func dump(oo *OperationOutcome) string {
	var b strings.Builder
	for _, i := range oo.Issue {
		b.WriteString(i.Severity + " [" + i.Code + "] " + i.Diagnostics + " @ " + strings.Join(i.Location, " | ") + "\n")
	}
	return b.String()
}
