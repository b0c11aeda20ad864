package fhir

import (
	"strings"
	"testing"
)

const fpObservation = `{
  "resourceType" : "Observation",
  "status" : "final",
  "code" : { "text" : "weight" },
  "effectiveDateTime" : "2024-05-01",
  "valueQuantity" : { "value" : 185, "unit" : "lbs" },
  "component" : [ { "code" : { "text" : "a" }, "valueString" : "x" },
    { "code" : { "text" : "b" }, "valueCodeableConcept" : { "text" : "y" } } ]
}`

// A choice element is reached by its typed JSON name when its type matches, and that name
// gives nothing for a value of another type, in invariants and in strict evaluation alike.
func TestAChoiceElementIsReachedByItsTypedName(t *testing.T) {
	cases := map[string]string{
		"valueQuantity.value":                             "185",
		"Observation.valueQuantity.unit":                  "lbs",
		"value.unit":                                      "lbs",
		"valueCodeableConcept.exists()":                   "false",
		"valueString":                                     "",
		"effectiveDateTime":                               "2024-05-01",
		"effectivePeriod.exists()":                        "false",
		"component.valueString":                           "x",
		"component.valueCodeableConcept.text":             "y",
		"component.value.count()":                         "2",
		"component.where(valueString.exists()).code.text": "a",
	}
	v := testValidator(t)
	for expr, want := range cases {
		got, err := evalFHIRPath(t, fpObservation, expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if s := fpItemsText(got); s != want {
			t.Errorf("%s = %q, want %q", expr, s, want)
		}
		res, err := v.EvaluateFHIRPath([]byte(fpObservation), expr)
		if err != nil {
			t.Errorf("strict %s: %v", expr, err)
			continue
		}
		var parts []string
		for _, r := range res {
			parts = append(parts, strings.Trim(string(r.Value), `"`))
		}
		if s := strings.Join(parts, ","); s != want {
			t.Errorf("strict %s = %q, want %q", expr, s, want)
		}
	}
}

// A typed name the choice does not allow, or a name that is no choice, is still refused by
// strict evaluation.
func TestStrictEvaluationRefusesTypedNamesTheChoiceDoesNotAllow(t *testing.T) {
	v := testValidator(t)
	for _, expr := range []string{"valueHumanName", "valueQuantity1", "codeCodeableConcept", "effectiveQuantity"} {
		if res, err := v.EvaluateFHIRPath([]byte(fpObservation), expr); err == nil {
			t.Errorf("%s: evaluated to %v", expr, res)
		}
	}
}

func fpItemsText(items []item) string {
	var parts []string
	for _, it := range items {
		p, _ := prim(it)
		parts = append(parts, itemString(p))
	}
	return strings.Join(parts, ",")
}
