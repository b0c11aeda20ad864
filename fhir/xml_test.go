package fhir

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const xmlPatient = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<Patient xmlns="http://hl7.org/fhir">
  <id value="p1"/>
  <meta><profile value="http://example.org/p"/></meta>
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p class="x">Karen &amp; <b>Berg</b><br/></p></div>
  </text>
  <contained>
    <Organization>
      <id value="org"/>
      <name value="Kommune"/>
    </Organization>
  </contained>
  <extension url="http://example.org/ext">
    <valueCodeableConcept><text value="c"/></valueCodeableConcept>
  </extension>
  <active value="true"/>
  <name id="n1">
    <use value="official"/>
    <family value="Berg"/>
    <given value="Karen"/>
    <given id="g2">
      <extension url="http://example.org/absent"><valueCode value="masked"/></extension>
    </given>
  </name>
  <name><given value="Kaja"/></name>
  <birthDate value="1957-01-15">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1957-01-15T08:30:00+01:00"/>
    </extension>
  </birthDate>
  <multipleBirthInteger value="2"/>
  <managingOrganization><reference value="#org"/></managingOrganization>
</Patient>`

const xmlPatientJSON = `{"resourceType":"Patient","id":"p1","meta":{"profile":["http://example.org/p"]},
 "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">Karen &amp; <b>Berg</b><br/></p></div>"},
 "contained":[{"resourceType":"Organization","id":"org","name":"Kommune"}],
 "extension":[{"url":"http://example.org/ext","valueCodeableConcept":{"text":"c"}}],
 "active":true,
 "name":[{"id":"n1","use":"official","family":"Berg","given":["Karen",null],
   "_given":[null,{"id":"g2","extension":[{"url":"http://example.org/absent","valueCode":"masked"}]}]},
  {"given":["Kaja"]}],
 "birthDate":"1957-01-15",
 "_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1957-01-15T08:30:00+01:00"}]},
 "multipleBirthInteger":2,
 "managingOrganization":{"reference":"#org"}}`

// FHIR XML reads as its JSON form: primitives from value attributes (booleans and numbers
// typed), id attributes and extensions under _name, repeating elements as arrays, choices by
// their typed name, contained resources unwrapped, the narrative as text.
func TestFHIRXMLConvertsToTheJSONForm(t *testing.T) {
	v := testValidator(t)
	got, err := v.XMLToJSON([]byte(xmlPatient))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(xmlPatientJSON), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got\n%s\nwant\n%s", got, xmlPatientJSON)
	}
}

// A resource in XML validates as the same resource in JSON does.
func TestAResourceInXMLValidatesLikeItsJSON(t *testing.T) {
	v := testValidator(t)
	j, err := v.XMLToJSON([]byte(xmlPatient))
	if err != nil {
		t.Fatal(err)
	}
	a, b := errorsOf(validate(t, v, j)), errorsOf(validate(t, v, []byte(xmlPatientJSON)))
	if len(a) != len(b) {
		t.Errorf("XML: %v\nJSON: %v", a, b)
	}
}

// FHIRPath evaluates on XML input as on JSON.
func TestFHIRPathEvaluatesOnAnXMLResource(t *testing.T) {
	cases := map[string]string{
		"name.given":                                `"Karen",null,"Kaja"`, // the second has extensions only
		"name.given.extension.value":                `"masked"`,
		"birthDate.extension.value":                 `"1957-01-15T08:30:00+01:00"`,
		"active":                                    `true`,
		"multipleBirth":                             `2`,
		"managingOrganization.resolve().name":       `"Kommune"`,
		"text.div.contains('Berg')":                 `true`,
		"name.where(id = 'n1').family":              `"Berg"`,
		"extension.valueCodeableConcept.text":       `"c"`,
		"Patient.contained.ofType(Organization).id": `"org"`,
	}
	for expr, want := range cases {
		res, err := EvaluateFHIRPath([]byte(xmlPatient), expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		var parts []string
		for _, r := range res {
			parts = append(parts, string(r.Value))
		}
		if s := strings.Join(parts, ","); s != want {
			t.Errorf("%s = %s, want %s", expr, s, want)
		}
	}
}

// What is not FHIR XML is refused with the line and column of the fault.
func TestMalformedFHIRXMLIsRefusedWithItsPlace(t *testing.T) {
	cases := []struct{ src, msg, at string }{
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n  <gender value=\"male\">\n</Patient>", "", "line 3"},
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n  <colour value=\"red\"/>\n</Patient>", "unknown element <colour>", "line 2, column 3"},
		{"<Patient>\n</Patient>", "not in the FHIR namespace", "line 1, column 1"},
		{"<Pasient xmlns=\"http://hl7.org/fhir\"/>", "not a FHIR resource", "line 1"},
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n <gender value=\"male\"/>\n <gender value=\"female\"/>\n</Patient>", "<gender> repeats", "line 3, column 2"},
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n <active value=\"true\" colour=\"red\"/>\n</Patient>", "unexpected attribute colour", "line 2, column 2"},
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n <name>Karen</name>\n</Patient>", "text is not allowed in <name>", "line 2"},
		{"<!DOCTYPE x><Patient xmlns=\"http://hl7.org/fhir\"/>", "directives are not allowed", "line 1"},
		{"<Patient xmlns=\"http://hl7.org/fhir\">\n <contained/>\n</Patient>", "<contained> holds no resource", "line 2"},
	}
	v := testValidator(t)
	for _, c := range cases {
		_, err := v.XMLToJSON([]byte(c.src))
		var xe *XMLError
		if !errors.As(err, &xe) {
			t.Errorf("%q: %v is not an XMLError", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.at) {
			t.Errorf("%q: %v, want %q at %s", c.src, err, c.msg, c.at)
		}
	}
}

// A primitive written in XML that is not a number where a number is due stays a string,
// and validation says so, as it does for the same in JSON.
func TestAnXMLNumberThatIsNoNumberIsReported(t *testing.T) {
	v := testValidator(t)
	j, err := v.XMLToJSON([]byte(`<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="two"/></Patient>`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"multipleBirthInteger":"two"`) {
		t.Errorf("got %s", j)
	}
}

// Reading is linear in the size of the input: a long document reads at once.
func TestALargeXMLDocumentReadsQuickly(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<Patient xmlns="http://hl7.org/fhir"><name>`)
	for range 200000 {
		b.WriteString(`<given value="x"/>`)
	}
	b.WriteString(`</name></Patient>`)
	j, err := testValidator(t).XMLToJSON([]byte(b.String()))
	if err != nil || strings.Count(string(j), `"x"`) != 200000 {
		t.Fatalf("%v (%d bytes)", err, len(j))
	}
}

// The suite's patient, written in XML, reads as its JSON.
func TestTheSuitePatientInXMLEqualsItsJSON(t *testing.T) {
	v := testValidator(t)
	got, err := v.XMLToJSON(readFile(t, "testdata/fhirpath/patient.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(readFile(t, "testdata/fhirpath/patient.json"), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got\n%s", got)
	}
}

// Reading arbitrary bytes as FHIR XML never panics.
func FuzzFHIRXML(f *testing.F) {
	f.Add([]byte(xmlPatient))
	f.Add([]byte(`<Bundle xmlns="http://hl7.org/fhir"><entry><resource><Patient><id value="x"/></Patient></resource></entry></Bundle>`))
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if j, err := v.XMLToJSON(data); err == nil {
			if _, err := parseJSON(j); err != nil {
				t.Fatalf("the JSON written does not parse: %v\n%s", err, j)
			}
		}
	})
}
