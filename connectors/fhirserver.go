package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"junction/engine"
)

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "fhir",
		Summary: "Sends FHIR to a FHIR server (HAPI or any other): a transaction or batch Bundle is POSTed to the server's base, a single resource with an id is PUT to {base}/{type}/{id}. 2xx is SENT; a 4xx is an ERROR at once with the server's OperationOutcome diagnostics; timeouts, connection errors, 408, 429 and 5xx are retried.",
		Fields: []engine.FieldSpec{
			{Name: "url", Type: "url", Required: true, Description: "the server's FHIR base", Example: "http://hapi.example/fhir"},
			{Name: "mode", Type: "text", Default: "transaction", Description: "transaction: POST Bundles to the base as they are; resources: PUT each entry's resource to {base}/{type}/{id} in order"},
			{Name: "headers", Type: "map", Description: "request headers, e.g. Authorization (use ${ENV} for secrets)", Example: "{ Authorization: Bearer xyz }"},
			{Name: "timeout", Type: "duration", Default: "30s", Description: "time allowed per request"},
		},
		Build: buildFHIRServer,
	})
}

type fhirServer struct {
	base    string
	mode    string
	headers http.Header
	client  *http.Client
}

func buildFHIRServer(n *engine.Node, _ *engine.Engine) engine.Destination {
	d := &fhirServer{headers: http.Header{}}
	d.base = strings.TrimRight(n.String("url", true, ""), "/")
	if d.base != "" {
		if u, err := url.Parse(d.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			n.ErrorAt(n.Raw("url"), n.Path+".url", "expected the server's http:// or https:// FHIR base, got %q", d.base)
		}
	}
	d.mode = n.OneOf("mode", "transaction", "transaction", "resources")
	for k, v := range n.SecretMap("headers") {
		d.headers.Set(k, v)
	}
	d.client = &http.Client{Timeout: n.Duration("timeout", 30*time.Second)}
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
		if c.ID == "" {
			return d.do(ctx, http.MethodPost, d.base+"/"+c.ResourceType, dl.Content)
		}
		return d.do(ctx, http.MethodPut, d.base+"/"+c.ResourceType+"/"+url.PathEscape(c.ID), dl.Content)
	}
	// mode resources: each entry's resource by itself, in order; the first failure stops.
	var sent, responses bytes.Buffer
	for i, e := range c.Entry {
		var r fhirContent
		if err := json.Unmarshal(e.Resource, &r); err != nil || r.ResourceType == "" || r.ID == "" {
			return engine.Outcome{Err: fmt.Errorf("Bundle.entry[%d].resource: expected a resource with resourceType and id to PUT", i), Permanent: true}
		}
		out := d.do(ctx, http.MethodPut, d.base+"/"+r.ResourceType+"/"+url.PathEscape(r.ID), e.Resource)
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
