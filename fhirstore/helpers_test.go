package fhirstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/hl7tofhir"
)

// openStore opens a store in a fresh folder, closed when the test ends.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", "fhir.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// convert turns an HL7v2 message into the transaction Bundle hl7tofhir makes of it.
func convert(t testing.TB, raw string) []byte {
	t.Helper()
	res, err := hl7tofhir.Convert([]byte(raw), hl7tofhir.DefaultOptions())
	if err != nil {
		t.Fatalf("converting: %v", err)
	}
	return res.JSON()
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The test messages: the repository's ADT^A01 for Patient/0000000000, an A08 updating
// that patient's address, and hl7tofhir's test messages.
var (
	a01Path = filepath.Join("..", "hl7", "testdata", "adt_a01.hl7")
	testdir = filepath.Join("..", "hl7tofhir", "testdata")
)

func a01(t testing.TB) []byte { return convert(t, readFile(t, a01Path)) }

// a08 is the A01 sent again as an A08 with a new home address.
func a08(t testing.TB) []byte {
	m := readFile(t, a01Path)
	for old, repl := range map[string]string{
		"ADT^A01^ADT_A01":      "ADT^A08^ADT_A01",
		"MSG-20240213-000123":  "MSG-20240214-000456",
		"EVN|A01|":             "EVN|A08|",
		"12 Station Road^Flat": "14 Mill Lane^Flat",
	} {
		if !strings.Contains(m, old) {
			t.Fatalf("%s does not contain %q", a01Path, old)
		}
		m = strings.ReplaceAll(m, old, repl)
	}
	return convert(t, m)
}

func testMessage(t testing.TB, name string) []byte {
	return convert(t, readFile(t, filepath.Join(testdir, name)))
}

func apply(t testing.TB, s *Store, bundle []byte) txResponse {
	t.Helper()
	out, err := s.Apply(context.Background(), bundle)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	var r txResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, out)
	}
	return r
}

type txResponse struct {
	ResourceType, Type string
	Entry              []struct {
		Response struct {
			Status, Location, Etag, LastModified string
			Outcome                              *outcome
		}
	}
}

type outcome struct {
	ResourceType string
	Issue        []struct{ Severity, Code, Diagnostics string }
}

// resource is the part of a stored resource the tests look at.
type resource struct {
	ResourceType, ID string
	Meta             struct{ VersionID, LastUpdated string }
	Address          []struct{ Line []string }
	Subject          struct{ Reference string }
	Link             []struct {
		Other struct{ Reference string }
		Type  string
	}
}

func decode(t testing.TB, data []byte) resource {
	t.Helper()
	var r resource
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("stored JSON: %v\n%s", err, data)
	}
	return r
}

func read(t testing.TB, s *Store, rtype, id string) (*Resource, resource) {
	t.Helper()
	r, err := s.Read(context.Background(), rtype, id)
	if err != nil {
		t.Fatalf("read %s/%s: %v", rtype, id, err)
	}
	return r, decode(t, r.JSON)
}

// storeError is err as an *Error with the given status, failing the test otherwise.
func storeError(t testing.TB, err error, status int) *Error {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) || fe.Status != status {
		t.Fatalf("got error %v, want an *Error with status %d", err, status)
	}
	return fe
}
