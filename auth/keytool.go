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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeyFiles are the files GenerateKeys wrote.
type KeyFiles struct {
	Private   string // private.pem, PKCS #8, mode 0600
	Public    string // public.pem, PKIX
	JWKS      string // jwks.json, the public key with its kid
	KeyID     string // the RFC 7638 thumbprint of the public key
	Algorithm string // ES256 or RS256
}

// GenerateKeys makes a key pair in dir (created 0700 if missing) for signing tokens: alg
// ES256 (the default when "") makes an EC P-256 key, RS256 a 3072-bit RSA key. It writes
// private.pem (0600), public.pem and jwks.json, whose kid is the key's thumbprint. An
// existing private.pem is never overwritten.
func GenerateKeys(dir, alg string) (*KeyFiles, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case "", "ES256":
		alg = "ES256"
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("key algorithm %q, expected ES256 or RS256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %v", alg, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key directory: %v", err)
	}
	files := &KeyFiles{
		Private:   filepath.Join(dir, "private.pem"),
		Public:    filepath.Join(dir, "public.pem"),
		JWKS:      filepath.Join(dir, "jwks.json"),
		Algorithm: alg,
	}
	if files.KeyID, err = Thumbprint(signer.Public()); err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %v", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %v", err)
	}
	key, err := jwkOf(signer.Public(), files.KeyID, alg)
	if err != nil {
		return nil, err
	}
	set, err := json.MarshalIndent(jwkSet{Keys: []jwk{key}}, "", "  ")
	if err != nil {
		return nil, err
	}

	f, err := os.OpenFile(files.Private, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s exists: refusing to overwrite a private key, choose another directory or remove it first", files.Private)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the private key: %v", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(files.Private)
		return nil, fmt.Errorf("writing %s: %v", files.Private, err)
	}
	if err := writeFileAtomic(files.Public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(files.JWKS, append(set, '\n'), 0o644); err != nil {
		return nil, err
	}
	return files, nil
}

// TokenClaims is what SignToken puts in a token.
type TokenClaims struct {
	Issuer, Audience, Subject string
	Organisations, Categories []string
	OrgClaim, CategoryClaim   string        // claim names; default "org" and "category"
	TTL                       time.Duration // default 5m; a negative TTL gives a token that has already expired
	KeyID                     string        // default the key's RFC 7638 thumbprint, the kid in jwks.json
	NotBefore                 time.Time     // default the issue time
	Extra                     map[string]any
	Now                       time.Time // the issue time; default now
}

// SignToken signs a JWT with the private key in keyFile: RS256 for an RSA key, ES256,
// ES384 or ES512 for an EC key by its curve. Claims: iss, aud, sub, iat, nbf, exp, a random
// jti, the organisations and categories as lists, then Extra (which may override any of them).
func SignToken(keyFile string, c TokenClaims) (string, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return "", fmt.Errorf("signing key: %v", err)
	}
	signer, err := parsePrivateKey(data)
	if err != nil {
		return "", fmt.Errorf("signing key %s: %v", keyFile, err)
	}
	var method jwt.SigningMethod
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		method = jwt.GetSigningMethod(ecAlg(k.Curve))
	}
	if c.Issuer == "" || c.Audience == "" || c.Subject == "" {
		return "", errors.New("a token needs an issuer, an audience and a subject")
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	issued := now
	if ttl < 0 { // an expired token: issued a minute before it expired
		issued = now.Add(ttl - time.Minute)
	}
	nbf := c.NotBefore
	if nbf.IsZero() {
		nbf = issued
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	orgClaim, catClaim := c.OrgClaim, c.CategoryClaim
	if orgClaim == "" {
		orgClaim = "org"
	}
	if catClaim == "" {
		catClaim = "category"
	}
	claims := jwt.MapClaims{
		"iss": c.Issuer,
		"aud": c.Audience,
		"sub": c.Subject,
		"iat": issued.Unix(),
		"nbf": nbf.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	if c.Organisations != nil {
		claims[orgClaim] = c.Organisations
	}
	if c.Categories != nil {
		claims[catClaim] = c.Categories
	}
	for k, v := range c.Extra {
		claims[k] = v
	}
	tok := jwt.NewWithClaims(method, claims)
	kid := c.KeyID
	if kid == "" {
		if kid, err = Thumbprint(signer.Public()); err != nil {
			return "", err
		}
	}
	tok.Header["kid"] = kid
	s, err := tok.SignedString(signer)
	if err != nil {
		return "", fmt.Errorf("signing with %s: %v", keyFile, err)
	}
	return s, nil
}
