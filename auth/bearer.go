package auth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BearerConfig is who may send to a source: the token issuer and audience, the keys that
// sign its tokens, and the claims that carry the grants.
type BearerConfig struct {
	Issuer   string // the exact "iss" expected
	Audience string // must be the "aud" claim, or one of its members
	JWKS     string // a JWKS file, or an https:// URL
	PEM      []string
	// OrgClaim and CategoryClaim name the claims granting organisations and categories
	// (source-domains); default "org" and "category". A dotted name ("realm_access.roles")
	// reaches into nested objects when no top-level claim has that exact name.
	OrgClaim, CategoryClaim string
	Leeway                  time.Duration // clock skew tolerated on exp, nbf and iat

	// Optional.
	RoleClaim  string   // the claim holding roles; default "roles"
	Roles      []string // when set, the token must grant at least one of these roles (else 403)
	ScopeClaim string   // the claim holding OAuth2 scopes (SMART: system/Patient.read); default "scope"
	// ReadRoles grant reading stored data (GET); SMART read scopes do too. Default
	// DefaultReadRoles.
	ReadRoles []string

	BaseDir         string        // relative JWKS, PEM and CAFile paths are read from here
	CAFile          string        // CAs trusted for an https JWKS URL; default the system's
	HTTPClient      *http.Client  // fetches the JWKS URL; default one built from CAFile and FetchTimeout
	FetchTimeout    time.Duration // for one JWKS fetch; default 10s
	RefreshInterval time.Duration // least time between two reloads of the JWKS; default 30s
	MaxKeyAge       time.Duration // a JWKS fetched from a URL is reloaded when this old; default 1h
}

// maxTokenBytes bounds what is decoded at all; real access tokens are a few kilobytes.
const maxTokenBytes = 16 << 10

// maxJWKSBytes bounds a fetched key set.
const maxJWKSBytes = 1 << 20

// Verifier checks bearer tokens against one BearerConfig. It is safe for concurrent use.
type Verifier struct {
	cfg    BearerConfig
	static []publicKey // from the PEM files
	source string      // the JWKS file or URL, "" without one
	isURL  bool
	client *http.Client
	now    func() time.Time

	reloading sync.Mutex // one reload of the JWKS at a time

	mu       sync.RWMutex
	jwks     []publicKey
	loadedAt time.Time // last successful load
	triedAt  time.Time // last attempt
	lastErr  error     // of the last attempt
}

// NewVerifier checks cfg and loads its keys: PEM files, and the JWKS file or URL (fetched now;
// an unreachable URL is an error here, so a mistake shows at start).
func NewVerifier(cfg BearerConfig) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth.issuer is required: the exact iss of the tokens to accept")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth.audience is required: the aud the tokens must carry")
	}
	if cfg.JWKS == "" && len(cfg.PEM) == 0 {
		return nil, errors.New("auth needs keys: jwks (a file or an https URL) or pem (public key files)")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth leeway is %s, expected zero or more", cfg.Leeway)
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	if cfg.ScopeClaim == "" {
		cfg.ScopeClaim = "scope"
	}
	if cfg.ReadRoles == nil {
		cfg.ReadRoles = DefaultReadRoles
	}
	if cfg.OrgClaim == "" {
		cfg.OrgClaim = "org"
	}
	if cfg.CategoryClaim == "" {
		cfg.CategoryClaim = "category"
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 10 * time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = time.Hour
	}
	v := &Verifier{cfg: cfg, now: time.Now}
	for _, f := range cfg.PEM {
		path := inDir(cfg.BaseDir, f)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("auth.pem: %v", err)
		}
		keys, err := parsePEMKeys(data)
		if err != nil {
			return nil, fmt.Errorf("auth.pem: %s: %v", path, err)
		}
		v.static = append(v.static, keys...)
	}
	if cfg.JWKS != "" {
		switch {
		case strings.HasPrefix(cfg.JWKS, "https://"):
			v.source, v.isURL = cfg.JWKS, true
			v.client = cfg.HTTPClient
			if v.client == nil {
				c, err := jwksClient(inDir(cfg.BaseDir, cfg.CAFile), cfg.CAFile != "", cfg.FetchTimeout)
				if err != nil {
					return nil, err
				}
				v.client = c
			}
		case strings.Contains(cfg.JWKS, "://"):
			return nil, fmt.Errorf("auth.jwks: %s: expected a file or an https:// URL (keys are never fetched in clear)", cfg.JWKS)
		default:
			v.source = inDir(cfg.BaseDir, cfg.JWKS)
		}
		keys, err := v.fetch()
		if err != nil {
			return nil, err
		}
		now := v.now()
		v.jwks, v.loadedAt, v.triedAt = keys, now, now
	}
	return v, nil
}

