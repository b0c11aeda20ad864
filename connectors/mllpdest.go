package connectors

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"junction/engine"
	"junction/hl7"
	"junction/mllp"
)

// mllpDestFields are the mllp destination's keys: its Build reads them by these specs.
var mllpDestFields = []engine.FieldSpec{
	{Name: "address", Type: "host:port", Required: true, Description: "where the receiving system listens", Example: "lab.example:2575"},
	{Name: "ack_timeout", Type: "duration", Default: "30s", Description: "time allowed from writing a message to reading its ACK; longer is retried on a new connection"},
	{Name: "on_nak", Type: "text", Default: "error", Values: []string{"error", "retry"}, Description: "what an AE/AR (or CE/CR) ACK makes of the delivery: error (ERROR at once, as Mirth does by default) or retry (retried with the destination's backoff)"},
	{Name: "max_message_bytes", Type: "size", Default: "10MB", Description: "largest ACK taken"},
	{Name: "tls", Type: "mapping", Description: "connect over TLS (tls: {} trusts the system's roots)", Example: "{ ca: tls/lab-ca.pem }"},
	{Name: "tls.ca", Type: "path", DefaultNote: "the system's roots", Description: "connect over TLS, trusting these CAs (PEM); tls: {} uses the system's roots"},
	{Name: "tls.cert", Type: "path", Description: "client certificate (PEM) for mutual TLS …"},
	{Name: "tls.key", Type: "path", Description: "… and its key; ${file:…} and ${ENV} work here"},
	{Name: "tls.server_name", Type: "text", DefaultNote: "the host of address", Description: "the name the server's certificate must hold"},
}

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "mllp",
		Summary: "Sends each HL7v2 message over MLLP on one persistent connection (TCP or TLS) and waits for its ACK before the next. AA/CA is SENT; AE/AR/CE/CR follow on_nak; no answer in time, an answer that is not an ACK or an ACK for another message is retried (on a new connection). FHIR or CSV content is an ERROR at once.",
		Fields:  mllpDestFields,
		Build:   buildMLLPDestination,
	})
}

type mllpDestination struct {
	addr     string
	tls      *tls.Config
	opts     mllp.ClientOptions
	retryNAK bool
	client   *mllp.Client
}

func buildMLLPDestination(n *engine.Node, e *engine.Engine) engine.Destination {
	n = n.WithSpec(mllpDestFields)
	d := &mllpDestination{}
	d.addr = n.Str("address")
	if d.addr != "" {
		if host, port, err := net.SplitHostPort(d.addr); err != nil || host == "" || port == "" {
			n.ErrorAt(n.Raw("address"), n.Path+".address", "expected host:port, such as lab.example:2575, got %q", d.addr)
		}
	}
	d.opts.AckTimeout = n.Dur("ack_timeout")
	if y := n.Raw("ack_timeout"); y != nil && d.opts.AckTimeout == 0 {
		n.ErrorAt(y, n.Path+".ack_timeout", "must be longer than 0")
	}
	d.opts.MaxMessageBytes = int(min(n.Bytes("max_message_bytes"), 1<<30))
	d.retryNAK = n.Choice("on_nak") == "retry"
	if t := n.Block("tls"); t != nil {
		rel := func(p string) string {
			if p != "" && !filepath.IsAbs(p) {
				return filepath.Join(e.Dir, p)
			}
			return p
		}
		ca, cert, key := rel(t.SecretStr("ca")), rel(t.SecretStr("cert")), rel(t.SecretStr("key"))
		name := t.Str("server_name")
		t.CheckUnknown()
		cfg, err := ClientTLSConfig(ca, cert, key, name)
		if err != nil {
			t.Errorf("%v", err)
		}
		d.tls = cfg
	}
	if d.addr == "" {
		return nil
	}
	return d
}

// ClientTLSConfig is the TLS configuration of a client trusting the CAs in caFile (PEM;
// "" for the system's roots), presenting the certificate in certFile and keyFile for
// mutual TLS (both or neither), and checking serverName ("" for the host dialled).
func ClientTLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls ca %s: no CERTIFICATE found, expected PEM CA certificates", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert %s and key %s: %v", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case certFile != "" || keyFile != "":
		return nil, errors.New("tls needs both cert and key (PEM files) for a client certificate, or neither")
	}
	return cfg, nil
}

// Start makes the client; it connects on the first send (the receiver may be down now:
// the queue's retries reach it later).
func (d *mllpDestination) Start() error {
	d.client = mllp.NewClient(d.addr, d.tls, d.opts)
	return nil
}

func (d *mllpDestination) Close() error {
	if d.client != nil {
		d.client.Close()
	}
	return nil
}

// reconnect replaces the connection: after an answer that was not for the message sent,
// the stream cannot be trusted to pair answers with messages any more.
func (d *mllpDestination) reconnect() {
	d.client.Close()
	d.client = mllp.NewClient(d.addr, d.tls, d.opts)
}

func (d *mllpDestination) Send(ctx context.Context, dl *engine.Delivery) engine.Outcome {
	if d.client == nil {
		d.Start()
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(dl.Content, []byte("\ufeff")), " \t\r\n")
	h, ok := readMSH(body)
	if !ok && (bytes.HasPrefix(body, []byte("BHS")) || bytes.HasPrefix(body, []byte("FHS"))) {
		return engine.Outcome{Err: errors.New("the content is an HL7v2 batch: an mllp destination sends one message per delivery (an mllp source splits batches into their messages)"), Permanent: true}
	}
	if !ok {
		return engine.Outcome{Err: fmt.Errorf("the content is not an HL7v2 message (it starts %s): an mllp destination sends HL7v2 only; if the channel's transform turns it into FHIR (toFHIR()), send that with an http or fhir destination", snippetOf(body[:min(len(body), 20)])), Permanent: true}
	}
	controlID := h.component(10, 1)
	// Content is UTF-8 in Junction; it goes out in the character set its MSH-18 names,
	// its segments ending with CR as MLLP receivers expect.
	out := engine.Outcome{}
	wire := crSegments(body)
	if cs, known := hl7.LookupCharset(h.component(18, 1)); known && h.component(18, 1) != "" {
		wire = cs.Encode(wire)
	}
	if !bytes.Equal(wire, dl.Content) {
		out.Encoded = wire
	}
	answer, err := d.client.Send(ctx, wire)
	if err != nil {
		out.Err = err
		out.Permanent = errors.Is(err, mllp.ErrEndBlockInMessage)
		return out
	}
	text, _, _ := hl7.DecodeCharset(answer)
	out.Response = text
	code, ref, msg, err := hl7.ParseACK(text)
	switch {
	case err != nil:
		d.reconnect()
		out.Err = fmt.Errorf("%s answered with something that is not an ACK: %v", d.addr, err)
	case ref != controlID:
		d.reconnect()
		out.Err = fmt.Errorf("%s answered with an ACK for another message (MSA-2 %q, sent MSH-10 %q)", d.addr, ref, controlID)
	case code == "AA" || code == "CA":
	default:
		out.Err = fmt.Errorf("%s answered %s: %s", d.addr, code, msg)
		out.Permanent = !d.retryNAK
	}
	return out
}

var (
	_ engine.Starter = (*mllpDestination)(nil)
	_ engine.Closer  = (*mllpDestination)(nil)
)

// crSegments ends every segment of msg with CR (not LF or CRLF), returning msg itself when
// it does already.
func crSegments(msg []byte) []byte {
	if bytes.IndexByte(msg, '\n') < 0 {
		return msg
	}
	out := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\r"))
	return bytes.ReplaceAll(out, []byte("\n"), []byte("\r"))
}
