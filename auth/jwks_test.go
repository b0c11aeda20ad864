package auth

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a key set over real TLS on loopback, counting fetches; the set can be
// changed while it runs.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int32
	caFile  string
}

func startJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: 200}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// A JWKS over https is fetched at start with the configured CA, and fetched again when a
// token names an unknown key id, at most once per RefreshInterval.
func TestJWKSOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	old := newKey(t, dir, "ec", "old")
	rotated := newKey(t, dir, "rsa", "rotated")
	srv := startJWKSServer(t, jwksJSON(t, old))

	v := newVerifier(t, BearerConfig{JWKS: srv.URL + "/realms/exchange/protocol/openid-connect/certs", CAFile: srv.caFile, RefreshInterval: time.Hour})
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches at start, expected 1", n)
	}
	if _, err := v.Verify(sign(t, old, "", goodClaims(), nil)); err != nil {
		t.Fatalf("token from the first key: %v", err)
	}

	// The identity server rotates its key. Tokens with the new kid make the verifier reload.
	srv.set(200, jwksJSON(t, old, rotated))
	// Last fetched just now, but the refresh interval is an hour: pretend the last try was long ago.
	v.mu.Lock()
	v.triedAt = time.Now().Add(-2 * time.Hour)
	v.mu.Unlock()
	if _, err := v.Verify(sign(t, rotated, "", goodClaims(), nil)); err != nil {
		t.Fatalf("token from the rotated key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the unknown kid, expected 2", n)
	}
	// Unknown key ids again: no fetch within the refresh interval, so a flood of made-up
	// key ids cannot hammer the identity server.
	stranger := newKey(t, dir, "ec", "stranger")
	for range 5 {
		_, err := v.Verify(sign(t, stranger, "", goodClaims(), nil))
		if StatusOf(err) != 401 || !strings.Contains(err.Error(), `unknown key id "`+stranger.kid+`"`) {
			t.Fatalf("stranger: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the stranger's tokens, expected still 2", n)
	}
}

// With a short refresh interval, each unknown kid after it reloads; a failed reload keeps
// the old keys and shows in the refusal.
func TestJWKSRefreshInterval(t *testing.T) {
	dir := t.TempDir()
	k1 := newKey(t, dir, "ec", "k1")
	k2 := newKey(t, dir, "ec", "k2")
	srv := startJWKSServer(t, jwksJSON(t, k1))
	v := newVerifier(t, BearerConfig{JWKS: srv.URL, CAFile: srv.caFile, RefreshInterval: 50 * time.Millisecond})

	srv.set(503, []byte("down"))
	time.Sleep(60 * time.Millisecond)
	_, err := v.Verify(sign(t, k2, "", goodClaims(), nil))
	if err == nil || !strings.Contains(err.Error(), "the last reload of the key set failed") || !strings.Contains(err.Error(), "503 Service Unavailable, expected 200 OK") {
		t.Fatalf("during the outage: %v", err)
	}
	if _, err := v.Verify(sign(t, k1, "", goodClaims(), nil)); err != nil {
		t.Fatalf("the old key after a failed reload: %v", err)
	}
	srv.set(200, jwksJSON(t, k1, k2))
	time.Sleep(60 * time.Millisecond)
	if _, err := v.Verify(sign(t, k2, "", goodClaims(), nil)); err != nil {
		t.Fatalf("after the identity server is back: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, expected 3", n)
	}
}

// A stale key set (older than MaxKeyAge) is reloaded, so a key removed at the identity
// server stops verifying.
func TestJWKSMaxKeyAge(t *testing.T) {
	dir := t.TempDir()
	k1 := newKey(t, dir, "ec", "k1")
	k2 := newKey(t, dir, "ec", "k2")
	srv := startJWKSServer(t, jwksJSON(t, k1, k2))
	v := newVerifier(t, BearerConfig{JWKS: srv.URL, CAFile: srv.caFile, RefreshInterval: time.Millisecond, MaxKeyAge: 50 * time.Millisecond})
	tok := sign(t, k1, "", goodClaims(), nil)
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	srv.set(200, jwksJSON(t, k2)) // k1 revoked
	time.Sleep(60 * time.Millisecond)
	if _, err := v.Verify(tok); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("a revoked key after MaxKeyAge: %v", err)
	}
}

// The server's certificate must be trusted: without the CA file the fetch fails at start.
func TestJWKSUntrustedServer(t *testing.T) {
	dir := t.TempDir()
	srv := startJWKSServer(t, jwksJSON(t, newKey(t, dir, "ec", "k")))
	_, err := NewVerifier(BearerConfig{Issuer: testIssuer, Audience: testAudience, JWKS: srv.URL, FetchTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: %v", err)
	}
	bad := filepath.Join(dir, "notca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	_, err = NewVerifier(BearerConfig{Issuer: testIssuer, Audience: testAudience, JWKS: srv.URL, CAFile: bad})
	if err == nil || !strings.Contains(err.Error(), "no CERTIFICATE found") {
		t.Errorf("CA file without certificates: %v", err)
	}
}

// A JWKS file is read again on an unknown kid too, so a key added to it is picked up.
func TestJWKSFileReload(t *testing.T) {
	dir := t.TempDir()
	k1 := newKey(t, dir, "ec", "k1")
	k2 := newKey(t, dir, "ec", "k2")
	file := writeJWKS(t, dir, k1)
	v := newVerifier(t, BearerConfig{JWKS: file, RefreshInterval: time.Millisecond})
	writeJWKS(t, dir, k1, k2)
	time.Sleep(2 * time.Millisecond)
	if _, err := v.Verify(sign(t, k2, "", goodClaims(), nil)); err != nil {
		t.Errorf("a key added to the file: %v", err)
	}
	if err := v.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}

// Many requests at once, some with unknown key ids, while the key set is reloaded: no race,
// and the known key keeps verifying throughout.
func TestJWKSConcurrentVerify(t *testing.T) {
	dir := t.TempDir()
	k1 := newKey(t, dir, "ec", "k1")
	k2 := newKey(t, dir, "ec", "k2")
	srv := startJWKSServer(t, jwksJSON(t, k1))
	v := newVerifier(t, BearerConfig{JWKS: srv.URL, CAFile: srv.caFile, RefreshInterval: time.Millisecond, MaxKeyAge: 5 * time.Millisecond})
	good := sign(t, k1, "", goodClaims(), nil)
	later := sign(t, k2, "", goodClaims(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 8 {
		wg.Go(func() {
			for j := range 25 {
				if i == 0 && j == 10 {
					srv.set(200, jwksJSON(t, k1, k2))
				}
				if _, err := v.Verify(good); err != nil {
					errs <- err
				}
				v.Verify(later) // unknown until the set changes; either answer is fine
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("the known key failed: %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := v.Verify(later); err != nil {
		t.Errorf("the added key after the reloads: %v", err)
	}
}
