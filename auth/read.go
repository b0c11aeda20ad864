package auth

import (
	"slices"
	"strings"
)

// DefaultReadRoles are the roles that grant reading stored data when a source's auth
// block names none.
var DefaultReadRoles = []string{"fhir-reader"}

// AllowsRead is nil when the token may read resources of resourceType ("" for any type,
// e.g. a whole-system search), else a 403 naming what would grant it. A read is granted by
// one of the verifier's read roles, or by a SMART on FHIR read scope for the type:
// system/T.read or user/T.read (SMART v1), system/T.r… or user/T.r… (v2, e.g. .rs), with
// T the type or *. Patient-level scopes (patient/…) are not enough: Junction does not
// restrict answers to one patient's compartment.
func (g *Grant) AllowsRead(resourceType string) error {
	if slices.ContainsFunc(g.readRoles, func(r string) bool { return slices.Contains(g.Roles, r) }) {
		return nil
	}
	for _, s := range g.Scopes {
		if readScope(s, resourceType) {
			return nil
		}
	}
	if g.readClaimErr != nil {
		return g.readClaimErr
	}
	want := "*"
	if resourceType != "" {
		want = resourceType
	}
	return forbidden("token grants no read of %s: it needs the role %s or the scope system/%s.read (or system/*.read)",
		want, strings.Join(g.readRoles, " or "), want)
}

// readScope reports whether one SMART scope grants reading resourceType.
func readScope(scope, resourceType string) bool {
	ctx, rest, ok := strings.Cut(scope, "/")
	if !ok || (ctx != "system" && ctx != "user") {
		return false
	}
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok || (typ != "*" && typ != resourceType) {
		return false
	}
	if perm == "read" || perm == "*" {
		return true
	}
	// SMART v2: a permission string of c, r, u, d, s in that order, e.g. "rs"; a query
	// (?category=…) narrows it, which Junction cannot honour, so it grants nothing.
	return strings.Contains(perm, "r") && strings.Trim(perm, "cruds") == ""
}
