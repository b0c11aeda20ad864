package fhir

import (
	"strings"
)

// typeInfo is what the JSON reader needs to know about one complex type, resource or
// backbone element of the base specification: which properties it has and their types.
type typeInfo struct {
	elems map[string]*baseElem // by element name (choices without [x])
}

// baseElem is one element of the base specification.
type baseElem struct {
	name    string // without [x]
	choice  bool
	types   []string // type codes
	list    bool     // max is not "1" (or "0")
	content string   // key of the typeInfo describing its children (for complex types)
}

// primitiveTypes are the FHIR R4 primitive types, with the JSON kind each is written as.
var primitiveTypes = map[string]jsonKind{
	"base64Binary": jsonString, "boolean": jsonBool, "canonical": jsonString, "code": jsonString,
	"date": jsonString, "dateTime": jsonString, "decimal": jsonNumber, "id": jsonString,
	"instant": jsonString, "integer": jsonNumber, "markdown": jsonString, "oid": jsonString,
	"positiveInt": jsonNumber, "string": jsonString, "time": jsonString, "unsignedInt": jsonNumber,
	"uri": jsonString, "url": jsonString, "uuid": jsonString, "xhtml": jsonString,
}

func isPrimitive(t string) bool {
	_, ok := primitiveTypes[t]
	return ok
}

// buildTypeInfos indexes every base (specialization) definition of the core package.
func buildTypeInfos(r *registry) map[string]*typeInfo {
	infos := map[string]*typeInfo{}
	for _, sd := range r.core.structures {
		if sd.Derivation == "constraint" || sd.Snapshot == nil || sd.Kind == "logical" {
			continue
		}
		for _, ed := range sd.Snapshot.Element {
			i := strings.LastIndexByte(ed.Path, '.')
			if i < 0 {
				continue
			}
			parent := ed.Path[:i]
			ti := infos[parent]
			if ti == nil {
				ti = &typeInfo{elems: map[string]*baseElem{}}
				infos[parent] = ti
			}
			name := ed.Path[i+1:]
			be := &baseElem{name: strings.TrimSuffix(name, "[x]"), choice: strings.HasSuffix(name, "[x]")}
			be.list = ed.Max != "1" && ed.Max != "0"
			if ed.Base != nil && ed.Base.Max != "" {
				be.list = ed.Base.Max != "1" && ed.Base.Max != "0"
			}
			for i := range ed.Type {
				be.types = append(be.types, ed.Type[i].typeCode())
			}
			if sd.Kind == "resource" && ed.Path == sd.Type+".id" {
				be.types = []string{"id"} // R4 snapshots say System.String; the id rules apply
			}
			switch {
			case ed.ContentReference != "":
				be.content = strings.TrimPrefix(ed.ContentReference, "#")
				be.types = []string{"BackboneElement"}
			case len(be.types) == 1 && (be.types[0] == "BackboneElement" || be.types[0] == "Element"):
				be.content = ed.Path
			}
			ti.elems[be.name] = be
		}
	}
	return infos
}

// lookup finds the element a JSON property name stands for; for a choice element it also
// returns the type the name's suffix selects (valueQuantity → Quantity).
func (ti *typeInfo) lookup(jsonName string) (*baseElem, string) {
	if be := ti.elems[jsonName]; be != nil && !be.choice {
		return be, be.types[0]
	}
	for _, be := range ti.elems {
		if !be.choice || !strings.HasPrefix(jsonName, be.name) || len(jsonName) == len(be.name) {
			continue
		}
		suffix := jsonName[len(be.name):]
		t := typeFromSuffix(suffix)
		for _, bt := range be.types {
			if bt == t {
				return be, t
			}
		}
	}
	return nil, ""
}

// childKey names the typeInfo that describes the children of a value of type t here.
func (be *baseElem) childKey(t string) string {
	if be.content != "" {
		return be.content
	}
	return t
}
