package fhir

import (
	"sync"
	"testing"
)

// Terminology on small hand-written CodeSystems and ValueSets (testdata/terminology, loaded
// as loose files): one table per compose feature, asked code by code as bindings and
// memberOf() ask.

const (
	animals = "http://junction.example/fhir/CodeSystem/animals"
	tools   = "http://junction.example/fhir/CodeSystem/tools"
	tvs     = "http://junction.example/fhir/ValueSet/"
	snomed  = "http://snomed.info/sct"
)

var (
	termOnce sync.Once
	termV    *Validator
	termErr  error
)

func termValidator(t *testing.T) *Validator {
	t.Helper()
	termOnce.Do(func() {
		var p *Package
		if p, termErr = LoadPackage("testdata/terminology"); termErr == nil {
			termV, termErr = NewValidator(p)
		}
	})
	if termErr != nil {
		t.Fatal(termErr)
	}
	return termV
}

// member is one question: is system#code in value set vs (a name under tvs)?
type member struct {
	vs, system, code string
	want             tri
}

func (s tri) String() string {
	return [...]string{"no", "yes", "unknown"}[s]
}

func checkMembers(t *testing.T, cases []member) {
	t.Helper()
	v := termValidator(t)
	for _, c := range cases {
		got := v.term.expand(tvs+c.vs, nil).check(c.system, c.code)
		if got.state != c.want {
			t.Errorf("%s ∋ %s#%s: %s (%s %s), want %s", c.vs, c.system, c.code, got.state, got.why, got.detail, c.want)
		}
	}
}

func TestAConceptListHoldsExactlyTheListedCodes(t *testing.T) {
	checkMembers(t, []member{
		{"animal-list", animals, "dog", triYes},
		{"animal-list", animals, "cat", triYes},
		{"animal-list", animals, "mammal", triNo},
		{"animal-list", animals, "Dog", triNo},
		{"animal-list", tools, "dog", triNo},
	})
}

func TestAWholeCodeSystemHoldsEveryConceptAtAnyDepth(t *testing.T) {
	checkMembers(t, []member{
		{"all-animals", animals, "animal", triYes},
		{"all-animals", animals, "penguin", triYes},
		{"all-animals", animals, "stone", triYes},
		{"all-animals", animals, "unicorn", triNo},
	})
}

func TestAnIsAFilterTakesTheCodeAndItsDescendants(t *testing.T) {
	checkMembers(t, []member{
		{"mammals", animals, "mammal", triYes},
		{"mammals", animals, "dog", triYes},
		{"mammals", animals, "sabretooth", triYes},
		{"mammals", animals, "animal", triNo},
		{"mammals", animals, "sparrow", triNo},
	})
}

func TestADescendentOfFilterTakesOnlyTheDescendants(t *testing.T) {
	checkMembers(t, []member{
		{"below-mammal", animals, "mammal", triNo},
		{"below-mammal", animals, "cat", triYes},
		{"below-mammal", animals, "bird", triNo},
	})
}

func TestAnIsNotAFilterTakesEverythingOutsideTheSubtree(t *testing.T) {
	checkMembers(t, []member{
		{"not-mammals", animals, "mammal", triNo},
		{"not-mammals", animals, "dog", triNo},
		{"not-mammals", animals, "animal", triYes},
		{"not-mammals", animals, "stone", triYes},
		{"not-mammals", animals, "unicorn", triNo},
	})
}

func TestAGeneralizesFilterTakesTheCodeAndItsAncestors(t *testing.T) {
	checkMembers(t, []member{
		{"above-dog", animals, "dog", triYes},
		{"above-dog", animals, "mammal", triYes},
		{"above-dog", animals, "animal", triYes},
		{"above-dog", animals, "cat", triNo},
		{"above-dog", animals, "stone", triNo},
	})
}

func TestADescendentLeafFilterTakesOnlyTheLeavesBelowTheCode(t *testing.T) {
	checkMembers(t, []member{
		{"leaves", animals, "dog", triYes},
		{"leaves", animals, "penguin", triYes},
		{"leaves", animals, "mammal", triNo},
		{"leaves", animals, "animal", triNo},
		{"leaves", animals, "stone", triNo}, // a leaf, but not below animal
	})
}

