package auth

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant is what a verified token allows.
type Grant struct {
	Subject       string   // "sub"; "azp" or "client_id" when the token has no sub
	Organisations []string // organisations the client may connect and send as
	Categories    []string // source-domains it may send
	Roles         []string
	Scopes        []string // OAuth2 scopes (the "scope" claim, space-separated)
	KeyID         string
	Expires       time.Time
	Claims        map[string]any // every claim of the token

	readRoles    []string // the verifier's ReadRoles
	readClaimErr error    // a roles or scope claim that is not a string or a list of them
}

// AllowsOrganisation is nil when the token grants org, else a 403 naming it.
func (g *Grant) AllowsOrganisation(org string) error {
	if org == "" {
		return forbidden("the request names no organisation to check against the token's grants")
	}
	if !slices.Contains(g.Organisations, org) {
		return forbidden("token does not grant organisation %s", quote(org))
	}
	return nil
}

// AllowsCategory is nil when the token grants the category (source-domain), else a 403 naming it.
func (g *Grant) AllowsCategory(category string) error {
	if category == "" {
		return forbidden("the request names no category (source-domain) to check against the token's grants")
	}
	if !slices.Contains(g.Categories, category) {
		return forbidden("token does not grant category (source-domain) %s", quote(category))
	}
	return nil
}

// Allows is nil when the token grants both org and category, else a 403 naming the first
// missing grant.
func (g *Grant) Allows(org, category string) error {
	if err := g.AllowsOrganisation(org); err != nil {
		return err
	}
	return g.AllowsCategory(category)
}

// grant reads the grants of verified claims.
func (v *Verifier) grant(claims jwt.MapClaims, kid string) (*Grant, error) {
	g := &Grant{KeyID: kid, Claims: claims}
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		g.Expires = exp.Time
	}
	for _, name := range []string{"sub", "azp", "client_id"} {
		if s, ok := claims[name].(string); ok && s != "" {
			g.Subject = s
			break
		}
	}
	var err error
	if g.Organisations, err = claimValues(claims, v.cfg.OrgClaim); err != nil {
		return nil, err
	}
	if g.Categories, err = claimValues(claims, v.cfg.CategoryClaim); err != nil {
		return nil, err
	}
	// Roles and scopes matter for reads (and auth.roles) only: a claim of another shape
	// refuses nothing else, as before reads were checked.
	var rolesErr, scopesErr error
	g.Roles, rolesErr = claimValues(claims, v.cfg.RoleClaim)
	if rolesErr != nil && len(v.cfg.Roles) > 0 {
		return nil, rolesErr
	}
	g.Scopes, scopesErr = claimValues(claims, v.cfg.ScopeClaim)
	g.readClaimErr = cmp.Or(rolesErr, scopesErr)
	g.readRoles = v.cfg.ReadRoles
	if len(v.cfg.Roles) > 0 && !slices.ContainsFunc(v.cfg.Roles, func(r string) bool { return slices.Contains(g.Roles, r) }) {
		return nil, forbidden("token grants none of the roles %q (claim %q)", v.cfg.Roles, v.cfg.RoleClaim)
	}
	return g, nil
}

// claimValues reads a grant claim: absent is no grant; a string is split at spaces and
// commas; a list holds strings. Anything else is a 403 naming the claim.
func claimValues(claims map[string]any, name string) ([]string, error) {
	val, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		val, ok = nested(claims, strings.Split(name, "."))
	}
	if !ok || val == nil {
		return nil, nil
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	}
	switch x := val.(type) {
	case string:
		return split(x), nil
	case []any:
		var out []string
		for i, item := range x {
			s, ok := item.(string)
			if !ok {
				return nil, forbidden("claim %q item %d is %s, expected a string", name, i+1, jsonKind(item))
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, forbidden("claim %q is %s, expected a string or a list of strings", name, jsonKind(val))
}

// nested walks a dotted claim name through JSON objects.
func nested(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
