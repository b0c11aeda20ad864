package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"junction/auth"
)

// junction keys → junction token → a Verifier on the key set accepts the token, and an
// expired one (-ttl -1m) is refused.
func TestKeysAndTokenCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	code, out, errOut := capture(t, func() int { return keysCmd([]string{"-dir", dir}) })
	if code != 0 {
		t.Fatalf("keys: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"private.pem", "public.pem", "jwks.json"} {
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("keys output does not name %s:\n%s", f, out)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "private.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private.pem: %v", err)
	}

	v, err := auth.NewVerifier(auth.BearerConfig{Issuer: "https://idp.example/realms/exchange", Audience: "junction", JWKS: filepath.Join(dir, "jwks.json")})
	if err != nil {
		t.Fatal(err)
	}
	token := func(extra ...string) (int, string, string) {
		args := append([]string{"-key", filepath.Join(dir, "private.pem"), "-iss", "https://idp.example/realms/exchange",
			"-aud", "junction", "-sub", "lab-gateway", "-org", "r0d, r1d", "-category", "emergency-care"}, extra...)
		return capture(t, func() int { return tokenCmd(args) })
	}

	code, out, errOut = token()
	if code != 0 || errOut != "" {
		t.Fatalf("token: exit %d: %s", code, errOut)
	}
	tok := strings.TrimSuffix(out, "\n")
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token printed %q, expected the token alone", out)
	}
	g, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if g.Subject != "lab-gateway" || !slices.Equal(g.Organisations, []string{"r0d", "r1d"}) || !slices.Equal(g.Categories, []string{"emergency-care"}) {
		t.Errorf("grant %+v", g)
	}
	if err := g.Allows("r2d", "emergency-care"); auth.StatusOf(err) != 403 || !strings.Contains(err.Error(), `organisation "r2d"`) {
		t.Errorf("Allows r2d: %v", err)
	}

	code, out, _ = token("-ttl", "-1m")
	if code != 0 {
		t.Fatalf("token -ttl -1m: exit %d", code)
	}
	_, err = v.Verify(strings.TrimSpace(out))
	if auth.StatusOf(err) != 401 || !strings.Contains(err.Error(), "token expired at") {
		t.Errorf("-ttl -1m: %v", err)
	}
	if h := auth.WWWAuthenticate(err); !strings.HasPrefix(h, `Bearer error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", h)
	}

	code, out, _ = token("-kid", "k9")
	if _, err := v.Verify(strings.TrimSpace(out)); code != 0 || err == nil || !strings.Contains(err.Error(), `unknown key id "k9"`) {
		t.Errorf("-kid k9: exit %d, %v", code, err)
	}

	// Mistakes: exit 2 with a message, no token.
	for _, args := range [][]string{
		{"-key", filepath.Join(dir, "private.pem"), "-iss", "i", "-aud", "a"},
		{"-key", filepath.Join(dir, "private.pem"), "-iss", "i", "-aud", "a", "-sub", "s", "-ttl", "0"},
		{"-ttl", "soon"},
	} {
		code, out, errOut := capture(t, func() int { return tokenCmd(args) })
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("token %q: exit %d, out %q, err %q", args, code, out, errOut)
		}
	}
	code, _, errOut = capture(t, func() int {
		return tokenCmd([]string{"-key", filepath.Join(dir, "public.pem"), "-iss", "i", "-aud", "a", "-sub", "s"})
	})
	if code != 1 || !strings.Contains(errOut, "expected PRIVATE KEY") {
		t.Errorf("token signed with the public key: exit %d: %s", code, errOut)
	}

	// keys refuses to overwrite the private key, and needs -dir.
	if code, _, errOut := capture(t, func() int { return keysCmd([]string{"-dir", dir}) }); code != 1 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Errorf("keys again: exit %d: %s", code, errOut)
	}
	if code, _, _ := capture(t, func() int { return keysCmd(nil) }); code != 2 {
		t.Errorf("keys without -dir: exit %d", code)
	}
}
