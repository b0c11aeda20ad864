package fhir

import (
	"encoding/json"
	"strings"
)

// The conformance resources the validator reads, decoded with encoding/json. Only the fields
// validation needs are kept.

// StructureDefinition is a FHIR StructureDefinition (profile, resource, type or extension).
type StructureDefinition struct {
	ResourceType   string `json:"resourceType"`
	ID             string `json:"id"`
	URL            string `json:"url"`
	Version        string `json:"version"`
	Name           string `json:"name"`
	Kind           string `json:"kind"` // primitive-type | complex-type | resource | logical
	Abstract       bool   `json:"abstract"`
	Type           string `json:"type"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"` // specialization | constraint
	Context        []struct {
		Type       string `json:"type"`
		Expression string `json:"expression"`
	} `json:"context"`
	Snapshot     *elementList `json:"snapshot"`
	Differential *elementList `json:"differential"`
}

type elementList struct {
	Element []*ElementDefinition `json:"element"`
}

// ElementDefinition is one element of a StructureDefinition.
type ElementDefinition struct {
	ID               string        `json:"id"`
	Path             string        `json:"path"`
	SliceName        string        `json:"sliceName"`
	Min              *int          `json:"min"`
	Max              string        `json:"max"`
	Base             *elementBase  `json:"base"`
	ContentReference string        `json:"contentReference"`
	Type             []elementType `json:"type"`
	Constraint       []Constraint  `json:"constraint"`
	Slicing          *Slicing      `json:"slicing"`
	Binding          *Binding      `json:"binding"`
	MaxLength        int           `json:"maxLength"`
	MustSupport      bool          `json:"mustSupport"`
	// Fixed and Pattern hold fixed[x] / pattern[x]: the JSON name's suffix gives the type.
	Fixed, Pattern         json.RawMessage
	FixedType, PatternType string
	// MinValue and MaxValue hold minValue[x] / maxValue[x] (their types in the same way).
	MinValue, MaxValue         json.RawMessage
	MinValueType, MaxValueType string
}

type elementBase struct {
	Path string `json:"path"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
}

type elementType struct {
	Code          string   `json:"code"`
	FhirType      string   `json:"fhirType"` // the generator's short form of the structuredefinition-fhir-type extension
	Profile       []string `json:"profile"`
	TargetProfile []string `json:"targetProfile"`
	Aggregation   []string `json:"aggregation"`
	Extension     []struct {
		URL      string `json:"url"`
		ValueURL string `json:"valueUrl"`
		ValueURI string `json:"valueUri"`
	} `json:"extension"`
}

// Constraint is an invariant of an element.
type Constraint struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
	Source     string `json:"source"`
}

// Slicing says how a repeating element is split into slices.
type Slicing struct {
	Discriminator []Discriminator `json:"discriminator"`
	Ordered       bool            `json:"ordered"`
	Rules         string          `json:"rules"` // closed | open | openAtEnd
}

// Discriminator is one rule by which repetitions are assigned to slices.
type Discriminator struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// Binding ties a coded element to a ValueSet.
type Binding struct {
	Strength string `json:"strength"`
	ValueSet string `json:"valueSet"`
}

// UnmarshalJSON decodes the element and picks out fixed[x] and pattern[x].
func (e *ElementDefinition) UnmarshalJSON(b []byte) error {
	type plain ElementDefinition
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if !strings.Contains(string(b), `"fixed`) && !strings.Contains(string(b), `"pattern`) &&
		!strings.Contains(string(b), `"minValue`) && !strings.Contains(string(b), `"maxValue`) {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		switch {
		case strings.HasPrefix(k, "fixed") && len(k) > 5:
			e.Fixed, e.FixedType = v, typeFromSuffix(k[5:])
		case strings.HasPrefix(k, "pattern") && len(k) > 7:
			e.Pattern, e.PatternType = v, typeFromSuffix(k[7:])
		case strings.HasPrefix(k, "minValue") && len(k) > 8:
			e.MinValue, e.MinValueType = v, typeFromSuffix(k[8:])
		case strings.HasPrefix(k, "maxValue") && len(k) > 8:
			e.MaxValue, e.MaxValueType = v, typeFromSuffix(k[8:])
		}
	}
	return nil
}

// typeFromSuffix turns the suffix of a choice name (valueCodeableConcept → CodeableConcept,
// valueString → string) into the FHIR type code.
func typeFromSuffix(s string) string {
	if t, ok := primitiveBySuffix[s]; ok {
		return t
	}
	return s
}

var primitiveBySuffix = func() map[string]string {
	m := map[string]string{}
	for t := range primitiveTypes {
		m[strings.ToUpper(t[:1])+t[1:]] = t
	}
	return m
}()

// typeCode returns the FHIR type an element type names, resolving the System.String style
// codes used for id/extension.url/primitive values.
func (t *elementType) typeCode() string {
	if strings.HasPrefix(t.Code, "http://hl7.org/fhirpath/System.") {
		if t.FhirType != "" {
			return t.FhirType
		}
		for _, x := range t.Extension {
			if strings.HasSuffix(x.URL, "structuredefinition-fhir-type") {
				return x.ValueURL + x.ValueURI
			}
		}
		return "string"
	}
	return t.Code
}

// ValueSet is a FHIR ValueSet (compose and, when there is no compose, a stored expansion).
type ValueSet struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	URL          string `json:"url"`
	Version      string `json:"version"`
	Name         string `json:"name"`
	Compose      *struct {
		Include []vsInclude `json:"include"`
		Exclude []vsInclude `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Contains []vsContains `json:"contains"`
	} `json:"expansion"`
}

type vsInclude struct {
	System   string   `json:"system"`
	Version  string   `json:"version"`
	ValueSet []string `json:"valueSet"`
	Concept  []struct {
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"concept"`
	Filter []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter"`
}

type vsContains struct {
	System   string       `json:"system"`
	Code     string       `json:"code"`
	Contains []vsContains `json:"contains"`
}

// CodeSystem is a FHIR CodeSystem with its concept hierarchy.
type CodeSystem struct {
	ResourceType  string    `json:"resourceType"`
	ID            string    `json:"id"`
	URL           string    `json:"url"`
	Version       string    `json:"version"`
	Name          string    `json:"name"`
	Content       string    `json:"content"` // complete | fragment | example | not-present | supplement
	CaseSensitive *bool     `json:"caseSensitive"`
	ValueSet      string    `json:"valueSet"`
	Supplements   string    `json:"supplements"`
	Concept       []concept `json:"concept"`
}

type concept struct {
	Code     string    `json:"code"`
	Display  string    `json:"display"`
	Abstract bool      `json:"abstract"`
	Concept  []concept `json:"concept"`
	Property []struct {
		Code      string `json:"code"`
		ValueCode string `json:"valueCode"`
	} `json:"property"`
}

// stripVersion drops a "|version" suffix from a canonical URL.
func stripVersion(u string) string {
	if i := strings.IndexByte(u, '|'); i >= 0 {
		return u[:i]
	}
	return u
}
