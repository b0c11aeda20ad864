package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// ServerTLSConfig is the TLS configuration of a listener serving cert and key (PEM files;
// the cert file may hold the chain). With clientCA set (a PEM file of CA certificates),
// every client must present a certificate issued by one of them. TLS 1.2 at least.
func ServerTLSConfig(cert, key, clientCA string) (*tls.Config, error) {
	if cert == "" || key == "" {
		return nil, errors.New("tls needs both cert and key (PEM files)")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("tls cert %s and key %s: %v", cert, key, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
	}
	if clientCA != "" {
		data, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("tls client_ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls client_ca %s: no CERTIFICATE found, expected PEM CA certificates", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientSubject is the subject of the client certificate the connection verified
// ("CN=lab-gateway,O=Hospital"), "" without one.
func ClientSubject(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.String()
}
