package fhirstore

import (
	"slices"
	"time"
)

// capabilityStatement describes what the API serves: every R4 type can be read, and
// searched by the parameters of params.go.
func capabilityStatement() []byte {
	types := make([]string, 0, len(resourceTypes))
	for t := range resourceTypes {
		types = append(types, t)
	}
	slices.Sort(types)
	resources := make([]any, 0, len(types))
	for _, t := range types {
		var sps []any
		for _, name := range paramNames(t) {
			typ := "token"
			switch name {
			case "_lastUpdated":
				typ = "date"
			case "_id":
			default:
				p, _ := lookupParam(t, name)
				typ = p.kind.String()
			}
			sps = append(sps, obj("name", name, "type", typ))
		}
		var interactions []any
		for _, code := range []string{"read", "vread", "history-instance", "search-type"} {
			interactions = append(interactions, obj("code", code))
		}
		resources = append(resources, obj("type", t, "versioning", "versioned", "readHistory", true,
			"interaction", interactions, "searchParam", sps))
	}
	cs := obj(
		"resourceType", "CapabilityStatement",
		"status", "active",
		"date", time.Now().UTC().Format(instantLayout),
		"kind", "instance",
		"software", obj("name", "Junction FHIR store"),
		"implementation", obj("description", "Resources stored by Junction's fhir-store destination: read, vread, history and search"),
		"fhirVersion", "4.0.1",
		"format", []any{"application/fhir+json", "json"},
		"rest", []any{obj("mode", "server", "resource", resources)},
	)
	return appendJSON(nil, cs)
}

// obj builds an object from key, value pairs.
func obj(kv ...any) *object {
	o := &object{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}
