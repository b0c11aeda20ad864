package auth

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token from each key type and algorithm family verifies, and its grants come out.
func TestVerifyAccepts(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	ec384 := newKey(t, dir, "ec384", "ec384")
	rsaKey := newKey(t, dir, "rsa", "rsa")
	v := newVerifier(t, BearerConfig{JWKS: writeJWKS(t, dir, ec, ec384, rsaKey)})
	for _, c := range []struct {
		name string
		key  testKey
		alg  string
	}{{"ES256", ec, ""}, {"ES384", ec384, ""}, {"RS256", rsaKey, ""}, {"RS512", rsaKey, "RS512"}, {"PS256", rsaKey, "PS256"}} {
		t.Run(c.name, func(t *testing.T) {
			g, err := v.Verify(sign(t, c.key, c.alg, goodClaims(), nil))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if g.Subject != "lab-gateway" || !slices.Equal(g.Organisations, []string{"r0d", "r1d"}) ||
				!slices.Equal(g.Categories, []string{"emergency-care"}) || g.KeyID != c.key.kid {
				t.Errorf("grant = %+v", g)
			}
			if g.Expires.Before(time.Now()) || g.Claims["iss"] != testIssuer {
				t.Errorf("expires %v, claims %v", g.Expires, g.Claims)
			}
			if err := g.Allows("r1d", "emergency-care"); err != nil {
				t.Errorf("Allows: %v", err)
			}
		})
	}

	// Through a request, with the scheme in any case.
	req, _ := http.NewRequest("POST", "http://junction/$ingest", nil)
	req.Header.Set("Authorization", "bearer "+sign(t, ec, "", goodClaims(), nil))
	if _, err := v.VerifyRequest(req); err != nil {
		t.Errorf("VerifyRequest: %v", err)
	}
}

