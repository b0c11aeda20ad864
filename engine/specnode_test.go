package engine

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var testFields = []FieldSpec{
	{Name: "url", Type: "url", Required: true, Description: "where"},
	{Name: "method", Type: "text", Default: "POST", Values: []string{"POST", "PUT"}, Description: "how"},
	{Name: "timeout", Type: "duration", Default: "30s", Description: "how long"},
	{Name: "max", Type: "size", Default: "10MB", Description: "how big"},
	{Name: "tries", Type: "number", Default: "3", Description: "how often"},
	{Name: "check", Type: "bool", Default: "true", Description: "whether"},
	{Name: "types", Type: "list", Default: "[Hl7v2]", Description: "which"},
	{Name: "auth.issuer", Type: "text", Required: true, Description: "who"},
	{Name: "auth.leeway", Type: "duration", Default: "5s", Description: "slack"},
}

func specNode(t *testing.T, src string) (*Node, *ConfigErrors) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	errs := &ConfigErrors{}
	return newNode("routes.yaml", "src", doc.Content[0], errs).WithSpec(testFields), errs
}

func TestSpecGettersTakeTheirDefaultsFromTheSpec(t *testing.T) {
	n, errs := specNode(t, "url: http://x\n")
	if n.Choice("method") != "POST" || n.Dur("timeout") != 30*time.Second || n.Bytes("max") != 10<<20 ||
		n.Num("tries", 1) != 3 || !n.Flag("check") || strings.Join(n.Strs("types"), ",") != "Hl7v2" {
		t.Errorf("defaults not taken from the spec")
	}
	if n.Str("url") != "http://x" || len(*errs) != 0 {
		t.Errorf("url %q, errors %v", n.Str("url"), *errs)
	}
}

func TestASpecsRequiredKeyIsRequiredAndItsValuesChecked(t *testing.T) {
	n, errs := specNode(t, "method: GET\n")
	n.Str("url")
	n.Choice("method")
	got := errs.Error()
	for _, want := range []string{`routes.yaml:1: src: missing required key "url"`, "routes.yaml:1: src.method: expected one of POST, PUT"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
}

func TestABlocksKeysAreTheSpecsDottedNames(t *testing.T) {
	n, errs := specNode(t, "url: u\nauth:\n  leeway: 1s\n  isuer: x\n")
	a := n.Block("auth")
	if a.Dur("leeway") != time.Second {
		t.Errorf("leeway %v", a.Dur("leeway"))
	}
	a.Str("issuer")
	a.CheckUnknown()
	got := errs.Error()
	for _, want := range []string{`src.auth: missing required key "issuer"`, `routes.yaml:4: src.auth: unknown key "isuer" (expected one of: issuer, leeway)`} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
	if m, _ := specNode(t, "url: u\n"); m.BlockOrEmpty("auth").Dur("leeway") != 5*time.Second {
		t.Error("an absent block's keys do not read as their defaults")
	}
}

func TestUnknownKeysAreThoseTheSpecDoesNotName(t *testing.T) {
	n, errs := specNode(t, "url: u\ntimout: 5s\ntries: 2\n")
	n.Str("url") // tries is never read, but the spec names it
	n.CheckUnknown()
	want := `routes.yaml:2: src: unknown key "timout" (expected one of: auth, check, max, method, timeout, tries, types, url)`
	if len(*errs) != 1 || errs.Error() != want {
		t.Errorf("got %q, want %q", errs.Error(), want)
	}
}

func TestReadingAKeyTheSpecDoesNotNameIsAProgrammingError(t *testing.T) {
	n, _ := specNode(t, "url: u\n")
	defer func() {
		if recover() == nil {
			t.Error("reading a key outside the spec did not panic")
		}
	}()
	n.String("colour", false, "")
}

func TestCheckFieldsFindsDefaultsTheirTypeCannotRead(t *testing.T) {
	err := CheckFields([]FieldSpec{
		{Name: "a", Type: "duration", Default: "5 minutes", Description: "d"},
		{Name: "b", Type: "text", Default: "x", Values: []string{"y"}, Description: "d"},
		{Name: "a", Type: "size", Description: "d"},
	})
	if err == nil || !strings.Contains(err.Error(), `a: default "5 minutes" is not a duration`) ||
		!strings.Contains(err.Error(), `b: default "x" is not one of y`) || !strings.Contains(err.Error(), "a: named twice") {
		t.Errorf("got %v", err)
	}
	if err := CheckFields(testFields); err != nil {
		t.Error(err)
	}
}
