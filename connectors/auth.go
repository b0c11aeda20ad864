package connectors

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"

	"junction/auth"
	"junction/engine"
)

// authFields are the keys of a source's auth block (and of a FHIR store's serve.auth).
var authFields = []engine.FieldSpec{
	{Name: "auth", Type: "mapping or none", Description: "bearer token checks (the keys below); auth: none serves the listener's routes, reads of stored data included, to anyone: say so explicitly (junction check warns)", Example: "none"},
	{Name: "auth.issuer", Type: "text", Required: true, Description: "bearer tokens: the exact iss expected (setting auth turns token checks on)", Example: "https://idp.example/realms/exchange"},
	{Name: "auth.audience", Type: "text", Required: true, Description: "bearer tokens: the aud expected", Example: "junction"},
	{Name: "auth.jwks", Type: "path or https URL", Description: "the identity server's public keys as a JWKS (this or auth.pem is needed); ${file:…} and ${ENV} work here", Example: "keys/jwks.json"},
	{Name: "auth.pem", Type: "list", Description: "public key files (PEM), instead of or besides auth.jwks", Example: "[keys/idp.pem]"},
	{Name: "auth.leeway", Type: "duration", Default: "30s", Description: "clock skew tolerated on exp and nbf"},
	{Name: "auth.claims.organisations", Type: "text", Default: "org", Description: "name of the claim granting organisations: a string, a list or a space-separated string"},
	{Name: "auth.claims.categories", Type: "text", Default: "category", Description: "name of the claim granting categories (source-domains)"},
	{Name: "auth.claims.roles", Type: "text", Default: "roles", Description: "name of the claim holding roles (see read_roles)"},
	{Name: "auth.claims.scopes", Type: "text", Default: "scope", Description: "name of the claim holding OAuth2 scopes (SMART: system/Patient.read)"},
	{Name: "auth.read_roles", Type: "list", Default: "[fhir-reader]", Description: "roles that grant reading stored data by GET; SMART scopes system/<Type>.read or system/*.read grant it too"},
}

// sourceTLSFields are the keys of an HTTP source's tls block.
var sourceTLSFields = []engine.FieldSpec{
	{Name: "tls.cert", Type: "path", Required: true, Description: "serve HTTPS with this certificate (PEM) …", Example: "tls/server.pem"},
	{Name: "tls.key", Type: "path", Required: true, Description: "… and its key; ${file:…} and ${ENV} work here"},
	{Name: "tls.client_ca", Type: "path", Description: "require client certificates signed by these CAs (mutual TLS)", Example: "tls/clients.pem"},
}

// limitsFields are the keys of an HTTP source's limits block (shared by the listener's
// sources). Their defaults are defaultHTTPLimits.
var limitsFields = []engine.FieldSpec{
	{Name: "limits.read_header_timeout", Type: "duration", Default: "10s", Description: "time a client has to send the request headers (slow clients are cut off)"},
	{Name: "limits.read_timeout", Type: "duration", Default: "1m", Description: "time a client has to send the whole request"},
	{Name: "limits.write_timeout", Type: "duration", Default: "1m", Description: "time a client has to read the whole answer"},
	{Name: "limits.max_concurrent", Type: "number", Default: "512", Description: "requests served at once on the listener; more get 503 with Retry-After"},
	{Name: "limits.max_memory", Type: "size", DefaultNote: "512MB; a quarter of GOMEMLIMIT when that is set, and never less than 16 × the largest max_body", Description: "memory the listener's requests in progress may take, each charged 16 × its body (max_body when its length is not given); a request finding no room within a second gets 503 with Retry-After"},
}

// sourceSecurityFields are the keys every HTTP source carries: who may send (auth), HTTPS
// (tls) and the listener's limits.
var sourceSecurityFields = slices.Concat(authFields, sourceTLSFields, limitsFields)

// sourceLimits reads a source's limits block onto its listener (shared by its sources:
// they must agree) and raises the listener's maxBody to the source's max_body.
func sourceLimits(n *engine.Node, l *httpListener) {
	body := declaredMaxBody(n)
	l.maxBody = max(l.maxBody, body)
	m := n.Block("limits")
	if m == nil {
		if l.limits.maxMemory > 0 && engine.MemoryFactor*body > l.limits.maxMemory {
			at, path := n.Raw("max_body"), n.Path+".max_body"
			if at == nil {
				at, path = n.Y, n.Path
			}
			n.ErrorAt(at, path, "max_body %s needs %s of the listener's memory budget (%d × the body), more than its limits.max_memory of %s (%s): raise max_memory or lower max_body",
				humanSize(body), humanSize(engine.MemoryFactor*body), engine.MemoryFactor, humanSize(l.limits.maxMemory), l.limitsFrom)
		}
		return
	}
	lim := httpLimits{
		readHeaderTimeout: m.Dur("read_header_timeout"),
		readTimeout:       m.Dur("read_timeout"),
		writeTimeout:      m.Dur("write_timeout"),
		maxConcurrent:     m.Num("max_concurrent", 1),
		maxMemory:         m.Bytes("max_memory"),
	}
	m.CheckUnknown()
	where := fmt.Sprintf("%s:%d", n.File, m.Line())
	if l.limitsFrom != "" && l.limits != lim {
		m.Errorf("listener %s already has other limits (%s): sources sharing a listener share its limits", l.addr, l.limitsFrom)
		return
	}
	l.limits, l.limitsFrom = lim, where
	if need := engine.MemoryFactor * l.maxBody; lim.maxMemory > 0 && need > lim.maxMemory {
		m.ErrorAt(m.Raw("max_memory"), m.Path+".max_memory", "%s cannot hold one request of the listener's largest max_body, %s (each is charged %d × its body: %s): raise max_memory or lower max_body",
			humanSize(lim.maxMemory), humanSize(l.maxBody), engine.MemoryFactor, humanSize(need))
	}
}

