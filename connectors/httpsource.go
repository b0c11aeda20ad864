package connectors

// What the HTTP sources ($ingest, fhir-bundle) and the FHIR store's read API share:
// reading a body, the metadata kept of a request, FHIR error answers.

import (
	"io"
	"net/http"
	"strings"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
)

const fhirJSON = "application/fhir+json;charset=utf-8"

// issue is an error issue.
func issue(code, diagnostics string) fhir.Issue {
	return fhir.Issue{Severity: fhir.SeverityError, Code: code, Diagnostics: diagnostics}
}

// writeOutcome answers with an OperationOutcome of issues.
func writeOutcome(w http.ResponseWriter, status int, issues ...fhir.Issue) {
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(status)
	w.Write(fhir.NewOutcome(issues...).JSON())
}

// requestMeta keeps the request's headers (lower-cased, credentials left out) and source facts.
func requestMeta(req *http.Request, grant *auth.Grant) map[string]string {
	m := make(map[string]string, len(req.Header)+2)
	for k, v := range req.Header {
		switch k {
		case "Authorization", "Cookie", "Proxy-Authorization", "Content-Length", "Accept-Encoding", "Connection":
			continue
		}
		m[lowerHeader(k)] = strings.Join(v, ", ")
	}
	m["remote-addr"] = req.RemoteAddr
	callerMeta(m, req, grant)
	return m
}

// lowerHeader is strings.ToLower for a canonical header name, without allocating for the
// ones every request carries.
func lowerHeader(k string) string {
	switch k {
	case hdrSourceDomain:
		return "source-domain"
	case hdrOrgCode:
		return "organisation-code"
	case hdrDataType:
		return "data-type"
	case "Content-Type":
		return "content-type"
	case "User-Agent":
		return "user-agent"
	}
	return strings.ToLower(k)
}

// readBody reads the request body up to limit, in one allocation when the length is known.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(rawWriter(w), req.Body, limit) // rawWriter: metrics.go
	if n := req.ContentLength; n > 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(r)
}

// lineOf is the line of key in n, or of n itself when key is absent.
func lineOf(n *engine.Node, key string) int {
	if y := n.Raw(key); y != nil {
		return y.Line
	}
	return n.Line()
}
