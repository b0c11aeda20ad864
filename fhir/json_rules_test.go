package fhir

import (
	"fmt"
	"testing"
)

// ruleCase is one row of the rule tables: the resource, and the issue the HL7 validator
// gives for it (severity, a part of its text, FHIRPath location, "Line N, Col M"), or, with
// absent, a text that must not be reported at all.
type ruleCase struct {
	name   string
	src    string
	sev    string
	msg    string
	loc    string
	pos    string
	absent bool
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	v := testValidator(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oo := validate(t, v, []byte(c.src))
			is := findIssue(oo, "", c.msg)
			if c.absent {
				if is != nil {
					t.Fatalf("%q reported:\n%s", c.msg, dump(oo))
				}
				return
			}
			if is == nil {
				t.Fatalf("no %q in:\n%s", c.msg, dump(oo))
			}
			if is.Severity != c.sev {
				t.Errorf("severity %s, want %s", is.Severity, c.sev)
			}
			if c.loc != "" && is.Location[0] != c.loc {
				t.Errorf("at %q, want %q", is.Location[0], c.loc)
			}
			if c.pos != "" && (len(is.Location) < 2 || is.Location[1] != c.pos) {
				t.Errorf("at %q, want %q", is.Location, c.pos)
			}
		})
	}
}

const patientHead = `{"resourceType":"Patient",` // 26 characters: the next property starts at Col 27

func TestJSONRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "a duplicate key is an error at the duplicate's value, and the first value is kept",
			src: patientHead + `"id":"a","id":"b"}`, sev: SeverityError,
			msg: "The JSON property 'id' is a duplicate and will be ignored", loc: "Patient", pos: "Line 1, Col 45"},
		{name: "a duplicate key inside a nested object is located at that object",
			src: patientHead + "\n" + `"name":[{"family":"A",` + "\n" + `"family":"B"}]}`, sev: SeverityError,
			msg: "The JSON property 'family' is a duplicate and will be ignored", loc: "Patient.name[0]", pos: "Line 3, Col 14"},
		{name: "null for a single property is an error",
			src: patientHead + `"active":null}`, sev: SeverityError,
			msg: "The element is not allowed to be 'null'", loc: "Patient.active", pos: "Line 1, Col 41"},
		{name: "null for an object in an array is an error",
			src: patientHead + `"name":[null]}`, sev: SeverityError,
			msg: "The element is not allowed to be 'null'", loc: "Patient.name[0]", pos: "Line 1, Col 40"},
		{name: "null in a primitive array is fine when its _ twin carries extensions there",
			src: patientHead + `"name":[{"given":["a",null],"_given":[null,{"extension":[{"url":"http://x.example/e","valueString":"y"}]}]}]}`,
			msg: "null", absent: true},
		{name: "null in a primitive array with no _ twin is a value with neither value nor extensions",
			src: patientHead + `"name":[{"given":["a",null]}]}`, sev: SeverityError,
			msg: "Primitive types must have a value or must have child extensions", loc: "Patient.name[0].given", pos: "Line 1, Col 54"},
		{name: "arrays and their _ twins must have the same length",
			src: patientHead + `"name":[{"given":["a","b"],"_given":[null]}]}`, sev: SeverityError,
			msg: "The arrays given and _given have different lengths (2 and 1)", loc: "Patient.name[0].given", pos: "Line 1, Col 45"},
		{name: "an empty array is an error at the array",
			src: patientHead + `"identifier":[]}`, sev: SeverityError,
			msg: "Array cannot be empty - the property should not be present if it has no values", loc: "Patient.identifier", pos: "Line 1, Col 41"},
		{name: "an empty object is an error",
			src: patientHead + `"maritalStatus":{}}`, sev: SeverityError,
			msg: "Object must have some content", loc: "Patient.maritalStatus", pos: "Line 1, Col 46"},
		{name: "an empty object is not also an ele-1 failure",
			src: patientHead + `"maritalStatus":{}}`, msg: "ele-1", absent: true},
		{name: "fhir_comments is not a property in R4",
			src: patientHead + `"fhir_comments":["x"],"active":true}`, sev: SeverityError,
			msg: "Unrecognised property '@fhir_comments'", loc: "Patient.fhir_comments"},
		{name: "a line comment is an error where it starts",
			src: patientHead + "\n  // who\n" + `"active":true}`, sev: SeverityError,
			msg: "Comments are not allowed in JSON", loc: "Patient", pos: "Line 2, Col 3"},
		{name: "a block comment inside an object is an error located at that object",
			src: patientHead + `"name":[{/* x */"family":"A"}]}`, sev: SeverityError,
			msg: "Comments are not allowed in JSON", loc: "Patient.name[0]", pos: "Line 1, Col 36"},
		{name: "a comment before the resource is reported too",
			src: "/* head */\n" + patientHead + `"active":true}`, sev: SeverityError,
			msg: "Comments are not allowed in JSON", loc: "Patient", pos: "Line 1, Col 1"},
		{name: "an integer beyond 32 bits is not a valid integer",
			src: patientHead + `"multipleBirthInteger":2147483648}`, sev: SeverityError,
			msg: "The value '2147483648' is not a valid integer", loc: "Patient.multipleBirth.ofType(integer)", pos: "Line 1, Col 61"},
		{name: "a decimal written for an integer is not a valid integer",
			src: patientHead + `"multipleBirthInteger":1.0}`, sev: SeverityError,
			msg: "The value '1.0' is not a valid integer", loc: "Patient.multipleBirth.ofType(integer)", pos: "Line 1, Col 54"},
		{name: "a negative unsignedInt is below its minimum",
			src: patientHead + `"photo":[{"size":-1}]}`, sev: SeverityError,
			msg: "value is less than permitted minimum value of 0", loc: "Patient.photo[0].size", pos: "Line 1, Col 47"},
		{name: "a huge exponent is still a number, kept as written",
			src: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e400}}`,
			msg: "Error parsing JSON", absent: true},
		{name: "a decimal written as a string is the wrong JSON kind",
			src: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}`, sev: SeverityError,
			msg: "Error parsing JSON: the primitive value must be a number", loc: "Observation.value.ofType(Quantity).value", pos: "Line 1, Col 99"},
		{name: "a boolean written as a string is the wrong JSON kind",
			src: patientHead + `"active":"true"}`, sev: SeverityError,
			msg: "Error parsing JSON: the primitive value must be a boolean", loc: "Patient.active", pos: "Line 1, Col 43"},
		{name: "a code written as a number is the wrong JSON kind",
			src: patientHead + `"gender":1}`, sev: SeverityError,
			msg: "Error parsing JSON: the primitive value must be a string", loc: "Patient.gender", pos: "Line 1, Col 38"},
		{name: "an object where a primitive belongs is not a simple value",
			src: patientHead + `"gender":{"a":1}}`, sev: SeverityError,
			msg: "This property must be an simple value, not an object", loc: "Patient.gender", pos: "Line 1, Col 43"},
		{name: "an empty string is an error whatever the primitive type",
			src: patientHead + `"name":[{"family":""}]}`, sev: SeverityError,
			msg: "@value cannot be empty", loc: "Patient.name[0].family", pos: "Line 1, Col 48"},
		{name: "an empty string with extensions is allowed",
			src: patientHead + `"birthDate":"","_birthDate":{"extension":[{"url":"http://x.example/e","valueString":"y"}]}}`,
			msg: "@value cannot be empty", absent: true},
		{name: "a whitespace-only string is a warning, not a format error",
			src: patientHead + `"name":[{"family":"   "}]}`, sev: SeverityWarning,
			msg: "Primitive types should not only be whitespace", loc: "Patient.name[0].family", pos: "Line 1, Col 51"},
		{name: "a string padded with whitespace is a warning",
			src: patientHead + `"name":[{"family":" Berg"}]}`, sev: SeverityWarning,
			msg: "value should not start or finish with whitespace ' Berg'", loc: "Patient.name[0].family", pos: "Line 1, Col 53"},
		{name: "a code padded with whitespace breaks the code rules",
			src: patientHead + `"gender":"female "}`, sev: SeverityError,
			msg: "The code 'female ' is not valid (whitespace rules)", loc: "Patient.gender", pos: "Line 1, Col 46"},
		{name: "an id padded with whitespace is not a valid id",
			src: patientHead + `"id":" p1"}`, sev: SeverityError,
			msg: "id value ' p1' is not valid", loc: "Patient.id", pos: "Line 1, Col 38"},
		{name: "a missing resourceType is fatal",
			src: `{"id":"x"}`, sev: SeverityFatal,
			msg: "Unable to find resourceType property", loc: "Resource", pos: "Line 1, Col 2"},
		{name: "a resourceType that is not a string is fatal",
			src: `{"resourceType":7,"id":"x"}`, sev: SeverityFatal,
			msg: "The JSON element 'resourceType' has the wrong JSON type: Number", loc: "Resource", pos: "Line 1, Col 2"},
		{name: "an unknown resourceType is not a FHIR resource",
			src: `{"resourceType":"Spaceship","id":"x"}`, sev: SeverityError,
			msg: "This does not appear to be a FHIR resource (unknown name 'Spaceship')", loc: "Spaceship", pos: "Line 1, Col 2"},
		{name: "a contained resource without resourceType is fatal at the contained resource",
			src: patientHead + `"contained":[{"id":"c"}]}`, sev: SeverityFatal,
			msg: "Unable to find resourceType property", loc: "Patient.contained[0].ofType(Resource)", pos: "Line 1, Col 41"},
		{name: "an unknown contained resource type is located at its place in the list",
			src: patientHead + `"contained":[{"resourceType":"Organization","id":"o","name":"x"},{"resourceType":"Spaceship","id":"s"}]}`, sev: SeverityError,
			msg: "unknown name 'Spaceship'", loc: "Patient.contained[1].ofType(Spaceship)", pos: "Line 1, Col 93"},
	})
}