func TestPropertyFiltersCompareTheConceptsPropertyValues(t *testing.T) {
	checkMembers(t, []member{
		{"retired", animals, "sabretooth", triYes},
		{"retired", animals, "dog", triNo},
		{"retired", animals, "penguin", triNo},
		{"dog-or-sparrow", animals, "dog", triYes},
		{"dog-or-sparrow", animals, "sparrow", triYes},
		{"dog-or-sparrow", animals, "cat", triNo},
		{"not-retired", animals, "dog", triYes},
		{"not-retired", animals, "penguin", triYes}, // no status at all is not retired
		{"not-retired", animals, "sabretooth", triNo},
		{"s-codes", animals, "sparrow", triYes},
		{"s-codes", animals, "stone", triYes},
		{"s-codes", animals, "cats", triNo},
		{"s-codes", animals, "dogs", triNo},
		{"s-codes", animals, "penguin", triNo}, // the regex must match the whole code
		{"with-status", animals, "cat", triYes},
		{"with-status", animals, "bird", triNo},
		{"with-legs", animals, "sparrow", triYes}, // exists needs no value, whatever its type
		{"with-legs", animals, "penguin", triNo},
		{"named-dog", animals, "dog", triYes},
		{"named-dog", animals, "cat", triNo},
	})
}

func TestTheFiltersOfOneIncludeMustAllHold(t *testing.T) {
	checkMembers(t, []member{
		{"two-filters", animals, "cat", triYes},
		{"two-filters", animals, "bird", triYes},
		{"two-filters", animals, "sparrow", triNo},
		{"two-filters", animals, "stone", triNo}, // matches the regex but is no animal
	})
}

func TestAFilterThatCannotBeEvaluatedLeavesTheCodeUnknown(t *testing.T) {
	checkMembers(t, []member{
		{"odd-filter", animals, "dog", triUnknown},
		{"legs", animals, "sparrow", triUnknown}, // a string property: its values are not decoded
	})
	got := termValidator(t).term.expand(tvs+"odd-filter", nil).check(animals, "dog")
	if got.why != whyFilter || got.detail == "" {
		t.Errorf("odd-filter: why %q detail %q, want a filter reason", got.why, got.detail)
	}
}

func TestAnExcludeRemovesCodesFromTheIncludes(t *testing.T) {
	checkMembers(t, []member{
		{"no-birds", animals, "dog", triYes},
		{"no-birds", animals, "bird", triNo},
		{"no-birds", animals, "penguin", triNo},
		{"no-dog", animals, "cat", triYes},
		{"no-dog", animals, "dog", triNo},
		// An exclude from a system that is not held cannot take a held code out.
		{"snomed-minus", animals, "dog", triYes},
	})
}

func TestIncludedValueSetsUniteAcrossIncludesAndIntersectWithinOne(t *testing.T) {
	checkMembers(t, []member{
		{"mammals-or-list", animals, "cat", triYes},
		{"mammals-or-list", animals, "sparrow", triYes},
		{"mammals-or-list", animals, "penguin", triNo},
		{"mammals-and-list", animals, "dog", triYes},
		{"mammals-and-list", animals, "cat", triNo},
		{"mammals-and-list", animals, "sparrow", triNo},
		// system and valueSet in one include: the codes of the system part that the value
		// set also holds.
		{"mammals-with-c", animals, "cat", triYes},
		{"mammals-with-c", animals, "dog", triNo},
	})
}

func TestValueSetsNestSeveralLevelsDeepWithTheirExcludes(t *testing.T) {
	checkMembers(t, []member{
		{"nested-twice", animals, "sparrow", triYes},
		{"nested-twice", animals, "dog", triYes}, // excluded only from no-dog, which is mammals minus dog
		{"nested-twice", animals, "cat", triNo},
		{"nested-twice", animals, "mammal", triNo},
	})
}

func TestAHierarchyMayBeGivenByParentAndChildProperties(t *testing.T) {
	checkMembers(t, []member{
		{"hammers", tools, "hammer", triYes},
		{"hammers", tools, "sledge", triYes}, // parent property
		{"hammers", tools, "saw", triNo},
		{"tools", tools, "hammer", triYes}, // child property on tool
		{"tools", tools, "sledge", triYes}, // two levels, both ways
		{"tools", tools, "saw", triYes},
		{"tools", tools, "rock", triNo},
		{"tools", tools, "tool", triNo},
		{"child-of-tool", tools, "saw", triYes},
		{"child-of-tool", tools, "sledge", triNo},
		{"parent-hammer", tools, "sledge", triYes},
		{"parent-hammer", tools, "hammer", triNo},
	})
}

func TestAPreExpandedExpansionAnswersWhenTheComposeCannotBeEvaluated(t *testing.T) {
	checkMembers(t, []member{
		{"pre-expanded", "http://loinc.org", "2345-7", triYes},
		{"pre-expanded", "http://loinc.org", "2339-0", triYes}, // nested contains
		{"pre-expanded", "http://loinc.org", "718-7", triYes},  // under an abstract group
		{"pre-expanded", "http://loinc.org", "1234-5", triNo},
		{"pre-expanded", "", "718-7", triYes},
		{"expansion-only", animals, "dog", triYes},
		{"expansion-only", animals, "cat", triNo},
		// The compose can be evaluated here: it answers, not the stored expansion.
		{"stale-expansion", animals, "cat", triYes},
	})
}

