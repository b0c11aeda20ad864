package fhir

import (
	"fmt"
	"strings"
)

// GatewayBundleTypes are the Bundle.type values the Care Gateway takes.
var GatewayBundleTypes = []string{"collection", "document", "message"}

// CheckBundleType is the quick check the gateway runs before validating: the body must be a
// Bundle whose type is one of allowed (GatewayBundleTypes when none are given). It returns
// nil when fine, else an outcome with one error issue (the caller answers 422 with it).
// Bodies that are not JSON pass here: Validate reports those with line and column.
func CheckBundleType(data []byte, allowed ...string) *OperationOutcome {
	if len(allowed) == 0 {
		allowed = GatewayBundleTypes
	}
	j, err := parseJSON(data)
	if err != nil || j.kind != jsonObject {
		return nil
	}
	if rt := j.str("resourceType"); rt != "Bundle" {
		return NewOutcome(Issue{Severity: SeverityError, Code: CodeInvalid,
			Diagnostics: fmt.Sprintf("The resource must be a Bundle, but is %s", orQuoted(rt, "missing")),
			Location:    []string{rootLocation(j), fmt.Sprintf("Line %d, Col %d", j.line, j.col)}})
	}
	t := j.get("type")
	if t != nil && t.kind == jsonString {
		for _, a := range allowed {
			if t.text == a {
				return nil
			}
		}
	}
	line, col := j.line, j.col
	got := "missing"
	if t != nil {
		line, col = t.line, t.col
		got = "'" + t.text + "'"
	}
	return NewOutcome(Issue{Severity: SeverityError, Code: CodeInvalid,
		Diagnostics: fmt.Sprintf("Bundle.type must be one of %s, but is %s", strings.Join(allowed, ", "), got),
		Location:    []string{"Bundle.type", fmt.Sprintf("Line %d, Col %d", line, col)},
		Expression:  []string{"Bundle.type"}})
}

func rootLocation(j *jsonNode) string {
	if rt := j.str("resourceType"); rt != "" {
		return rt
	}
	return "(root)"
}

func orQuoted(s, missing string) string {
	if s == "" {
		return missing
	}
	return "'" + s + "'"
}

// bundleEntries checks what the HL7 validator checks on each entry of a Bundle: the
// resource id must agree with the id at the end of the entry's fullUrl.
func (c *vctx) bundleEntries(root *node) {
	for _, e := range root.childrenNamed("entry") {
		r, fu := e.child("resource"), e.childValue("fullUrl")
		if r == nil || fu == "" || strings.HasPrefix(fu, "urn:") {
			continue
		}
		id := r.childValue("id")
		if strings.Contains(fu, "/"+r.typ+"/") || strings.HasPrefix(fu, r.typ+"/") {
			urlID := fu[strings.LastIndexByte(fu, '/')+1:]
			if id != urlID {
				c.is.add(e, SeverityError, CodeInvalid, fmt.Sprintf("Resource ID does not match the ID in the entry full URL ('%s' vs '%s')", id, fu))
			}
		}
	}
}
