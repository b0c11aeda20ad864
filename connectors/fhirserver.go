package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"junction/engine"
)

// fhirServerFields are the fhir destination's keys: its Build reads them by these specs.
var fhirServerFields = []engine.FieldSpec{
	{Name: "url", Type: "url", Required: true, Description: "the server's FHIR base", Example: "http://hapi.example/fhir"},
	{Name: "mode", Type: "text", Default: "transaction", Values: []string{"transaction", "resources"}, Description: "transaction: POST Bundles to the base as they are; resources: PUT each entry's resource to {base}/{type}/{id} in order"},
	{Name: "headers", Type: "map", Description: "request headers, e.g. Authorization (use ${ENV} for secrets)", Example: "{ Authorization: Bearer xyz }"},
	{Name: "timeout", Type: "duration", Default: "30s", Description: "time allowed per request"},
}

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "fhir",
		Summary: "Sends FHIR to a FHIR server (HAPI or any other): a transaction or batch Bundle is POSTed to the server's base, a single resource with an id is PUT to {base}/{type}/{id}. A resourceType or id that is not one FHIR allows (an id is 1 to 64 of A-Z, a-z, 0-9, '-' and '.', and never \".\" or \"..\") is an ERROR at once, before anything is sent. 2xx is SENT; a 4xx is an ERROR at once with the server's OperationOutcome diagnostics; timeouts, connection errors, 408, 429 and 5xx are retried.",
		Fields:  fhirServerFields,
		Build:   buildFHIRServer,
	})
}

type fhirServer struct {
	base    string
	baseURL *url.URL
	mode    string
	headers http.Header
	client  *http.Client
}

