package alerts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"

	"junction/engine"
)

// Subject is an alert e-mail's subject line: its state, the alert and what it is about,
// e.g. "[Junction] FIRING lab-down: lab → lis: destination failing".
func Subject(n Notice) string {
	state := strings.ToUpper(n.State)
	if n.Reminder {
		state = "STILL FIRING"
	}
	about := n.Channel
	if about == "" {
		about = "all channels"
	}
	if n.Destination != "" {
		about += " → " + n.Destination
	}
	return fmt.Sprintf("[Junction] %s %s: %s: %s", state, n.Alert, about, strings.ReplaceAll(n.Condition, "_", " "))
}

// emailBody is the notice in plain text.
func emailBody(n Notice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Alert:       %s\n", n.Alert)
	fmt.Fprintf(&b, "State:       %s", n.State)
	if n.Reminder {
		b.WriteString(" (reminder: still active)")
	}
	fmt.Fprintf(&b, "\nCondition:   %s\n", n.Description)
	if n.Channel != "" {
		fmt.Fprintf(&b, "Channel:     %s\n", n.Channel)
	}
	if n.Destination != "" {
		fmt.Fprintf(&b, "Destination: %s\n", n.Destination)
	}
	fmt.Fprintf(&b, "Since:       %s\n", n.Since.Format(time.RFC3339))
	if n.ResolvedAt != nil {
		fmt.Fprintf(&b, "Resolved:    %s\n", n.ResolvedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "Detail:      %s\n\nMessages:    %s\n\n-- \nJunction node %s\n", n.Detail, n.URL, n.Node)
	return b.String()
}

// message is the whole RFC 5322 message of a notice.
func message(from string, em *engine.EmailNotify, n Notice) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	domain := "junction"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(em.To, ", "))
	if len(em.Cc) > 0 {
		h("Cc", strings.Join(em.Cc, ", "))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", Subject(n)))
	h("Date", n.At.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("X-Junction-Alert", n.Alert)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(emailBody(n), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sendEmail sends a notice through cfg's server: STARTTLS (required when cfg.StartTLS),
// AUTH PLAIN when a username is set, then the message, all within cfg.Timeout.
func sendEmail(ctx context.Context, cfg *engine.SMTPConfig, em *engine.EmailNotify, n Notice) error {
	if cfg == nil {
		return errors.New("no smtp block in the configuration")
	}
	msg, err := message(cfg.From, em, n)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A runner stopping (its context cancelled) ends the conversation at once.
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close()
	if err := converse(c, cfg, em, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	return nil
}

func converse(c *smtp.Client, cfg *engine.SMTPConfig, em *engine.EmailNotify, msg []byte) error {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if err := c.Hello(host); err != nil {
		return err
	}
	if cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS (set smtp.starttls: false only for a relay on a trusted network)")
		}
		tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return fmt.Errorf("smtp.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("smtp.ca_file %s: no PEM certificate in it", cfg.CAFile)
			}
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("AUTH PLAIN as %s: %w", cfg.Username, err)
		}
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return fmt.Errorf("smtp.from: %w", err)
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range append(append([]string(nil), em.To...), em.Cc...) {
		a, err := mail.ParseAddress(to)
		if err != nil {
			return fmt.Errorf("recipient %q: %w", to, err)
		}
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}
