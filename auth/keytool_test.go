package auth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// GenerateKeys writes a private key only its owner can read, a public key and a key set
// whose kid is the thumbprint; tokens SignToken makes with it verify against both.
func TestGenerateKeysAndSignToken(t *testing.T) {
	for _, alg := range []string{"", "RS256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			files, err := GenerateKeys(dir, alg)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"": "ES256", "RS256": "RS256"}[alg]; files.Algorithm != want {
				t.Errorf("algorithm %s, expected %s", files.Algorithm, want)
			}
			for file, mode := range map[string]os.FileMode{files.Private: 0o600, files.Public: 0o644, files.JWKS: 0o644, dir: 0o700} {
				st, err := os.Stat(file)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s has mode %o, expected %o", file, st.Mode().Perm(), mode)
				}
			}
			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			data, _ := os.ReadFile(files.JWKS)
			if err := json.Unmarshal(data, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("jwks.json: %v %s", err, data)
			}
			if set.Keys[0]["kid"] != files.KeyID || set.Keys[0]["alg"] != files.Algorithm || set.Keys[0]["use"] != "sig" {
				t.Errorf("jwks.json key %v, expected kid %s", set.Keys[0], files.KeyID)
			}
			if strings.Contains(string(data), `"d"`) {
				t.Errorf("jwks.json holds private material: %s", data)
			}

			tok, err := SignToken(files.Private, TokenClaims{Issuer: testIssuer, Audience: testAudience, Subject: "lab",
				Organisations: []string{"r0d", "r1d"}, Categories: []string{"emergency-care"}})
			if err != nil {
				t.Fatal(err)
			}
			for name, cfg := range map[string]BearerConfig{"jwks": {JWKS: files.JWKS}, "pem": {PEM: []string{files.Public}}} {
				g, err := newVerifier(t, cfg).Verify(tok)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if g.Subject != "lab" || !slices.Equal(g.Organisations, []string{"r0d", "r1d"}) || g.KeyID != files.KeyID {
					t.Errorf("%s: grant %+v", name, g)
				}
				if d := time.Until(g.Expires); d < 4*time.Minute || d > 5*time.Minute {
					t.Errorf("%s: expires in %s, expected the default 5m", name, d)
				}
			}

			// The private key is never overwritten.
			if _, err := GenerateKeys(dir, alg); err == nil || !strings.Contains(err.Error(), "refusing to overwrite a private key") {
				t.Errorf("second GenerateKeys: %v", err)
			}
		})
	}
}

// A negative TTL gives an expired token; claim names, kid and extra claims can be set.
func TestSignTokenOptions(t *testing.T) {
	dir := t.TempDir()
	files, err := GenerateKeys(dir, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, BearerConfig{JWKS: files.JWKS, OrgClaim: "orgs"})
	claims := TokenClaims{Issuer: testIssuer, Audience: testAudience, Subject: "lab", Organisations: []string{"r0d"}}

	expired := claims
	expired.TTL = -time.Minute
	tok, err := SignToken(files.Private, expired)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); StatusOf(err) != 401 || !strings.Contains(err.Error(), "token expired at") {
		t.Errorf("-1m token: %v", err)
	}

	named := claims
	named.OrgClaim = "orgs"
	named.Extra = map[string]any{"aud": []string{"account", testAudience}, "scope": "ingest"}
	tok, err = SignToken(files.Private, named)
	if err != nil {
		t.Fatal(err)
	}
	g, err := v.Verify(tok)
	if err != nil || !slices.Equal(g.Organisations, []string{"r0d"}) || g.Claims["scope"] != "ingest" {
		t.Errorf("named claim and extras: %+v %v", g, err)
	}

	other := claims
	other.KeyID = "k9"
	tok, _ = SignToken(files.Private, other)
	if _, err := v.Verify(tok); err == nil || !strings.Contains(err.Error(), `unknown key id "k9"`) {
		t.Errorf("-kid k9: %v", err)
	}

	future := claims
	future.NotBefore = time.Now().Add(time.Hour)
	tok, _ = SignToken(files.Private, future)
	if _, err := v.Verify(tok); err == nil || !strings.Contains(err.Error(), "token not valid before") {
		t.Errorf("nbf in an hour: %v", err)
	}

	if _, err := SignToken(files.Public, claims); err == nil || !strings.Contains(err.Error(), "PEM block is a PUBLIC KEY, expected PRIVATE KEY") {
		t.Errorf("signing with the public key: %v", err)
	}
	if _, err := SignToken(files.Private, TokenClaims{Issuer: testIssuer}); err == nil || !strings.Contains(err.Error(), "needs an issuer, an audience and a subject") {
		t.Errorf("no audience: %v", err)
	}
	if _, err := GenerateKeys(t.TempDir(), "HS256"); err == nil || !strings.Contains(err.Error(), `key algorithm "HS256", expected ES256 or RS256`) {
		t.Errorf("GenerateKeys HS256: %v", err)
	}
}
