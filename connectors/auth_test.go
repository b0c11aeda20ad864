package connectors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/auth"
	"junction/engine"
)

// authKeys makes an identity server's key pair (and a stranger's) in a temp folder.
func authKeys(t *testing.T) (dir string, keys, other *auth.KeyFiles) {
	dir = t.TempDir()
	keys, err := auth.GenerateKeys(filepath.Join(dir, "idp"), "ES256")
	if err != nil {
		t.Fatal(err)
	}
	other, err = auth.GenerateKeys(filepath.Join(dir, "other"), "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return dir, keys, other
}

func token(t *testing.T, key string, c auth.TokenClaims) string {
	t.Helper()
	if c.Issuer == "" {
		c.Issuer = "https://idp.example/realms/exchange"
	}
	if c.Audience == "" {
		c.Audience = "junction"
	}
	if c.Subject == "" {
		c.Subject = "trust-epr"
	}
	tok, err := auth.SignToken(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Every refusal of the issue: 401 with WWW-Authenticate for a bad token, 403 naming the
// missing grant, an AR ACK either way, and nothing processed.
func TestIngestBearerRefusals(t *testing.T) {
	_, keys, other := authKeys(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      auth:
        issuer: https://idp.example/realms/exchange
        audience: junction
        jwks: `+keys.JWKS+`
        claims: { organisations: org, categories: category }
    destinations:
      - { name: archive, type: file, dir: out }
`)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	good := auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}}
	expired := good
	expired.TTL = -time.Minute
	notYet := good
	notYet.NotBefore = time.Now().Add(time.Hour)
	wrongIss := good
	wrongIss.Issuer = "https://evil.example"
	wrongAud := good
	wrongAud.Audience = "someone-else"
	otherOrg := auth.TokenClaims{Organisations: []string{"xyz"}, Categories: []string{"emergency-care"}}
	otherCat := auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"maternity"}}
	header := func(h string) map[string]string { return headers("Authorization", h) }
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"iss":"https://idp.example/realms/exchange","aud":"junction","org":"r0d","category":"emergency-care","exp":9999999999}`)) + "."
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		want   string
	}{
		{"no token", headers(), 401, "no bearer token"},
		{"malformed", header("Bearer not.a.jwt"), 401, ""},
		{"not bearer", header("Basic dXNlcjpwdw=="), 401, ""},
		{"bad signature", header("Bearer " + token(t, other.Private, auth.TokenClaims{KeyID: keys.KeyID, Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}})), 401, ""},
		{"unknown key id", header("Bearer " + token(t, other.Private, good)), 401, "unknown key id"},
		{"alg none", header("Bearer " + algNone), 401, ""},
		{"expired", header("Bearer " + token(t, keys.Private, expired)), 401, "expired"},
		{"not yet valid", header("Bearer " + token(t, keys.Private, notYet)), 401, ""},
		{"wrong issuer", header("Bearer " + token(t, keys.Private, wrongIss)), 401, "issuer"},
		{"wrong audience", header("Bearer " + token(t, keys.Private, wrongAud)), 401, "audience"},
		{"organisation not granted", header("Bearer " + token(t, keys.Private, otherOrg)), 403, "does not grant organisation"},
		{"category not granted", header("Bearer " + token(t, keys.Private, otherCat)), 403, "does not grant category (source-domain)"},
		{"granted", header("Bearer " + token(t, keys.Private, good)), 200, "accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := post(t, url, "POST", c.hdr, adtA01)
			if status != c.status {
				t.Fatalf("status %d, want %d: %q", status, c.status, body)
			}
			if status == 401 && !strings.Contains(hdr.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
			}
			wantCode := "AR"
			if status == 200 {
				wantCode = "AA"
			}
			if !strings.Contains(body, "\rMSA|"+wantCode+"|8457239|") || !strings.Contains(body, c.want) {
				t.Errorf("ACK %q, want %s mentioning %q", body, wantCode, c.want)
			}
			if status != 200 && hdr.Get("Junction-Message-Id") != "" {
				t.Error("a refused message was processed")
			}
			if strings.Contains(body, "eyJ") {
				t.Error("the answer repeats the token")
			}
		})
	}
}

// The Care Gateway's token must grant the municipality managing the citizen.
func TestBundleMunicipalityGrant(t *testing.T) {
	_, keys, _ := authKeys(t)
	pkgs, _ := filepath.Abs("../fhir/packages")
	eng := runRoutes(t, fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "%[1]s/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "%[1]s/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "%[1]s/hl7.fhir.dk.core#1.1.0.tgz"
      auth: { issuer: "https://idp.example/realms/exchange", audience: junction, pem: [%[2]s] }
`, pkgs, keys.Public))
	base := "http://" + eng.BoundAddr("HTTP") + "/fhir/Bundle/"
	bundle := seedBundle(t)
	other := token(t, keys.Private, auth.TokenClaims{Organisations: []string{"999999999999999"}})
	status, hdr, body := request(t, "PUT", base+seedID, "application/fhir+json", bundle, "Authorization", "Bearer "+other)
	if status != 403 || !strings.Contains(body, `organisation \"123456789012345\"`) || !strings.Contains(hdr.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("other municipality: %d %s %q", status, body, hdr.Get("WWW-Authenticate"))
	}
	status, _, body = request(t, "PUT", base+seedID, "application/fhir+json", bundle)
	if status != 401 {
		t.Fatalf("no token: %d %s", status, body)
	}
	mine := token(t, keys.Private, auth.TokenClaims{Organisations: []string{"123456789012345"}})
	if status, _, body = request(t, "PUT", base+seedID, "application/fhir+json", bundle, "Authorization", "Bearer "+mine); status != 201 {
		t.Fatalf("granted: %d %s", status, body)
	}
}