// inDir resolves a relative path against dir.
func inDir(dir, path string) string {
	if dir == "" || path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// jwksClient is an HTTP client trusting caFile's CAs (or the system's), TLS 1.2 at least.
func jwksClient(caFile string, haveCA bool, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if haveCA {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("auth CA file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("auth CA file %s: no CERTIFICATE found, expected PEM certificates", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// fetch reads and parses the JWKS from its file or URL.
func (v *Verifier) fetch() ([]publicKey, error) {
	var data []byte
	if v.isURL {
		resp, err := v.client.Get(v.source)
		if err != nil {
			return nil, fmt.Errorf("auth.jwks: fetching %s: %v", v.source, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("auth.jwks: fetching %s: %s, expected 200 OK", v.source, resp.Status)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
		if err != nil {
			return nil, fmt.Errorf("auth.jwks: reading %s: %v", v.source, err)
		}
		if len(data) > maxJWKSBytes {
			return nil, fmt.Errorf("auth.jwks: %s is larger than %d bytes", v.source, maxJWKSBytes)
		}
	} else {
		var err error
		if data, err = os.ReadFile(v.source); err != nil {
			return nil, fmt.Errorf("auth.jwks: %v", err)
		}
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("auth.jwks: %s: %v", v.source, err)
	}
	return keys, nil
}

// reload fetches the JWKS again unless that was tried less than RefreshInterval ago. With
// wait false it returns at once when another reload is under way. A failed reload keeps the
// keys already loaded.
func (v *Verifier) reload(wait bool) {
	if wait {
		v.reloading.Lock()
	} else if !v.reloading.TryLock() {
		return
	}
	defer v.reloading.Unlock()
	v.mu.RLock()
	due := v.now().Sub(v.triedAt) >= v.cfg.RefreshInterval
	v.mu.RUnlock()
	if !due {
		return
	}
	keys, err := v.fetch()
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.triedAt, v.lastErr = now, err
	if err == nil {
		v.jwks, v.loadedAt = keys, now
	}
}

// Reload reads the JWKS file or URL again now; on failure the keys already loaded stay.
func (v *Verifier) Reload() error {
	if v.source == "" {
		return nil
	}
	v.reloading.Lock()
	defer v.reloading.Unlock()
	keys, err := v.fetch()
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.triedAt, v.lastErr = now, err
	if err == nil {
		v.jwks, v.loadedAt = keys, now
	}
	return err
}

// withKid is every configured key with that key id.
func (v *Verifier) withKid(kid string) []publicKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []publicKey
	for _, k := range v.static {
		if k.kid == kid {
			out = append(out, k)
		}
	}
	for _, k := range v.jwks {
		if k.kid == kid {
			out = append(out, k)
		}
	}
	return out
}

// all is every configured key.
func (v *Verifier) all() []publicKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return append(slices.Clip(v.static), v.jwks...)
}

// selectKeys picks the keys that may verify a token with this kid and alg. An unknown kid
// reloads the JWKS (at most once per RefreshInterval) before it is refused.
func (v *Verifier) selectKeys(kid, alg string) ([]publicKey, *AuthError) {
	var candidates []publicKey
	if kid == "" {
		candidates = v.all()
	} else {
		candidates = v.withKid(kid)
		if len(candidates) == 0 && v.source != "" {
			v.reload(true)
			candidates = v.withKid(kid)
		}
		if len(candidates) == 0 {
			v.mu.RLock()
			lastErr := v.lastErr
			v.mu.RUnlock()
			if lastErr != nil {
				return nil, unauthorized("unknown key id %s (the last reload of the key set failed: %v)", quote(kid), lastErr)
			}
			return nil, unauthorized("unknown key id %s", quote(kid))
		}
	}
	var fit []publicKey
	for _, k := range candidates {
		if fits(alg, k.key) && (k.alg == "" || k.alg == alg) {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		if kid == "" {
			return nil, unauthorized("token names no key id (kid) and no configured key fits algorithm %s", alg)
		}
		return nil, unauthorized("algorithm %s does not fit key %s (%s)", alg, quote(kid), describe(candidates[0].key))
	}
	return fit, nil
}

// header is the part of a JWS header the verifier looks at before golang-jwt does.
type header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// VerifyRequest verifies the request's `Authorization: Bearer` token.
func (v *Verifier) VerifyRequest(r *http.Request) (*Grant, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0 || values[0] == "":
		return nil, unauthorized("no bearer token: the request has no Authorization header")
	case len(values) > 1:
		return nil, unauthorized("the request has %d Authorization headers, expected one", len(values))
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, unauthorized("the Authorization header is not a Bearer token (scheme %s)", quote(scheme))
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, unauthorized("no bearer token: the Authorization header has an empty Bearer token")
	}
	return v.Verify(token)
}

// Verify checks a token's signature, expiry (exp required, nbf and iat when present), issuer,
// audience and roles, and returns what it grants. Every refusal is an *AuthError.
func (v *Verifier) Verify(token string) (*Grant, error) {
	if token == "" {
		return nil, unauthorized("no bearer token")
	}
	if len(token) > maxTokenBytes {
		return nil, unauthorized("malformed token: %d bytes, more than the %d accepted", len(token), maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	switch len(parts) {
	case 3:
	case 5:
		return nil, unauthorized("malformed token: encrypted tokens (JWE) are not accepted, expected a signed JWT")
	default:
		return nil, unauthorized("malformed token: %d dot-separated parts, expected 3 (header.claims.signature)", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h header
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		return nil, unauthorized("malformed token: the header is not base64url-encoded JSON")
	}
	switch {
	case h.Alg == "":
		return nil, unauthorized("malformed token: the header names no algorithm (alg)")
	case strings.EqualFold(h.Alg, "none"):
		return nil, unauthorized("algorithm %s not allowed: tokens must be signed", quote(h.Alg))
	case strings.HasPrefix(strings.ToUpper(h.Alg), "HS"):
		return nil, unauthorized("algorithm %s not allowed: HMAC-signed tokens are refused, expected an RSA or EC signature", quote(h.Alg))
	case !slices.Contains(acceptedAlgs, h.Alg):
		return nil, unauthorized("algorithm %s not allowed, expected one of %s", quote(h.Alg), strings.Join(acceptedAlgs, ", "))
	case len(h.Crit) > 0:
		return nil, unauthorized("token header marks extensions %q critical, and Junction supports none", h.Crit)
	}
	if v.isURL {
		v.mu.RLock()
		stale := v.now().Sub(v.loadedAt) > v.cfg.MaxKeyAge
		v.mu.RUnlock()
		if stale {
			v.reload(false)
		}
	}
	keys, aerr := v.selectKeys(h.Kid, h.Alg)
	if aerr != nil {
		return nil, aerr
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{h.Alg}),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.now),
	)
	claims := jwt.MapClaims{}
	_, err = parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != h.Alg { // cannot happen: both read the same header
			return nil, fmt.Errorf("the header decoded as algorithm %s and then %s", h.Alg, t.Method.Alg())
		}
		if len(keys) == 1 {
			return keys[0].key, nil
		}
		set := jwt.VerificationKeySet{}
		for _, k := range keys {
			set.Keys = append(set.Keys, k.key)
		}
		return set, nil
	})
	if err != nil {
		return nil, v.refusal(err, claims, h.Kid)
	}
	return v.grant(claims, h.Kid)
}

// refusal turns a golang-jwt error into a 401 whose reason says what was wrong. Claims are
// only read here after the signature verified (golang-jwt checks it before the claims).
func (v *Verifier) refusal(err error, claims jwt.MapClaims, kid string) *AuthError {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("malformed token: its claims or signature are not base64url-encoded JSON")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if kid == "" {
			return unauthorized("token signature does not verify with any configured key")
		}
		return unauthorized("token signature does not verify with key %s", quote(kid))
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized("token cannot be verified: %v", err)
	}
	leeway := ""
	if v.cfg.Leeway > 0 {
		leeway = fmt.Sprintf(" (leeway %s)", v.cfg.Leeway)
	}
	var reasons []string
	when := func(t *jwt.NumericDate, _ error) string {
		if t == nil {
			return "?"
		}
		return t.UTC().Format(time.RFC3339)
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		reasons = append(reasons, fmt.Sprintf("token expired at %s%s", when(claims.GetExpirationTime()), leeway))
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		reasons = append(reasons, fmt.Sprintf("token not valid before %s%s", when(claims.GetNotBefore()), leeway))
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		reasons = append(reasons, fmt.Sprintf("token issued in the future, at %s%s", when(claims.GetIssuedAt()), leeway))
	}
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		if exp, _ := claims.GetExpirationTime(); exp == nil {
			reasons = append(reasons, "token has no expiry (exp claim)")
		}
		if iss, _ := claims.GetIssuer(); iss == "" {
			reasons = append(reasons, fmt.Sprintf("token has no issuer (iss claim), expected %q", v.cfg.Issuer))
		}
		if aud, _ := claims.GetAudience(); len(aud) == 0 || len(aud) == 1 && aud[0] == "" {
			reasons = append(reasons, fmt.Sprintf("token has no audience (aud claim), expected %q", v.cfg.Audience))
		}
	}
	if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		iss, _ := claims.GetIssuer()
		reasons = append(reasons, fmt.Sprintf("token issuer %s is not %q", quote(iss), v.cfg.Issuer))
	}
	if errors.Is(err, jwt.ErrTokenInvalidAudience) {
		aud, _ := claims.GetAudience()
		quoted := make([]string, 0, len(aud))
		for i, a := range aud {
			if i == 8 {
				quoted = append(quoted, "…")
				break
			}
			quoted = append(quoted, quote(a))
		}
		reasons = append(reasons, fmt.Sprintf("token audience [%s] does not include %q", strings.Join(quoted, " "), v.cfg.Audience))
	}
	if errors.Is(err, jwt.ErrInvalidType) {
		reasons = append(reasons, fmt.Sprintf("token claims of the wrong type: %v", err))
	}
	if len(reasons) == 0 {
		return unauthorized("token refused: %v", err)
	}
	return unauthorized("%s", strings.Join(reasons, "; "))
}
