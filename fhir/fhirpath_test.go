package fhir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fpPatient = `{
  "resourceType" : "Patient",
  "id" : "p1",
  "contained" : [ { "resourceType" : "Organization", "id" : "org", "name" : "Kommune" } ],
  "active" : true,
  "name" : [
    { "use" : "official", "family" : "Berg", "given" : [ "Karen", "Marie" ] },
    { "use" : "nickname", "given" : [ "Kaja" ] }
  ],
  "gender" : "female",
  "birthDate" : "1957-01-01",
  "multipleBirthInteger" : 2,
  "managingOrganization" : { "reference" : "#org" },
  "identifier" : [ { "system" : "urn:oid:1.2.208.176.1.2", "value" : "0101570001" } ]
}`

// evalFHIRPath evaluates expr on a resource read with the base definitions.
func evalFHIRPath(t *testing.T, src, expr string) ([]item, error) {
	t.Helper()
	v := testValidator(t)
	j, err := parseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := &vctx{v: v, is: &issues{}, conform: map[confKey]int8{}, invDone: map[invKey]bool{}, typeInvDone: map[*node]bool{}}
	root := (&reader{types: v.types, issues: c.is}).readResource(j, nil, "")
	x, err := parseFHIRPath(expr)
	if err != nil {
		return nil, err
	}
	env := &fpEnv{c: c, resource: root, root: root, context: root, this: []item{{n: root}}}
	return env.eval(x, env.this)
}

