package fhirstore

import (
	"slices"
	"sort"
)

// kind is a FHIR search parameter type; each has its own index table (schema.go).
type kind int

const (
	kindString    kind = iota // idx_string: case- and accent-insensitive starts-with
	kindToken                 // idx_token: system|code
	kindDate                  // idx_date: a range of instants
	kindReference             // idx_reference: Type/id
)

func (k kind) String() string {
	return [...]string{"string", "token", "date", "reference"}[k]
}

// searchParam is one search parameter of a resource type: its values are read from the
// resource at paths (dotted element names, arrays walked through), as the FHIR
// SearchParameter's expression would.
type searchParam struct {
	name  string
	kind  kind
	paths []string
	// target keeps a reference parameter to references of this type (patient= is subject=
	// restricted to Patient).
	target string
}

func str(name string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindString, paths: paths}
}
func token(name string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindToken, paths: paths}
}
func date(name string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindDate, paths: paths}
}
func ref(name string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindReference, paths: paths}
}
func refTo(target, name string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindReference, paths: paths, target: target}
}

var (
	humanName       = []string{"name.family", "name.given", "name.prefix", "name.suffix", "name.text"}
	address         = []string{"address.line", "address.city", "address.district", "address.state", "address.postalCode", "address.country", "address.text"}
	identifierParam = token("identifier", "identifier")
)

// searchParams are the indexed parameters by resource type: those of the FHIR R4
// specification that the HL7v2 conversion fills, under their R4 names. Every type also has
// _id and _lastUpdated (columns of the resource table), and types not listed here have
// identifier.
var searchParams = map[string][]searchParam{
	"Patient": {
		identifierParam,
		str("name", humanName...),
		str("family", "name.family"),
		str("given", "name.given"),
		date("birthdate", "birthDate"),
		token("gender", "gender"),
		token("active", "active"),
		str("address", address...),
		str("address-city", "address.city"),
		str("address-postalcode", "address.postalCode"),
		token("telecom", "telecom"),
		ref("general-practitioner", "generalPractitioner"),
		ref("link", "link.other"),
	},
	"Encounter": {
		identifierParam,
		token("status", "status"),
		token("class", "class"),
		token("type", "type"),
		ref("subject", "subject"),
		refTo("Patient", "patient", "subject"),
		date("date", "period"),
		ref("participant", "participant.individual"),
		ref("location", "location.location"),
	},
	"Observation": {
		identifierParam,
		token("status", "status"),
		token("code", "code"),
		token("category", "category"),
		ref("subject", "subject"),
		refTo("Patient", "patient", "subject"),
		ref("encounter", "encounter"),
		date("date", "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
	},
	"Condition": {
		identifierParam,
		token("code", "code"),
		token("clinical-status", "clinicalStatus"),
		token("verification-status", "verificationStatus"),
		token("category", "category"),
		ref("subject", "subject"),
		refTo("Patient", "patient", "subject"),
		ref("encounter", "encounter"),
		date("onset-date", "onsetDateTime", "onsetPeriod"),
		date("recorded-date", "recordedDate"),
	},
	"DiagnosticReport": {
		identifierParam,
		token("status", "status"),
		token("code", "code"),
		token("category", "category"),
		ref("subject", "subject"),
		refTo("Patient", "patient", "subject"),
		ref("encounter", "encounter"),
		ref("result", "result"),
		date("date", "effectiveDateTime", "effectivePeriod"),
	},
	"AllergyIntolerance": {
		identifierParam,
		token("code", "code"),
		token("clinical-status", "clinicalStatus"),
		ref("patient", "patient"),
		date("date", "recordedDate"),
	},
	"Immunization": {
		identifierParam,
		token("status", "status"),
		token("vaccine-code", "vaccineCode"),
		ref("patient", "patient"),
		date("date", "occurrenceDateTime"),
	},
	"Practitioner": {
		identifierParam,
		str("name", humanName...),
		str("family", "name.family"),
		str("given", "name.given"),
	},
	"RelatedPerson": {
		identifierParam,
		str("name", humanName...),
		ref("patient", "patient"),
	},
	"Organization": {
		identifierParam,
		str("name", "name", "alias"),
	},
	"Location": {
		identifierParam,
		str("name", "name", "alias"),
		token("status", "status"),
	},
	"Provenance": {
		ref("target", "target"),
		refTo("Patient", "patient", "target"),
		date("recorded", "recorded"),
	},
}

// paramsOf lists the indexed parameters of a resource type.
func paramsOf(rtype string) []searchParam {
	if ps, ok := searchParams[rtype]; ok {
		return ps
	}
	return []searchParam{identifierParam}
}

func lookupParam(rtype, name string) (searchParam, bool) {
	for _, p := range paramsOf(rtype) {
		if p.name == name {
			return p, true
		}
	}
	return searchParam{}, false
}

// paramNames lists every parameter a search of rtype takes, sorted, for error messages
// and the CapabilityStatement.
func paramNames(rtype string) []string {
	names := []string{"_id", "_lastUpdated"}
	for _, p := range paramsOf(rtype) {
		names = append(names, p.name)
	}
	sort.Strings(names)
	return slices.Compact(names)
}