func buildFHIRServer(n *engine.Node, _ *engine.Engine) engine.Destination {
	d := &fhirServer{headers: http.Header{}}
	n = n.WithSpec(fhirServerFields)
	d.base = strings.TrimRight(n.Str("url"), "/")
	if d.base != "" {
		u, err := url.Parse(d.base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || hasDotSegment(u.Path) {
			n.ErrorAt(n.Raw("url"), n.Path+".url", "expected the server's http:// or https:// FHIR base (no query, fragment, \".\" or \"..\" segment), got %q", d.base)
		}
		d.baseURL = u
	}
	d.mode = n.Choice("mode")
	for k, v := range n.SecretMap("headers") {
		d.headers.Set(k, v)
	}
	d.client = &http.Client{Timeout: n.Dur("timeout")}
	if d.base == "" {
		return nil
	}
	return d
}

func (d *fhirServer) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

// fhirContent is the part of a resource the destination needs to route it.
type fhirContent struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

func (d *fhirServer) Send(ctx context.Context, dl *engine.Delivery) engine.Outcome {
	var c fhirContent
	if err := json.Unmarshal(dl.Content, &c); err != nil || c.ResourceType == "" {
		return engine.Outcome{Err: fmt.Errorf("the content is not a FHIR resource in JSON (%v): convert it first, e.g. setBody(toFHIR())", err), Permanent: true}
	}
	if c.ResourceType == "Bundle" && (c.Type == "transaction" || c.Type == "batch") && d.mode == "transaction" {
		return d.do(ctx, http.MethodPost, d.base, dl.Content)
	}
	if c.ResourceType != "Bundle" || d.mode == "transaction" {
		target, err := d.resourceURL(c.ResourceType, c.ID)
		if err != nil {
			return engine.Outcome{Err: err, Permanent: true}
		}
		if c.ID == "" {
			return d.do(ctx, http.MethodPost, target, dl.Content)
		}
		return d.do(ctx, http.MethodPut, target, dl.Content)
	}
	// mode resources: each entry's resource by itself, in order; the first failure stops.
	// Every entry's URL is checked before the first is sent.
	entries := make([]fhirContent, len(c.Entry))
	targets := make([]string, len(c.Entry))
	for i, e := range c.Entry {
		r := &entries[i]
		if err := json.Unmarshal(e.Resource, r); err != nil || r.ResourceType == "" || r.ID == "" {
			return engine.Outcome{Err: fmt.Errorf("Bundle.entry[%d].resource: expected a resource with resourceType and id to PUT", i), Permanent: true}
		}
		target, err := d.resourceURL(r.ResourceType, r.ID)
		if err != nil {
			return engine.Outcome{Err: fmt.Errorf("Bundle.entry[%d].resource: %w; nothing was sent", i, err), Permanent: true}
		}
		targets[i] = target
	}
	var sent, responses bytes.Buffer
	for i, e := range c.Entry {
		r := entries[i]
		out := d.do(ctx, http.MethodPut, targets[i], e.Resource)
		sent.Write(out.Sent)
		sent.WriteString("\r\n\r\n")
		responses.Write(out.Response)
		responses.WriteString("\r\n\r\n")
		if out.Err != nil {
			out.Err = fmt.Errorf("Bundle.entry[%d] (%s/%s): %w", i, r.ResourceType, r.ID, out.Err)
			out.Sent, out.Response = sent.Bytes(), responses.Bytes()
			return out
		}
	}
	return engine.Outcome{Sent: sent.Bytes(), Response: responses.Bytes()}
}

// fhirTypeRe and fhirIDRe are the shapes of a resource type and of a logical id (FHIR R4
// id: [A-Za-z0-9\-\.]{1,64}). A type is checked by its shape, not against R4's list, so
// a server of another FHIR version or with custom resources is still reachable.
var (
	fhirTypeRe = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)
	fhirIDRe   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// resourceURL is {base}/{type}, or {base}/{type}/{id} when id is set. The type and id come
// from the content, so they are refused unless FHIR allows them: neither can then hold a
// "/", "?", "#" or "%", and an id of "." or ".." (which the id type allows) is refused too.
func (d *fhirServer) resourceURL(typ, id string) (string, error) {
	if !fhirTypeRe.MatchString(typ) {
		return "", fmt.Errorf("resourceType %q is refused: expected a FHIR resource type (a capital letter then letters, as Patient)", typ)
	}
	target := d.base + "/" + typ
	if id != "" {
		if !fhirIDRe.MatchString(id) || id == "." || id == ".." {
			return "", fmt.Errorf("%s.id %q is refused: expected a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-' and '.', and not \".\" or \"..\")", typ, id)
		}
		target += "/" + id
	}
	if err := within(target, d.baseURL, strings.TrimRight(d.baseURL.Path, "/")+"/"); err != nil {
		return "", err
	}
	return target, nil
}

// do makes one request; a 4xx is permanent and carries the server's diagnostics.
func (d *fhirServer) do(ctx context.Context, method, target string, body []byte) engine.Outcome {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return engine.Outcome{Err: err, Permanent: true}
	}
	for k, v := range d.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	out := engine.Outcome{Sent: describeRequest(req, body)}
	resp, err := d.client.Do(req)
	if err != nil {
		out.Err = err
		return out
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	out.Response = describeResponse(resp, rb)
	if err != nil {
		out.Err = fmt.Errorf("reading the response: %w", err)
		return out
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return out
	}
	out.Err = fmt.Errorf("%s %s answered %s%s", method, target, resp.Status, outcomeDiagnostics(rb))
	out.Permanent = !retryableStatus(resp.StatusCode)
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
			out.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return out
}

// outcomeDiagnostics lists an OperationOutcome's error diagnostics, for the log.
func outcomeDiagnostics(body []byte) string {
	var oo struct {
		ResourceType string
		Issue        []struct {
			Severity, Diagnostics string
			Location              []string
		}
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return ""
	}
	var parts []string
	for _, i := range oo.Issue {
		if i.Severity != "error" && i.Severity != "fatal" {
			continue
		}
		p := i.Diagnostics
		if len(i.Location) > 0 {
			p += " (at " + strings.Join(i.Location, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}