func TestFHIRPathEvaluatesInvariantStyleExpressions(t *testing.T) {
	cases := map[string]string{ // expression → expected result, items joined by ","
		"name.given": "Karen,Marie,Kaja",
		"Patient.name.where(use = 'official').family":         "Berg",
		"name.exists() and gender = 'female'":                 "true",
		"name.count()":                                        "2",
		"name.first().given.last()":                           "Marie",
		"name.given.count() > 2 implies active":               "true",
		"name.all(given.exists())":                            "true",
		"name.all(family.exists())":                           "false",
		"name.family.empty()":                                 "false",
		"telecom.empty()":                                     "true",
		"gender in ('male' | 'female')":                       "true",
		"('a' | 'b' | 'a').count()":                           "2",
		"name.given contains 'Kaja'":                          "true",
		"gender != 'male'":                                    "true",
		"active.not()":                                        "false",
		"birthDate.hasValue()":                                "true",
		"birthDate < @2000-01-01":                             "true",
		"birthDate > @1957":                                   "",
		"identifier.value.matches('^[0-9]{10}$')":             "true",
		"identifier.value.startsWith('0101')":                 "true",
		"identifier.value.matches('^(?!99)[0-9]+$')":          "true", // look-ahead: regexp2 fallback
		"identifier.value.substring(2, 2)":                    "01",
		"identifier.value.length()":                           "10",
		"identifier.value.substring(0,1).toInteger() * 3 + 1": "1",
		"10 div 3 = 3 and 10 mod 3 = 1":                       "true",
		"multipleBirth.ofType(integer)":                       "2",
		"multipleBirth is integer":                            "true",
		"(multipleBirth as integer) = 2":                      "true",
		"managingOrganization.resolve().name":                 "Kommune",
		"iif(active, 'yes', 'no')":                            "yes",
		"name.select(given.first())":                          "Karen,Kaja",
		"descendants().where($this is HumanName).count()":     "2",
		"children().where($this is Identifier).system":        "urn:oid:1.2.208.176.1.2",
		"name.given.union(name.family).count()":               "4",
		"%resource.id = id":                                   "true",
		"{}.empty()":                                          "true",
		"contained.id.trace('x') = 'org'":                     "true",
		"name[1].given":                                       "Kaja",
		"name.use.distinct().count() = 2 xor false":           "true",
		"'a' & 'b'":                           "ab",
		"telecom.value.startsWith('x').not()": "true", // empty input: false, as in the HL7 engine
	}
	for expr, want := range cases {
		got, err := evalFHIRPath(t, fpPatient, expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		var parts []string
		for _, it := range got {
			p, _ := prim(it)
			parts = append(parts, itemString(p))
		}
		if s := strings.Join(parts, ","); s != want {
			t.Errorf("%s = %q, want %q", expr, s, want)
		}
	}
}

func TestUnsupportedExpressionsAreRefused(t *testing.T) {
	for _, expr := range []string{"%unknownVariable", "gender.matches('(?<x')"} {
		_, err := evalFHIRPath(t, fpPatient, expr)
		if err == nil {
			t.Errorf("%s: evaluated", expr)
		} else if !errors.Is(err, errUnsupported) {
			t.Errorf("%s: %v is not marked unsupported", expr, err)
		}
	}
	for _, expr := range []string{"name.", "(a", "'x", "a ! b", "name.soundex()", "name.where()", "iif(true)", "substring(1, 2, 3)"} {
		if _, err := parseFHIRPath(expr); err == nil {
			t.Errorf("%q parsed", expr)
		}
	}
	if _, err := parseFHIRPath("name.soundex()"); !errors.Is(err, errUnknownFunction) || !strings.Contains(err.Error(), "soundex") {
		t.Errorf("unknown function: %v", err)
	}
}

// Every invariant of the core definitions parses, so uses only functions we implement.
func TestCoreInvariantsParse(t *testing.T) {
	core, err := CorePackage()
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range core.structures {
		for _, ed := range sd.Snapshot.Element {
			for _, c := range ed.Constraint {
				if _, err := parseFHIRPath(c.Expression); err != nil {
					t.Errorf("%s %s: %v", sd.Name, c.Key, err)
				}
			}
		}
	}
}

// Every invariant of the packages Junction ships parses, so loading them never fails on a
// function the evaluator does not know.
func TestShippedPackageInvariantsParse(t *testing.T) {
	files, _ := filepath.Glob("packages/*.tgz")
	for _, f := range files {
		p, err := LoadPackage(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sd := range p.structures {
			for _, list := range []*elementList{sd.Snapshot, sd.Differential} {
				if list == nil {
					continue
				}
				for _, ed := range list.Element {
					for _, c := range ed.Constraint {
						if _, err := parseFHIRPath(c.Expression); err != nil && c.Expression != "" {
							t.Errorf("%s %s %s: %v", filepath.Base(f), sd.URL, c.Key, err)
						}
					}
				}
			}
		}
	}
}

// A profile whose invariant names a function FHIRPath does not have cannot be loaded: the
// error names the profile, the constraint and the function.
func TestProfileWithUnknownFunctionFailsToLoad(t *testing.T) {
	dir := t.TempDir()
	sd := `{ "resourceType": "StructureDefinition", "id": "bad-org", "url": "http://junction.example/fhir/StructureDefinition/bad-org",
  "name": "BadOrg", "status": "draft", "fhirVersion": "4.0.1", "kind": "resource", "abstract": false, "type": "Organization",
  "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Organization", "derivation": "constraint",
  "differential": { "element": [ { "id": "Organization", "path": "Organization",
    "constraint": [ { "key": "bad-1", "severity": "error", "human": "sounds right", "expression": "name.soundex() = 'K520'" } ] } ] } }`
	if err := os.WriteFile(filepath.Join(dir, "StructureDefinition-bad-org.json"), []byte(sd), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewValidator(p)
	if err == nil {
		t.Fatal("NewValidator accepted a profile using soundex()")
	}
	for _, want := range []string{"http://junction.example/fhir/StructureDefinition/bad-org", "bad-1", "soundex()"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// Parsing and evaluating arbitrary text never panics.
func FuzzFHIRPath(f *testing.F) {
	for _, s := range []string{"name.given", "@2019-01-31 + 1 month", "(1 | 2).aggregate($this + $total, 0)",
		"iif(a, b, c)", "'x'.matches('[')", "1 'mg' * 2 'g'", "%`vs-x`", "@T10:00.lowBoundary()", "Patient.is(FHIR.`Patient`)"} {
		f.Add(s)
	}
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if _, err := v.EvaluateFHIRPath([]byte(fpPatient), expr); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%q: %v", expr, err)
		}
	})
}

// Every function the parser accepts has an implementation, and the other way round.
func TestEveryKnownFunctionIsImplemented(t *testing.T) {
	for name := range fpFunctions {
		if fpImpl[name] == nil && name != "memberOf" {
			t.Errorf("%s() parses but has no implementation", name)
		}
	}
	for name := range fpImpl {
		if _, ok := fpFunctions[name]; !ok {
			t.Errorf("%s() is implemented but the parser refuses it", name)
		}
	}
}
