package connectors

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"junction/engine"
	"junction/hl7"
	"junction/transforms"
)

// httpFields are the http destination's keys: its Build reads them by these specs.
var httpFields = []engine.FieldSpec{
	{Name: "url", Type: "url", Required: true, Description: "http:// or https:// address; {control_id} is replaced by the message's control id (MSH-10, or a FHIR resource id), {id} by its message id, in the path (path-escaped; a value that is or holds a \".\" or \"..\" segment, or is empty, is an ERROR) or the query (query-escaped), never in the host", Example: "http://flis.example/fhir/Bundle/{control_id}"},
	{Name: "method", Type: "text", Default: "POST", Values: []string{"POST", "PUT"}, Description: "POST or PUT"},
	{Name: "headers", Type: "map", Description: "fixed request headers; ${ENV} and ${file:…} work in the values", Example: "{ source-domain: emergency-care }"},
	{Name: "forward_headers", Type: "list", Description: "headers copied from the message's source metadata (e.g. source-domain, organisation-code, data-type)"},
	{Name: "content_type", Type: "text", DefaultNote: "text/plain; charset=utf-8 (application/fhir+json for FHIR)", Description: "Content-Type of the request"},
	{Name: "timeout", Type: "duration", Default: "30s", Description: "time allowed for the whole exchange"},
	{Name: "check_ack", Type: "bool", Default: "true", Description: "when the response body is an HL7 ACK, treat AE/AR/CE/CR as an error"},
}

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "http",
		Summary: "Sends each message as the body of an HTTP request. 2xx is SENT; timeouts, connection errors, 408, 425, 429 and 5xx (but 501, 505) are retried; any other status, or an HL7 ACK answering AE/AR, is an ERROR at once.",
		Fields:  httpFields,
		Build:   buildHTTP,
	})
}

// maxResponse bounds how much of a response is read and logged.
const maxResponse = 1 << 20

type httpDestination struct {
	url         *urlTemplate
	method      string
	headers     http.Header
	forward     []string
	contentType string
	checkACK    bool
	client      *http.Client
}

func buildHTTP(n *engine.Node, _ *engine.Engine) engine.Destination {
	n = n.WithSpec(httpFields)
	d := &httpDestination{headers: http.Header{}}
	if raw := n.Str("url"); raw != "" {
		u, err := parseURLTemplate(raw)
		if err != nil {
			n.ErrorAt(n.Raw("url"), n.Path+".url", "%v", err)
		}
		d.url = u
	}
	d.method = n.Choice("method")
	for k, v := range n.SecretMap("headers") {
		d.headers.Set(k, v)
	}
	d.forward = n.Strs("forward_headers")
	d.contentType = n.Str("content_type")
	d.checkACK = n.Flag("check_ack")
	timeout := n.Dur("timeout")
	d.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
	}
	if d.url == nil {
		return nil
	}
	return d
}

func (d *httpDestination) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

func (d *httpDestination) Send(ctx context.Context, dl *engine.Delivery) engine.Outcome {
	target, err := d.url.fill(map[string]string{"{control_id}": dl.ControlID, "{id}": strconv.FormatInt(dl.MessageID, 10)})
	if err != nil {
		return engine.Outcome{Err: err, Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, d.method, target, bytes.NewReader(dl.Content))
	if err != nil {
		return engine.Outcome{Err: err, Permanent: true}
	}
	for k, v := range d.headers {
		req.Header[k] = v
	}
	if len(d.forward) > 0 {
		meta, err := dl.Meta()
		if err != nil {
			return engine.Outcome{Err: err, Permanent: true}
		}
		for _, h := range d.forward {
			if v, ok := meta[strings.ToLower(h)]; ok {
				req.Header.Set(h, v)
			}
		}
	}
	switch {
	case d.contentType != "":
		req.Header.Set("Content-Type", d.contentType)
	case req.Header.Get("Content-Type") != "":
	case dl.DataType == transforms.FHIR:
		req.Header.Set("Content-Type", "application/fhir+json")
	default:
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	out := engine.Outcome{Sent: describeRequest(req, dl.Content)}
	resp, err := d.client.Do(req)
	if err != nil {
		out.Err = err
		return out
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	out.Response = describeResponse(resp, body)
	if err != nil {
		out.Err = fmt.Errorf("reading the response: %w", err)
		return out
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		out.Err = fmt.Errorf("%s answered %s", req.URL, resp.Status)
		out.Permanent = !retryableStatus(resp.StatusCode)
		if s := resp.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
				out.RetryAfter = time.Duration(secs) * time.Second
			}
		}
		return out
	}
	if d.checkACK && bytes.HasPrefix(body, []byte("MSH")) {
		if code, _, text, err := hl7.ParseACK(body); err == nil {
			switch code {
			case "AE", "AR", "CE", "CR":
				out.Err = fmt.Errorf("%s answered %s: %s", req.URL, code, text)
				out.Permanent = true
			}
		}
	}
	return out
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500
}

// describeRequest is the "sent" stage: request line, headers and body, as an operator
// would want to see them.
func describeRequest(req *http.Request, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", req.Method, req.URL.String())
	writeHeaders(&b, req.Header)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

func describeResponse(resp *http.Response, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\r\n", resp.Proto, resp.Status)
	writeHeaders(&b, resp.Header)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

func writeHeaders(b *bytes.Buffer, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		if k == "Authorization" || k == "Proxy-Authorization" || k == "Cookie" {
			v = "[redacted]"
		}
		fmt.Fprintf(b, "%s: %s\r\n", k, v)
	}
}
