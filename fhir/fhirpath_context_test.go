package fhir

import "testing"

// resolve() reaches the resources given as context by Type/id (also XML ones), and only
// those: without context, or for an unknown id or an absolute URL, it finds nothing.
func TestResolveReachesTheResourcesGivenAsContext(t *testing.T) {
	v := testValidator(t)
	rs, err := v.NewResources([]byte(fpPatient), []byte(`<Organization xmlns="http://hl7.org/fhir"><id value="o1"/><name value="Kommune"/></Organization>`))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 2 {
		t.Fatalf("%d resources", rs.Len())
	}
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},
	  "performer":[{"reference":"Organization/o1/_history/2"},{"reference":"Organization/o2"},{"reference":"http://elsewhere.org/Organization/o1"}]}`
	cases := map[string][2]string{ // expression → without context, with
		"subject.resolve().name.first().family": {"", "Berg"},
		"performer.resolve().name":              {"", "Kommune"},
		"subject.resolve().contained.id":        {"", "org"},
	}
	for expr, want := range cases {
		for i, ctx := range []*Resources{nil, rs} {
			got, err := evalFHIRPathWith(t, obs, expr, ctx)
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			if s := fpItemsText(got); s != want[i] {
				t.Errorf("%s (context %v) = %q, want %q", expr, ctx != nil, s, want[i])
			}
		}
	}
	if _, err := v.NewResources([]byte(`{"resourceType":"Nonsense"}`)); err == nil {
		t.Error("a document that is no resource was taken")
	}
}

func evalFHIRPathWith(t *testing.T, src, expr string, ctx *Resources) ([]item, error) {
	t.Helper()
	v := testValidator(t)
	j, err := parseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := &vctx{v: v, is: &issues{}, context: ctx, conform: map[confKey]int8{}, invDone: map[invKey]bool{}, typeInvDone: map[*node]bool{}}
	root := (&reader{types: v.types, issues: c.is}).readResource(j, nil, "")
	x, err := parseFHIRPath(expr)
	if err != nil {
		return nil, err
	}
	env := &fpEnv{c: c, resource: root, root: root, context: root, this: []item{{n: root}}}
	return env.eval(x, env.this)
}
