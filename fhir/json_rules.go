package fhir

import "fmt"

// The FHIR JSON rules (http://hl7.org/fhir/R4/json.html) that the HL7 validator's JSON
// parser reports, each at the line and column of what breaks it, with its wording:
// comments, duplicate members, empty arrays, null values and a resourceType that is not a
// string. Empty objects ("Object must have some content") and the JSON kinds of primitives
// are checked where the reader meets them (instance.go).

const (
	msgJSONComment   = "Comments are not allowed in JSON"                                               // JSON_COMMENTS_NOT_ALLOWED
	msgJSONDuplicate = "The JSON property '%s' is a duplicate and will be ignored"                      // DUPLICATE_JSON_PROPERTY
	msgArrayEmpty    = "Array cannot be empty - the property should not be present if it has no values" // ARRAY_CANNOT_BE_EMPTY
	msgJSONNull      = "The element is not allowed to be 'null'"                                        // ELEMENT_CANNOT_BE_NULL
	msgRTWrongType   = "The JSON element 'resourceType' has the wrong JSON type: %s"                    // RESOURCETYPE_PROPERTY_WRONG_TYPE
	msgNoRT          = "Unable to find resourceType property"                                           // Unable_to_find_resourceType_property
	msgEmptyValue    = "@value cannot be empty"                                                         // Type_Specific_Checks_DT_Primitive_NotEmpty
	msgWSValue       = "Primitive types should not only be whitespace"                                  // Type_Specific_Checks_DT_Primitive_WS
)

// standIn is a stand-in node for issues about JSON that did not become a node: located at
// parent's path (plus name, when given) and at line:col.
func standIn(parent *node, name string, line, col int) *node {
	if name == "" {
		return &node{path: parent.location(), line: line, col: col}
	}
	return &node{parent: parent, name: name, line: line, col: col}
}

// objectRules reports the comments and duplicate members of object j, read as node n, and
// returns its members by name (the first of duplicates: the others are ignored, as the HL7
// parser does).
func (rd *reader) objectRules(n *node, j *jsonNode) map[string]*jsonNode {
	for _, c := range j.comments {
		rd.issues.add(standIn(n, "", c.line, c.col), SeverityError, CodeInvalid, msgJSONComment)
	}
	byName := make(map[string]*jsonNode, len(j.props))
	for _, p := range j.props {
		if p.dup {
			rd.issues.add(standIn(n, "", p.value.line, p.value.col), SeverityError, CodeInvalid, fmt.Sprintf(msgJSONDuplicate, p.name))
			continue
		}
		byName[p.name] = p.value
	}
	return byName
}

// valueRules reports an empty array or a null standing for a whole property; false means
// the property carries nothing more to read.
func (rd *reader) valueRules(n *node, name string, v *jsonNode) bool {
	switch {
	case v.kind == jsonArray && len(v.items) == 0:
		rd.issues.add(standIn(n, name, v.line, v.col), SeverityError, CodeInvalid, msgArrayEmpty)
		return false
	case v.kind == jsonNull:
		rd.issues.add(standIn(n, name, v.line, v.col), SeverityError, CodeInvalid, msgJSONNull)
		return false
	}
	return true
}

// resourceTypeRules reports a missing or non-string resourceType (fatal, as the HL7 parser
// gives up on such a resource); true when j names its type.
func (rd *reader) resourceTypeRules(n *node, j *jsonNode) bool {
	rt := j.get("resourceType")
	switch {
	case rt == nil:
		rd.issues.add(n, SeverityFatal, CodeInvalid, msgNoRT)
		return false
	case rt.kind != jsonString:
		rd.issues.add(n, SeverityFatal, CodeInvalid, fmt.Sprintf(msgRTWrongType, jsonTypeName(rt.kind)))
		return false
	case rt.text == "":
		rd.issues.add(n, SeverityFatal, CodeInvalid, msgNoRT)
		return false
	}
	return true
}

// jsonTypeName names a JSON kind as the HL7 JSON model does (JsonElementType.toName).
func jsonTypeName(k jsonKind) string {
	return [...]string{"Null", "Boolean", "Number", "String", "Array", "Object"}[k]
}

// blankValue reports an empty or whitespace-only primitive value, which the HL7 validator
// checks before (and instead of) the type's format; true when v was blank. A value with
// extensions may be empty.
func (rd *reader) blankValue(c *node, v string, hasExt bool) bool {
	if v == "" {
		if !hasExt {
			rd.issues.add(c, SeverityError, CodeInvalid, msgEmptyValue)
		}
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n' {
			return false
		}
	}
	if !hasExt {
		rd.issues.add(c, SeverityWarning, CodeInvalid, msgWSValue)
	}
	return true
}