// Every refusal is a 401 with invalid_token, says why, and never repeats the token.
func TestVerifyRefusals(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	rsaKey := newKey(t, dir, "rsa", "rsa")
	other := newKey(t, dir, "ec", "other") // not configured
	impostor := newKey(t, dir, "ec", "impostor")
	impostor.kid = ec.kid // another key claiming the configured kid
	v := newVerifier(t, BearerConfig{JWKS: writeJWKS(t, dir, ec, rsaKey)})

	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims()
		change(c)
		return c
	}
	now := time.Now()
	good := sign(t, ec, "", goodClaims(), nil)
	parts := strings.Split(good, ".")

	// alg none, crafted by hand: no signature at all.
	none := b64(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
	noneKid := b64(t, map[string]any{"alg": "None", "kid": ec.kid}) + "." + parts[1] + "."
	// HS256 with the RSA public key's PEM bytes as the HMAC secret: the classic key confusion.
	pubPEM, _ := os.ReadFile(rsaKey.pub)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims())
	hs.Header["kid"] = rsaKey.kid
	hsToken, err := hs.SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	// A token whose claims were changed after signing.
	tampered := parts[0] + "." + b64(t, with(func(c jwt.MapClaims) { c["org"] = []string{"r0d", "r1d", "x9z"} })) + "." + parts[2]

	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", "no bearer token"},
		{"not a JWT", "not-a-token", "malformed token: 1 dot-separated parts, expected 3"},
		{"two parts", parts[0] + "." + parts[1], "malformed token: 2 dot-separated parts"},
		{"JWE", "a.b.c.d.e", "encrypted tokens (JWE) are not accepted"},
		{"header not base64 JSON", "!!!." + parts[1] + "." + parts[2], "malformed token: the header is not base64url-encoded JSON"},
		{"claims not JSON", parts[0] + ".bm90IGpzb24." + parts[2], "malformed token: its claims or signature are not base64url-encoded JSON"},
		{"no alg", b64(t, map[string]any{"typ": "JWT"}) + "." + parts[1] + "." + parts[2], "the header names no algorithm"},
		{"alg none", none, `algorithm "none" not allowed: tokens must be signed`},
		{"alg None with a kid", noneKid, `algorithm "None" not allowed`},
		{"HS256 with the public key as secret", hsToken, `algorithm "HS256" not allowed: HMAC-signed tokens are refused`},
		{"unknown algorithm", b64(t, map[string]any{"alg": "EdDSA", "kid": ec.kid}) + "." + parts[1] + "." + parts[2], `algorithm "EdDSA" not allowed, expected one of RS256`},
		{"critical extension", sign(t, ec, "", goodClaims(), map[string]any{"crit": []string{"b64"}, "b64": false}), `extensions ["b64"] critical`},
		{"bad signature: same kid, another key", sign(t, impostor, "", goodClaims(), nil), `token signature does not verify with key "` + ec.kid + `"`},
		{"bad signature: tampered claims", tampered, "token signature does not verify"},
		{"unknown kid", sign(t, other, "", goodClaims(), map[string]any{"kid": "k9"}), `unknown key id "k9"`},
		{"no kid, unknown key", sign(t, other, "", goodClaims(), map[string]any{"kid": nil}), "token signature does not verify with any configured key"},
		{"RS256 against an EC key", sign(t, rsaKey, "RS256", goodClaims(), map[string]any{"kid": ec.kid}), `algorithm RS256 does not fit key "` + ec.kid + `" (EC P-256)`},
		{"ES256 against an RSA key", sign(t, ec, "", goodClaims(), map[string]any{"kid": rsaKey.kid}), `algorithm ES256 does not fit key "` + rsaKey.kid + `" (RSA)`},
		{"ES384 against a P-256 key", b64(t, map[string]any{"alg": "ES384", "kid": ec.kid}) + "." + parts[1] + "." + parts[2], "algorithm ES384 does not fit key"},
		{"expired", sign(t, ec, "", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }), nil), "token expired at " + now.Add(-10*time.Second).UTC().Format(time.RFC3339)},
		{"no exp", sign(t, ec, "", with(func(c jwt.MapClaims) { delete(c, "exp") }), nil), "token has no expiry (exp claim)"},
		{"exp not a number", sign(t, ec, "", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), nil), "token claims of the wrong type"},
		{"nbf in the future", sign(t, ec, "", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), nil), "token not valid before " + now.Add(time.Minute).UTC().Format(time.RFC3339)},
		{"iat in the future", sign(t, ec, "", with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), nil), "token issued in the future"},
		{"wrong issuer", sign(t, ec, "", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), nil), `token issuer "https://evil.example" is not "` + testIssuer + `"`},
		{"no issuer", sign(t, ec, "", with(func(c jwt.MapClaims) { delete(c, "iss") }), nil), "token has no issuer (iss claim)"},
		{"wrong audience", sign(t, ec, "", with(func(c jwt.MapClaims) { c["aud"] = "billing" }), nil), `token audience ["billing"] does not include "junction"`},
		{"audience list without junction", sign(t, ec, "", with(func(c jwt.MapClaims) { c["aud"] = []string{"billing", "account"} }), nil), `token audience ["billing" "account"] does not include "junction"`},
		{"no audience", sign(t, ec, "", with(func(c jwt.MapClaims) { delete(c, "aud") }), nil), "token has no audience (aud claim)"},
		{"expired and wrong issuer", sign(t, ec, "", with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Hour).Unix()
			c["iss"] = "x"
		}), nil), `token expired at`},
		{"too long", strings.Repeat("a", 20000) + ".b.c", "more than the 16384 accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := v.Verify(c.token)
			if err == nil {
				t.Fatalf("accepted: %+v", g)
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Status != 401 {
				t.Fatalf("error %T %v, expected a 401 AuthError", err, err)
			}
			if !strings.Contains(ae.Reason, c.reason) {
				t.Errorf("reason %q, expected it to contain %q", ae.Reason, c.reason)
			}
			if len(c.token) > 10 && strings.Contains(ae.Reason, c.token) || strings.Contains(ae.Reason, parts[2]) {
				t.Errorf("the reason repeats the token: %q", ae.Reason)
			}
			if h := WWWAuthenticate(err); !strings.HasPrefix(h, `Bearer error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate %q", h)
			}
		})
	}
}

// The Authorization header itself: missing, another scheme, empty, twice.
func TestVerifyRequestHeader(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	v := newVerifier(t, BearerConfig{JWKS: writeJWKS(t, dir, ec)})
	for _, c := range []struct {
		name   string
		values []string
		reason string
	}{
		{"missing", nil, "no bearer token: the request has no Authorization header"},
		{"basic", []string{"Basic YWxpY2U6c2VjcmV0"}, `the Authorization header is not a Bearer token (scheme "Basic")`},
		{"empty bearer", []string{"Bearer   "}, "empty Bearer token"},
		{"twice", []string{"Bearer a.b.c", "Bearer d.e.f"}, "2 Authorization headers, expected one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "http://junction/$ingest", nil)
			for _, val := range c.values {
				req.Header.Add("Authorization", val)
			}
			_, err := v.VerifyRequest(req)
			if StatusOf(err) != 401 || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %d %v, expected 401 %q", StatusOf(err), err, c.reason)
			}
			if strings.Contains(err.Error(), "YWxpY2U6c2VjcmV0") {
				t.Errorf("the reason repeats the credentials: %v", err)
			}
		})
	}
}

// Leeway lets a token that expired a few seconds ago (or is not valid for a few more) through.
func TestLeeway(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	jwks := writeJWKS(t, dir, ec)
	c := goodClaims()
	c["exp"] = time.Now().Add(-10 * time.Second).Unix()
	c["nbf"] = time.Now().Add(10 * time.Second).Unix()
	tok := sign(t, ec, "", c, nil)

	strict := newVerifier(t, BearerConfig{JWKS: jwks})
	if _, err := strict.Verify(tok); err == nil || !strings.Contains(err.Error(), "token expired at") || !strings.Contains(err.Error(), "token not valid before") {
		t.Errorf("without leeway: %v, expected expired and not valid yet", err)
	}
	lenient := newVerifier(t, BearerConfig{JWKS: jwks, Leeway: 30 * time.Second})
	if _, err := lenient.Verify(tok); err != nil {
		t.Errorf("with 30s leeway: %v", err)
	}
	short := newVerifier(t, BearerConfig{JWKS: jwks, Leeway: 5 * time.Second})
	if _, err := short.Verify(tok); err == nil || !strings.Contains(err.Error(), "(leeway 5s)") {
		t.Errorf("with 5s leeway: %v, expected a refusal naming the leeway", err)
	}
}

// aud may be a list; the configured audience only has to be one of its members.
func TestAudienceList(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	v := newVerifier(t, BearerConfig{JWKS: writeJWKS(t, dir, ec)})
	c := goodClaims()
	c["aud"] = []string{"account", "junction"}
	if _, err := v.Verify(sign(t, ec, "", c, nil)); err != nil {
		t.Errorf("aud list with junction: %v", err)
	}
}

// Grant claims may be a string, a space- or comma-separated string, or a list, under the
// configured names, possibly nested; other shapes are a 403 naming the claim.
func TestGrantClaims(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	jwks := writeJWKS(t, dir, ec)
	v := newVerifier(t, BearerConfig{JWKS: jwks, OrgClaim: "organisations", CategoryClaim: "ext.domains"})
	for _, c := range []struct {
		name     string
		org, cat any
		orgs     []string
		cats     []string
	}{
		{"strings", "r0d", "lab", []string{"r0d"}, []string{"lab"}},
		{"space-separated", "r0d r1d", "lab  emergency-care", []string{"r0d", "r1d"}, []string{"lab", "emergency-care"}},
		{"comma-separated", "r0d,r1d, r2d", "lab,", []string{"r0d", "r1d", "r2d"}, []string{"lab"}},
		{"lists", []any{"r0d", " r1d "}, []any{"lab"}, []string{"r0d", "r1d"}, []string{"lab"}},
		{"absent", nil, nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			claims := goodClaims()
			if c.org != nil {
				claims["organisations"] = c.org
			}
			if c.cat != nil {
				claims["ext"] = map[string]any{"domains": c.cat}
			}
			g, err := v.Verify(sign(t, ec, "", claims, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g.Organisations, c.orgs) || !slices.Equal(g.Categories, c.cats) {
				t.Errorf("organisations %q categories %q, expected %q %q", g.Organisations, g.Categories, c.orgs, c.cats)
			}
		})
	}
	for _, c := range []struct {
		val    any
		reason string
	}{
		{42, `claim "organisations" is a number, expected a string or a list of strings`},
		{[]any{"r0d", 7}, `claim "organisations" item 2 is a number, expected a string`},
		{map[string]any{"a": 1}, `claim "organisations" is an object`},
	} {
		claims := goodClaims()
		claims["organisations"] = c.val
		_, err := v.Verify(sign(t, ec, "", claims, nil))
		if StatusOf(err) != 403 || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%v: got %d %v, expected 403 %q", c.val, StatusOf(err), err, c.reason)
		}
	}
	// A top-level claim with a dotted name wins over the nested path.
	claims := goodClaims()
	claims["ext.domains"] = "flat"
	claims["ext"] = map[string]any{"domains": "nested"}
	g, err := v.Verify(sign(t, ec, "", claims, nil))
	if err != nil || !slices.Equal(g.Categories, []string{"flat"}) {
		t.Errorf("dotted claim name: %v %v", g, err)
	}
}

// Allows names the grant that is missing, as a 403 with insufficient_scope.
func TestAllows(t *testing.T) {
	g := &Grant{Organisations: []string{"r0d", "r1d"}, Categories: []string{"emergency-care"}}
	for _, c := range []struct{ org, cat, reason string }{
		{"r0d", "emergency-care", ""},
		{"r2d", "emergency-care", `token does not grant organisation "r2d"`},
		{"r1d", "lab", `token does not grant category (source-domain) "lab"`},
		{"r2d", "lab", `token does not grant organisation "r2d"`},
		{"", "lab", "the request names no organisation"},
		{"r0d", "", "the request names no category"},
		{"R0D", "emergency-care", `organisation "R0D"`},
	} {
		err := g.Allows(c.org, c.cat)
		if c.reason == "" {
			if err != nil {
				t.Errorf("Allows(%q, %q): %v", c.org, c.cat, err)
			}
			continue
		}
		if StatusOf(err) != 403 || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("Allows(%q, %q) = %d %v, expected 403 %q", c.org, c.cat, StatusOf(err), err, c.reason)
		}
		if h := WWWAuthenticate(err); !strings.HasPrefix(h, `Bearer error="insufficient_scope"`) {
			t.Errorf("WWW-Authenticate %q", h)
		}
	}
	if err := g.AllowsOrganisation("r1d"); err != nil {
		t.Error(err)
	}
	if err := g.AllowsCategory("lab"); StatusOf(err) != 403 {
		t.Errorf("AllowsCategory(lab) = %v", err)
	}
}

// Required roles: one of them must be granted, else a 403.
func TestRequiredTokenRoles(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	v := newVerifier(t, BearerConfig{JWKS: writeJWKS(t, dir, ec), RoleClaim: "realm_access.roles", Roles: []string{"sender"}})
	c := goodClaims()
	c["realm_access"] = map[string]any{"roles": []any{"offline_access", "sender"}}
	if g, err := v.Verify(sign(t, ec, "", c, nil)); err != nil || !slices.Contains(g.Roles, "sender") {
		t.Errorf("with the role: %v %v", g, err)
	}
	c["realm_access"] = map[string]any{"roles": []any{"offline_access"}}
	_, err := v.Verify(sign(t, ec, "", c, nil))
	if StatusOf(err) != 403 || !strings.Contains(err.Error(), `token grants none of the roles ["sender"]`) {
		t.Errorf("without the role: %v", err)
	}
}

// PEM keys: a public key and a certificate; a token without kid is checked against each.
func TestPEMKeys(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	rsaKey := newKey(t, dir, "rsa", "rsa")
	// A self-signed certificate for the RSA key.
	certFile := filepath.Join(dir, "idp.crt")
	der, err := x509.CreateCertificate(nil, &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)},
		&x509.Certificate{SerialNumber: bigOne()}, rsaKey.signer.Public(), rsaKey.signer)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)

	v := newVerifier(t, BearerConfig{PEM: []string{"ec.pub.pem", "idp.crt"}, BaseDir: dir})
	for name, tok := range map[string]string{
		"EC with kid":     sign(t, ec, "", goodClaims(), nil),
		"EC without kid":  sign(t, ec, "", goodClaims(), map[string]any{"kid": nil}),
		"RSA without kid": sign(t, rsaKey, "", goodClaims(), map[string]any{"kid": nil}),
		"RSA with kid":    sign(t, rsaKey, "PS384", goodClaims(), nil),
	} {
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	ec384 := newKey(t, dir, "ec384", "ec384")
	if _, err := v.Verify(sign(t, ec384, "", goodClaims(), map[string]any{"kid": nil})); err == nil ||
		!strings.Contains(err.Error(), "token names no key id (kid) and no configured key fits algorithm ES384") {
		t.Errorf("ES384 without kid: %v", err)
	}

	// A private key given as a public one is refused, and says so.
	_, err = NewVerifier(BearerConfig{Issuer: testIssuer, Audience: testAudience, PEM: []string{ec.file}})
	if err == nil || !strings.Contains(err.Error(), "give the public key, never the private one") {
		t.Errorf("private key as pem: %v", err)
	}
}

// Configuration mistakes are reported by NewVerifier.
func TestNewVerifierErrors(t *testing.T) {
	dir := t.TempDir()
	ec := newKey(t, dir, "ec", "ec")
	jwks := writeJWKS(t, dir, ec)
	weak := filepath.Join(dir, "weak.json")
	os.WriteFile(weak, []byte(`{"keys":[{"kty":"RSA","kid":"w","n":"AQAB","e":"AQAB"}]}`), 0o644)
	offCurve := filepath.Join(dir, "off.json")
	os.WriteFile(offCurve, []byte(`{"keys":[{"kty":"EC","kid":"c","crv":"P-256","x":"`+strings.Repeat("A", 43)+`","y":"`+strings.Repeat("B", 43)+`"}]}`), 0o644)
	encOnly := filepath.Join(dir, "enc.json")
	os.WriteFile(encOnly, []byte(`{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"c2VjcmV0"}]}`), 0o644)
	for _, c := range []struct {
		name string
		cfg  BearerConfig
		want string
	}{
		{"no issuer", BearerConfig{Audience: "a", JWKS: jwks}, "auth.issuer is required"},
		{"no audience", BearerConfig{Issuer: "i", JWKS: jwks}, "auth.audience is required"},
		{"no keys", BearerConfig{Issuer: "i", Audience: "a"}, "auth needs keys"},
		{"http URL", BearerConfig{Issuer: "i", Audience: "a", JWKS: "http://idp/jwks"}, "expected a file or an https:// URL"},
		{"missing file", BearerConfig{Issuer: "i", Audience: "a", JWKS: filepath.Join(dir, "nope.json")}, "no such file"},
		{"weak RSA", BearerConfig{Issuer: "i", Audience: "a", JWKS: weak}, "RSA key of 17 bits, expected at least 2048"},
		{"EC point off the curve", BearerConfig{Issuer: "i", Audience: "a", JWKS: offCurve}, "not on the curve"},
		{"only enc and oct keys", BearerConfig{Issuer: "i", Audience: "a", JWKS: encOnly}, `no RSA or EC signing key in the key set (passed over: key 1: use "enc"; key 2: kty "oct")`},
		{"negative leeway", BearerConfig{Issuer: "i", Audience: "a", JWKS: jwks, Leeway: -time.Second}, "expected zero or more"},
	} {
		_, err := NewVerifier(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, expected %q", c.name, err, c.want)
		}
	}
}

// The description goes into a quoted header value: no double quotes or backslashes.
func TestWWWAuthenticate(t *testing.T) {
	err := unauthorized(`unknown key id "k\9"`)
	if got := WWWAuthenticate(err); got != `Bearer error="invalid_token", error_description="unknown key id 'k9'"` {
		t.Errorf("got %s", got)
	}
	if got := WWWAuthenticate(errors.New("x")); got != `Bearer error="invalid_token"` {
		t.Errorf("plain error: %s", got)
	}
	if got := WWWAuthenticate(forbidden("token does not grant organisation %q", "r2d")); got != `Bearer error="insufficient_scope", error_description="token does not grant organisation 'r2d'"` {
		t.Errorf("403: %s", got)
	}
	if StatusOf(errors.New("x")) != 500 {
		t.Error("StatusOf a plain error")
	}
	long := quote(strings.Repeat("k", 100))
	if len(long) > 70 || !strings.HasSuffix(long, "…") {
		t.Errorf("quote of a long value: %s", long)
	}
}

// RFC 7638 §3.1's example key has thumbprint NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
func TestThumbprintRFC7638(t *testing.T) {
	set := `{"keys":[{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}]}`
	keys, err := parseJWKS([]byte(set))
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := Thumbprint(keys[0].key); tp != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("thumbprint %s", tp)
	}
	if keys[0].kid != "2011-04-29" || keys[0].alg != "RS256" {
		t.Errorf("kid %q alg %q", keys[0].kid, keys[0].alg)
	}
}
