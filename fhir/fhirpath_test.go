package fhir

import (
	"errors"
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

func TestFHIRPath(t *testing.T) {
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

func TestFHIRPathUnsupported(t *testing.T) {
	for _, expr := range []string{"name.soundex()", "%unknownVariable", "gender.matches('(?<x')"} {
		_, err := evalFHIRPath(t, fpPatient, expr)
		if err == nil {
			t.Errorf("%s: evaluated", expr)
		} else if !errors.Is(err, errUnsupported) {
			t.Errorf("%s: %v is not marked unsupported", expr, err)
		}
	}
	for _, expr := range []string{"name.", "(a", "'x", "a ! b"} {
		if _, err := parseFHIRPath(expr); err == nil {
			t.Errorf("%q parsed", expr)
		}
	}
}

// Every invariant of the core definitions parses, and uses only functions we implement.
func TestCoreInvariantsParse(t *testing.T) {
	core, err := CorePackage()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *fpNode) string
	walk = func(n *fpNode) string {
		if n == nil {
			return ""
		}
		if n.op == opFunc {
			probe := &fpNode{op: opFunc, name: n.name, args: n.args, typ: n.typ}
			env := &fpEnv{}
			if _, err := env.call(probe, nil, nil); err != nil && errors.Is(err, errUnsupported) {
				return n.name
			}
		}
		if s := walk(n.left); s != "" {
			return s
		}
		for _, a := range n.args {
			if s := walk(a); s != "" {
				return s
			}
		}
		return ""
	}
	for _, sd := range core.structures {
		for _, ed := range sd.Snapshot.Element {
			for _, c := range ed.Constraint {
				x, err := parseFHIRPath(c.Expression)
				if err != nil {
					t.Errorf("%s %s: %v", sd.Name, c.Key, err)
					continue
				}
				if fn := walk(x); fn != "" {
					t.Errorf("%s %s uses unsupported %s()", sd.Name, c.Key, fn)
				}
			}
		}
	}
}