func TestACodeSystemNotHeldLeavesTheCodeUnknownUnlessItsCodesAreListed(t *testing.T) {
	checkMembers(t, []member{
		{"snomed", snomed, "22298006", triUnknown},
		{"snomed-list", snomed, "22298006", triYes},
		{"snomed-list", snomed, "12345", triNo}, // a list is definitive, as in HAPI's in-memory expansion
		{"snomed-or-animals", animals, "dog", triYes},
		{"snomed-or-animals", animals, "cat", triNo},
		{"snomed-or-animals", snomed, "1234", triUnknown},
		{"external", "http://junction.example/fhir/CodeSystem/external", "x", triUnknown},
		// A code of another system is simply not in the value set.
		{"snomed", animals, "dog", triNo},
	})
	got := termValidator(t).term.expand(tvs+"snomed", nil).check(snomed, "1")
	if got.why != whySystem || got.system != snomed {
		t.Errorf("snomed: why %q system %q, want %q %q", got.why, got.system, whySystem, snomed)
	}
}

func TestFragmentAndExampleCodeSystemsCannotRuleACodeOut(t *testing.T) {
	checkMembers(t, []member{
		{"colours", "http://junction.example/fhir/CodeSystem/colours", "red", triYes},
		{"colours", "http://junction.example/fhir/CodeSystem/colours", "blue", triUnknown},
		{"shapes", "http://junction.example/fhir/CodeSystem/shapes", "circle", triUnknown},
	})
	v := termValidator(t).term.expand(tvs+"colours", nil).check("http://junction.example/fhir/CodeSystem/colours", "blue")
	if v.why != whyFragm {
		t.Errorf("blue in colours: why %q, want %q", v.why, whyFragm)
	}
}

func TestACaseInsensitiveCodeSystemMatchesAnyCase(t *testing.T) {
	checkMembers(t, []member{
		{"grades", "http://junction.example/fhir/CodeSystem/grades", "A", triYes},
		{"grades", "http://junction.example/fhir/CodeSystem/grades", "a", triYes},
		{"grades", "http://junction.example/fhir/CodeSystem/grades", "c", triNo},
		{"all-animals", animals, "DOG", triNo}, // animals says caseSensitive true
	})
}

func TestACodeWithoutSystemMatchesAnySystemOfTheValueSet(t *testing.T) {
	checkMembers(t, []member{
		{"mammals", "", "cat", triYes},
		{"mammals", "", "sparrow", triNo},
		{"snomed-or-animals", "", "dog", triYes},
		{"snomed-or-animals", "", "cat", triUnknown},
	})
}

func TestAValueSetThatCannotBeFoundOrIncludesItselfIsReported(t *testing.T) {
	term := termValidator(t).term
	for _, name := range []string{"loop", "missing-inside", "not-there"} {
		v := term.expand(tvs+name, nil).check(animals, "dog")
		if v.state != triUnknown || v.why != whyVS || v.detail == "" {
			t.Errorf("%s: %s %q %q, want unknown for a value set reason", name, v.state, v.why, v.detail)
		}
	}
	if e := term.expand(tvs+"not-there", nil); e.err == nil {
		t.Errorf("not-there: no error")
	}
}

func TestExpansionsAreCompiledOnceAndShared(t *testing.T) {
	term := termValidator(t).term
	a := term.expand(tvs+"nested-twice", nil)
	b := term.expand(tvs+"nested-twice|1.0", nil)
	if a != b {
		t.Errorf("the same value set compiled twice")
	}
	if a.inc[0].sets[0] != term.expand(tvs+"mammals-or-list", pkgNamed(t, termValidator(t), "terminology")) {
		t.Errorf("an included value set is not shared with its own cache entry")
	}
}

func TestImplicitValueSetsStandForTheirCodeSystem(t *testing.T) {
	checkMembers(t, []member{
		{"animals-all", animals, "penguin", triYes}, // CodeSystem.valueSet of animals
		{"animals-all", animals, "unicorn", triNo},
	})
	term := termValidator(t).term
	for _, c := range []struct {
		url, system, code string
		want              tri
	}{
		{animals + "?fhir_vs", animals, "stone", triYes},
		{animals + "?fhir_vs=isa/mammal", animals, "cat", triYes},
		{animals + "?fhir_vs=isa/mammal", animals, "sparrow", triNo},
		{snomed + "?fhir_vs=isa/404684003", snomed, "22298006", triUnknown},
		{animals + "?fhir_vs=refset/123", animals, "cat", triUnknown},
	} {
		if got := term.expand(c.url, nil).check(c.system, c.code); got.state != c.want {
			t.Errorf("%s ∋ %s: %s (%s %s), want %s", c.url, c.code, got.state, got.why, got.detail, c.want)
		}
	}
}