// Numbers stay as written: FHIR decimals are exact, so 1.10 keeps its precision.
func TestJSONNumbersAreKeptAsWritten(t *testing.T) {
	v := testValidator(t)
	for _, lit := range []string{"1.10", "1e400", "-0.000000000000000000001", "12345678901234567890.5"} {
		j, err := parseJSON([]byte(`{"resourceType":"Observation","valueQuantity":{"value":` + lit + `}}`))
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		rd := &reader{types: v.types, issues: &issues{}}
		root := rd.readResource(j, nil, "")
		if got := root.child("value").childValue("value"); got != lit {
			t.Errorf("value %q, want %q as written", got, lit)
		}
	}
	for _, bad := range []string{"01", "1.", ".5", "+1", "1e", "1.2.3", "--1", "1e+"} {
		if _, err := parseJSON([]byte(`{"n":` + bad + `}`)); err == nil {
			t.Errorf("%s parsed as a number", bad)
		}
	}
}

// Unterminated comments and a lone slash are syntax errors, with their place.
func TestJSONCommentSyntax(t *testing.T) {
	for _, c := range []struct{ src, pos string }{
		{"{\"a\":1 /* never closed", "1:8"},
		{"{\"a\":1 / }", "1:8"},
	} {
		_, err := parseJSON([]byte(c.src))
		je, ok := err.(*JSONError)
		if !ok {
			t.Errorf("%q: %v, want a JSONError", c.src, err)
			continue
		}
		if got := fmt.Sprintf("%d:%d", je.Line, je.Col); got != c.pos {
			t.Errorf("%q: error at %s (%s), want %s", c.src, got, je.Msg, c.pos)
		}
	}
}
