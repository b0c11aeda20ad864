package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://idp.example/realms/exchange"
	testAudience = "junction"
)

// testKey is a real key pair with its private key written to a PEM file.
type testKey struct {
	signer crypto.Signer
	kid    string
	file   string // private key, PKCS #8 PEM
	pub    string // public key, PKIX PEM
}

// rsaKeys caches RSA keys by name across tests (the tests do not run in parallel).
var rsaKeys = map[string]*rsa.PrivateKey{}

func cachedRSAKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	if k, ok := rsaKeys[name]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys[name] = k
	return k
}

// newKey makes an EC P-256 ("ec"), EC P-384 ("ec384") or RSA 2048 ("rsa") key in dir; RSA
// keys are cached by name across tests, as making one is slow under the race detector.
func newKey(t *testing.T, dir, kind, name string) testKey {
	t.Helper()
	var s crypto.Signer
	var err error
	switch kind {
	case "ec":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ec384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa":
		s = cachedRSAKey(t, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(s.Public())
	k := testKey{signer: s, file: filepath.Join(dir, name+".pem"), pub: filepath.Join(dir, name+".pub.pem")}
	os.WriteFile(k.file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(k.pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	k.kid, _ = Thumbprint(s.Public())
	return k
}

// jwksJSON is a key set holding the public keys, each under kid (its own when "").
func jwksJSON(t *testing.T, keys ...testKey) []byte {
	t.Helper()
	var set jwkSet
	for _, k := range keys {
		j, err := jwkOf(k.signer.Public(), k.kid, "")
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j)
	}
	b, _ := json.Marshal(set)
	return b
}

func writeJWKS(t *testing.T, dir string, keys ...testKey) string {
	t.Helper()
	f := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(f, jwksJSON(t, keys...), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// goodClaims are the claims of a token the test verifiers accept.
func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":      testIssuer,
		"aud":      testAudience,
		"sub":      "lab-gateway",
		"iat":      now.Unix(),
		"exp":      now.Add(5 * time.Minute).Unix(),
		"org":      []string{"r0d", "r1d"},
		"category": "emergency-care",
	}
}

// sign signs claims with k under alg (default by key type), with k.kid unless hdr says
// otherwise (a nil value removes a header member).
func sign(t *testing.T, k testKey, alg string, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	if alg == "" {
		switch key := k.signer.(type) {
		case *rsa.PrivateKey:
			alg = "RS256"
		case *ecdsa.PrivateKey:
			alg = ecAlg(key.Curve)
		}
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	tok.Header["kid"] = k.kid
	for name, v := range hdr {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	s, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// b64 is base64url without padding of JSON.
func b64(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newVerifier(t *testing.T, cfg BearerConfig) *Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func bigOne() *big.Int { return big.NewInt(1) }

// newDiscardLogger keeps expected handshake failures out of the test output.
func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