// declaredMaxBody is a source's max_body, without reporting a bad value (its builder
// does that).
func declaredMaxBody(n *engine.Node) int64 {
	if y := n.Raw("max_body"); y != nil {
		if v, err := engine.ParseSize(y.Value); err == nil && v > 0 {
			return v
		}
	}
	return engine.DefaultMaxBody
}

// sourceAuth reads a source's auth block into a token verifier (nil: no checks, and
// `auth: none` says so explicitly; see authNone).
func sourceAuth(n *engine.Node, e *engine.Engine) *auth.Verifier {
	if authNone(n) {
		return nil
	}
	a := n.Block("auth")
	if a == nil {
		return nil
	}
	cfg := auth.BearerConfig{
		Issuer:    a.Str("issuer"),
		Audience:  a.Str("audience"),
		JWKS:      a.SecretStr("jwks"),
		PEM:       a.Strs("pem"),
		Leeway:    a.Dur("leeway"),
		BaseDir:   e.Dir,
		ReadRoles: a.Strs("read_roles"),
	}
	c := a.BlockOrEmpty("claims")
	cfg.OrgClaim, cfg.CategoryClaim = c.Str("organisations"), c.Str("categories")
	cfg.RoleClaim, cfg.ScopeClaim = c.Str("roles"), c.Str("scopes")
	c.CheckUnknown()
	if cfg.ReadRoles == nil {
		cfg.ReadRoles = []string{} // read_roles was not a list: reported
	}
	if cfg.JWKS == "" && len(cfg.PEM) == 0 {
		a.Errorf("expected jwks (a JWKS file or https URL) or pem (public key files) to check tokens with")
	}
	a.CheckUnknown()
	if cfg.Issuer == "" || cfg.Audience == "" || (cfg.JWKS == "" && len(cfg.PEM) == 0) {
		return nil
	}
	// A reload keeps the running verifier (and the keys it fetched) when the block is
	// unchanged: an identity provider unreachable for a moment does not refuse it.
	v, err := e.Carry("auth:"+e.Dir+":"+engine.Digest(a), func() (any, error) { return auth.NewVerifier(cfg) })
	if err != nil {
		a.Errorf("%v", err)
		return nil
	}
	return v.(*auth.Verifier)
}

// sourceTLS reads a source's tls block onto its listener. Sources sharing a listener must
// give it the same block.
func sourceTLS(n *engine.Node, e *engine.Engine, l *httpListener) {
	t := n.Block("tls")
	if t == nil {
		if l.tlsFrom != "" {
			n.Errorf("listener %s serves HTTPS (%s); give this source the same tls block", l.addr, l.tlsFrom)
		}
		return
	}
	cert, key, ca := readTLSFiles(t, e)
	if cert == "" || key == "" {
		return
	}
	cfg, err := auth.ServerTLSConfig(cert, key, ca)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	where := fmt.Sprintf("%s:%d", n.File, t.Line())
	switch {
	case l.tls == nil && l.tlsFrom == "":
		l.tls, l.tlsFrom = cfg, where
	case !sameTLS(l.tls, cfg):
		t.Errorf("listener %s already has another tls block (%s): sources sharing a listener share its TLS", l.addr, l.tlsFrom)
	}
}

// readTLSFiles reads a listener's tls block (cert, key, client_ca), relative to the
// configuration's folder.
func readTLSFiles(t *engine.Node, e *engine.Engine) (cert, key, clientCA string) {
	rel := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(e.Dir, p)
		}
		return p
	}
	cert, key, clientCA = rel(t.SecretStr("cert")), rel(t.SecretStr("key")), rel(t.SecretStr("client_ca"))
	t.CheckUnknown()
	return cert, key, clientCA
}

// sameTLS compares what matters of two server configurations built from files.
func sameTLS(a, b *tls.Config) bool {
	if a == nil || b == nil || a.ClientAuth != b.ClientAuth || len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		if !reflect.DeepEqual(a.Certificates[i].Certificate, b.Certificates[i].Certificate) {
			return false
		}
	}
	return true
}

// callerMeta adds who sent a request (token subject, client certificate) to its metadata.
func callerMeta(meta map[string]string, r *http.Request, g *auth.Grant) {
	if g != nil && g.Subject != "" {
		meta["token-subject"] = g.Subject
	}
	if s := auth.ClientSubject(r); s != "" {
		meta["client-subject"] = s
	}
}
