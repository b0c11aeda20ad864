package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a real CA with the certificates it issued, written to PEM files.
type pki struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate
}

func newCA(t *testing.T, dir, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &pki{dir: dir, cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	os.WriteFile(ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return ca
}

// issue makes a certificate for a server (127.0.0.1) or a client, returning its files.
func (ca *pki) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name, Organization: []string{"Hospital"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(ca.dir, name+".crt"), filepath.Join(ca.dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// serveTLS runs a real HTTPS server on loopback answering with the client's subject.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "subject=%s", ClientSubject(r))
		}),
		ErrorLog:          newDiscardLogger(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

func client(t *testing.T, ca *pki, certFile, keyFile string, maxVersion uint16) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cfg := &tls.Config{RootCAs: pool, MaxVersion: maxVersion}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// With client_ca, only clients with a certificate from that CA get through, and their
// subject is known to the handler.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "junction-ca")
	clientsCA := newCA(t, dir, "clients-ca")
	strangerCA := newCA(t, dir, "stranger-ca")
	serverCert, serverKey := ca.issue(t, "server", true)
	labCert, labKey := clientsCA.issue(t, "lab-gateway", false)
	evilCert, evilKey := strangerCA.issue(t, "evil", false)

	cfg, err := ServerTLSConfig(serverCert, serverKey, clientsCA.file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("min version %x, client auth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	url := serveTLS(t, cfg)

	body, err := get(client(t, ca, labCert, labKey, 0), url)
	if err != nil || body != "subject=CN=lab-gateway,O=Hospital" {
		t.Errorf("with a client certificate: %q %v", body, err)
	}
	if body, err := get(client(t, ca, "", "", 0), url); err == nil {
		t.Errorf("without a client certificate: answered %q", body)
	}
	if body, err := get(client(t, ca, evilCert, evilKey, 0), url); err == nil {
		t.Errorf("with a certificate from another CA: answered %q", body)
	}
	if body, err := get(client(t, ca, labCert, labKey, tls.VersionTLS11), url); err == nil {
		t.Errorf("over TLS 1.1: answered %q", body)
	}

	// Without client_ca, TLS alone: no client certificate needed, and no subject.
	plain, err := ServerTLSConfig(serverCert, serverKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(client(t, ca, "", "", 0), serveTLS(t, plain)); err != nil || body != "subject=" {
		t.Errorf("server TLS only: %q %v", body, err)
	}
	if s := ClientSubject(&http.Request{}); s != "" {
		t.Errorf("ClientSubject without TLS: %q", s)
	}
}

func TestServerTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	cert, key := ca.issue(t, "server", true)
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	for _, c := range []struct{ cert, key, ca, want string }{
		{"", key, "", "tls needs both cert and key"},
		{cert, filepath.Join(dir, "missing.key"), "", "missing.key"},
		{cert, key, filepath.Join(dir, "missing-ca.pem"), "tls client_ca: open"},
		{cert, key, notPEM, "no CERTIFICATE found"},
	} {
		if _, err := ServerTLSConfig(c.cert, c.key, c.ca); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ServerTLSConfig(%q, %q, %q) = %v, expected %q", c.cert, c.key, c.ca, err, c.want)
		}
	}
}