// tlsFiles writes a CA, a server certificate for 127.0.0.1 and a client certificate.
func tlsFiles(t *testing.T) (dir string, caPool *x509.CertPool, client tls.Certificate) {
	dir = t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
	}
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(n int64, cn string, usage x509.ExtKeyUsage, ips bool) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		if ips {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	srvDER, srvKey := issue(2, "junction", x509.ExtKeyUsageServerAuth, true)
	write("server.pem", "CERTIFICATE", srvDER)
	kb, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	write("server.key", "PRIVATE KEY", kb)
	cliDER, cliKey := issue(3, "trust-epr", x509.ExtKeyUsageClientAuth, false)
	caPool = x509.NewCertPool()
	caPool.AddCert(caCert)
	client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return dir, caPool, client
}

// Mutual TLS: without a client certificate the handshake fails; with one the message is
// taken and its certificate's subject is in the message's metadata.
func TestIngestMutualTLS(t *testing.T) {
	dir, pool, client := tlsFiles(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      tls: { cert: `+dir+`/server.pem, key: `+dir+`/server.key, client_ca: `+dir+`/ca.pem }
`)
	url := "https://" + eng.BoundAddr("HTTP") + "/$ingest"
	send := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		req, _ := http.NewRequest("POST", url, strings.NewReader(adtA01))
		for k, v := range headers() {
			req.Header.Set(k, v)
		}
		return c.Do(req)
	}
	if resp, err := send(nil); err == nil {
		resp.Body.Close()
		t.Fatalf("without a client certificate: %s, want a failed handshake", resp.Status)
	}
	resp, err := send([]tls.Certificate{client})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with a client certificate: %s", resp.Status)
	}
	var id int64
	fmt.Sscan(resp.Header.Get("Junction-Message-Id"), &id)
	m, err := eng.Store().GetMessage(t.Context(), id)
	if err != nil || !strings.Contains(m.Meta["client-subject"], "trust-epr") {
		t.Fatalf("message meta %v, %v: want the client certificate's subject", m, err)
	}
}

// Secrets come from the environment (or files), never in clear: an unset variable is a
// config error at its line.
func TestSecretsFromEnvironment(t *testing.T) {
	routes := `channels:
  - name: c
    source: { type: ingest, listen: "127.0.0.1:0", domain: d }
    destinations:
      - name: out
        type: http
        url: http://127.0.0.1:9/in
        headers: { Authorization: "Bearer ${JUNCTION_TEST_SECRET}" }
`
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	os.Unsetenv("JUNCTION_TEST_SECRET")
	_, err := engine.Load(file)
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:8:") || !strings.Contains(err.Error(), "JUNCTION_TEST_SECRET") {
		t.Fatalf("unset variable: %v", err)
	}
	t.Setenv("JUNCTION_TEST_SECRET", "s3cret")
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if h := eng.Channels()[0].Destinations[0].Dest.(*httpDestination).headers.Get("Authorization"); h != "Bearer s3cret" {
		t.Fatalf("Authorization = %q", h)
	}
}

// Listener limits: a client that holds a request open takes a slot, so with
// max_concurrent 1 the next request gets 503 at once; a client that never finishes its
// headers is cut off.
func TestListenerLimits(t *testing.T) {
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      limits: { max_concurrent: 1, read_header_timeout: 300ms, read_timeout: 5s }
`)
	addr := eng.BoundAddr("HTTP")
	// A request whose body never fully arrives holds the only slot.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /$ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nsource-domain: emergency-care\r\norganisation-code: r0d\r\ndata-type: Hl7v2\r\nContent-Length: 1000\r\n\r\nMSH|")
	var status int
	var body string
	waitFor(t, "a 503 while the slot is held", func() bool {
		status, _, body = post(t, "http://"+addr+"/$ingest", "POST", headers(), adtA01)
		return status == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "limit 1") {
		t.Errorf("503 body %q does not name the limit", body)
	}
	slow.Close()
	waitFor(t, "the slot to be free again", func() bool {
		status, _, _ = post(t, "http://"+addr+"/$ingest", "POST", headers(), adtA01)
		return status == http.StatusOK
	})

	// Headers that never end: the server closes the connection.
	dribble, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer dribble.Close()
	fmt.Fprintf(dribble, "POST /$ingest HTTP/1.1\r\nHost: x\r\n")
	dribble.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := dribble.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a connection whose headers never ended")
			}
			break // closed by the server
		}
	}
}
