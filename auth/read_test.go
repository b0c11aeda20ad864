package auth

import (
	"net/http"
	"testing"
)

// SMART scopes grant reads of their type (or all types) at system or user level only, and
// a v2 permission string grants a read when it holds r and no query narrows it.
func TestReadScopesGrantWhatSMARTSaysAndNoMore(t *testing.T) {
	cases := []struct {
		scope, typ string
		want       bool
	}{
		{"system/Patient.read", "Patient", true},
		{"system/*.read", "Observation", true},
		{"user/Patient.read", "Patient", true},
		{"system/Patient.rs", "Patient", true},
		{"system/*.cruds", "Bundle", true},
		{"system/Patient.*", "Patient", true},
		{"system/Patient.read", "Observation", false},
		{"patient/Patient.read", "Patient", false},
		{"system/Patient.write", "Patient", false},
		{"system/Patient.cu", "Patient", false},
		{"system/Patient.rs?category=x", "Patient", false},
		{"openid", "Patient", false},
		{"system/Patient", "Patient", false},
	}
	for _, c := range cases {
		if got := readScope(c.scope, c.typ); got != c.want {
			t.Errorf("readScope(%q, %q) = %v, want %v", c.scope, c.typ, got, c.want)
		}
	}
}

// A roles or scope claim of an unexpected shape refuses reads (403 naming the claim) but
// not the sending that tokens did before reads were checked.
func TestAnOddRolesClaimRefusesReadsButNotSending(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t, dir, "ec", "idp")
	v := newVerifier(t, BearerConfig{PEM: []string{k.pub}})
	claims := goodClaims()
	claims["roles"] = map[string]any{"realm": []string{"fhir-reader"}}
	claims["scope"] = 42
	g, err := v.Verify(sign(t, k, "", claims, nil))
	if err != nil {
		t.Fatalf("Verify: %v (a sender's token must still be taken)", err)
	}
	if err := g.Allows("r0d", "emergency-care"); err != nil {
		t.Errorf("Allows: %v", err)
	}
	if err := g.AllowsRead("Patient"); StatusOf(err) != http.StatusForbidden {
		t.Errorf("AllowsRead: %v, want a 403", err)
	}
	claims["roles"] = []string{"fhir-reader"}
	delete(claims, "scope")
	if g, err = v.Verify(sign(t, k, "", claims, nil)); err != nil || g.AllowsRead("Patient") != nil {
		t.Errorf("the read role: %v / %v", err, g.AllowsRead("Patient"))
	}
}
