package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// minRSABits is the smallest RSA modulus accepted for verifying or signing.
const minRSABits = 2048

// publicKey is one verification key with its key id.
type publicKey struct {
	kid string
	alg string // the JWK's "alg" member; "" when the key does not restrict its algorithm
	key crypto.PublicKey
}

// describe names the key type for messages: "RSA", "EC P-256".
func describe(key crypto.PublicKey) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", key)
}

// acceptedAlgs are the JWS algorithms Junction verifies: RSA and EC signatures only.
var acceptedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// fits says whether a token signed with alg can be checked with key: RS*/PS* need an RSA key,
// ES256/384/512 an EC key on P-256/P-384/P-521.
func fits(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return alg == ecAlg(k.Curve)
	}
	return false
}

// ecAlg is the one JWS algorithm that goes with an EC curve.
func ecAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// curveByName maps a JWK "crv" to its curve.
func curveByName(crv string) elliptic.Curve {
	switch crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// checkKey refuses keys too weak to trust: RSA below 2048 bits or with an odd exponent,
// EC keys on curves other than P-256/384/521.
func checkKey(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits {
			return fmt.Errorf("RSA key of %d bits, expected at least %d", n, minRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("RSA key with public exponent %d, expected an odd exponent of at least 3", k.E)
		}
		return nil
	case *ecdsa.PublicKey:
		if ecAlg(k.Curve) == "" {
			return fmt.Errorf("EC key on curve %s, expected P-256, P-384 or P-521", k.Curve.Params().Name)
		}
		return nil
	}
	return fmt.Errorf("%T key, expected an RSA or EC public key", key)
}

// jwk is one member of a JSON Web Key Set (RFC 7517), with the RSA and EC fields of RFC 7518.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// parseJWKS reads the RSA and EC signing keys of a key set. Keys meant for encryption
// (use "enc") and other key types (oct, OKP) are passed over; a malformed RSA or EC key is an
// error, as is a set with no usable key. A key without a kid gets its RFC 7638 thumbprint.
func parseJWKS(data []byte) ([]publicKey, error) {
	var set jwkSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	var keys []publicKey
	var skipped []string
	for i, k := range set.Keys {
		name := fmt.Sprintf("key %d", i+1)
		if k.Kid != "" {
			name += " (kid " + quote(k.Kid) + ")"
		}
		if k.Use != "" && k.Use != "sig" {
			skipped = append(skipped, fmt.Sprintf("%s: use %q", name, k.Use))
			continue
		}
		var key crypto.PublicKey
		var err error
		switch k.Kty {
		case "RSA":
			key, err = k.rsaKey()
		case "EC":
			key, err = k.ecKey()
		default:
			skipped = append(skipped, fmt.Sprintf("%s: kty %q", name, k.Kty))
			continue
		}
		if err == nil {
			err = checkKey(key)
		}
		if err == nil && k.Alg != "" && !fits(k.Alg, key) {
			err = fmt.Errorf("alg %q does not go with a %s key", k.Alg, describe(key))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		kid := k.Kid
		if kid == "" {
			kid, _ = Thumbprint(key)
		}
		keys = append(keys, publicKey{kid: kid, alg: k.Alg, key: key})
	}
	if len(keys) == 0 {
		if len(skipped) > 0 {
			return nil, fmt.Errorf("no RSA or EC signing key in the key set (passed over: %s)", strings.Join(skipped, "; "))
		}
		return nil, errors.New(`no keys in the key set: expected {"keys": [...]} with RSA or EC signing keys`)
	}
	return keys, nil
}

// b64int decodes a base64url big-endian unsigned integer member of a JWK.
func b64int(member, s string) (*big.Int, error) {
	if s == "" {
		return nil, fmt.Errorf("member %q is missing", member)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("member %q is not base64url without padding", member)
	}
	return new(big.Int).SetBytes(b), nil
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	n, err := b64int("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := b64int("e", k.E)
	if err != nil {
		return nil, err
	}
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, errors.New(`member "e" is too large for an RSA public exponent`)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func (k jwk) ecKey() (*ecdsa.PublicKey, error) {
	curve := curveByName(k.Crv)
	if curve == nil {
		return nil, fmt.Errorf("curve %q, expected P-256, P-384 or P-521", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	point := []byte{4}
	for _, m := range []struct{ name, val string }{{"x", k.X}, {"y", k.Y}} {
		b, err := base64.RawURLEncoding.DecodeString(m.val)
		if err != nil || m.val == "" {
			return nil, fmt.Errorf("member %q is missing or not base64url without padding", m.name)
		}
		if len(b) != size {
			return nil, fmt.Errorf("member %q has %d bytes, expected %d for %s", m.name, len(b), size, k.Crv)
		}
		point = append(point, b...)
	}
	key, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, errors.New("the point (x, y) is not on the curve")
	}
	return key, nil
}

// jwkOf is the JWK of a public key, as written to jwks.json.
func jwkOf(key crypto.PublicKey, kid, alg string) (jwk, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", Kid: kid, Use: "sig", Alg: alg,
			N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || x || y, each padded to the curve size
		if err != nil {
			return jwk{}, err
		}
		size := (len(raw) - 1) / 2
		return jwk{Kty: "EC", Kid: kid, Use: "sig", Alg: alg, Crv: k.Curve.Params().Name,
			X: base64.RawURLEncoding.EncodeToString(raw[1 : 1+size]),
			Y: base64.RawURLEncoding.EncodeToString(raw[1+size:])}, nil
	}
	return jwk{}, fmt.Errorf("%T key, expected an RSA or EC public key", key)
}

// Thumbprint is the RFC 7638 JWK thumbprint of an RSA or EC public key (SHA-256, base64url):
// the key id `junction keys` gives a key and the one a PEM key is known by.
func Thumbprint(key crypto.PublicKey) (string, error) {
	j, err := jwkOf(key, "", "")
	if err != nil {
		return "", err
	}
	// The required members only, in lexicographic order, without whitespace (RFC 7638 §3.2).
	var canon string
	switch j.Kty {
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// parsePEMKeys reads every public key in PEM data: PUBLIC KEY (PKIX), RSA PUBLIC KEY
// (PKCS #1) and CERTIFICATE blocks. Each key is known by its thumbprint.
func parsePEMKeys(data []byte) ([]publicKey, error) {
	var keys []publicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, fmt.Errorf("PEM block %d is a %s: give the public key, never the private one", n, block.Type)
			}
			return nil, fmt.Errorf("PEM block %d is a %s, expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", n, block.Type)
		}
		if err == nil {
			err = checkKey(key)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %v", n, block.Type, err)
		}
		kid, _ := Thumbprint(key)
		keys = append(keys, publicKey{kid: kid, key: key})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found, expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")
	}
	return keys, nil
}

// parsePrivateKey reads a PEM private key: PKCS #8 (PRIVATE KEY), SEC 1 (EC PRIVATE KEY) or
// PKCS #1 (RSA PRIVATE KEY), RSA or EC.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found, expected a PRIVATE KEY")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is a %s, expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, checkKey(&k.PublicKey)
	case *ecdsa.PrivateKey:
		return k, checkKey(&k.PublicKey)
	}
	return nil, fmt.Errorf("%T private key, expected RSA or EC", key)
}
