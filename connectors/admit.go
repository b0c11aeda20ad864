package connectors

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"junction/auth"
)

// A listener charges each request with a body against its memory budget before its
// routes read the body (httpListener.admit). Sources that check tokens check them
// first, from the headers alone, so that a sender without a valid token holds nothing of
// the budget while its body (slowly, perhaps) arrives.

// addAdmit adds f to the checks l makes before charging a request; each sees the request
// the previous one let through.
func addAdmit(l *httpListener, f func(w http.ResponseWriter, r *http.Request) (*http.Request, bool)) {
	prev := l.admit
	if prev == nil {
		l.admit = f
		return
	}
	l.admit = func(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
		r, ok := prev(w, r)
		if !ok {
			return nil, false
		}
		return f(w, r)
	}
}

// grantKey carries an admitted request's grant to its handler.
type grantKey struct{}

// admittedGrant is the grant admit found for req, if any.
func admittedGrant(req *http.Request) (*auth.Grant, bool) {
	g, ok := req.Context().Value(grantKey{}).(*auth.Grant)
	return g, ok
}

// headOfBody is what a refusal reads of the body: enough for the control id in MSH-10.
const headOfBody = 4 << 10

// admit checks the token of a $ingest request for a route that wants one before the
// body is read; a refusal is answered (AR, naming the control id when the first bytes of
// the body hold it) after reading at most headOfBody bytes. Envelope mistakes are left to
// the handler, which answers them with their own errors.
func (h *ingestHandler) admit(w http.ResponseWriter, req *http.Request) (*http.Request, bool) {
	if req.Method != http.MethodPost || req.URL.Path != ingestPath {
		return req, true
	}
	dataType := req.Header.Get(hdrDataType)
	route := h.table.routes[[2]string{req.Header.Get(hdrSourceDomain), dataType}]
	if route == nil || route.verifier == nil {
		return req, true
	}
	grant, reply := h.authorize(req, route)
	if reply == nil {
		return req.WithContext(context.WithValue(req.Context(), grantKey{}, grant)), true
	}
	// A second at most for the head: a refused sender holds nothing for long.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Second))
	head, _ := io.ReadAll(io.LimitReader(req.Body, headOfBody))
	noteIngest(req, route, reply) // metrics.go
	h.respond(w, req, route, dataType, head, nil, reply)
	return nil, false
}

// admit checks, on an endpoint whose every channel checks tokens, that a PUT or POST
// carries a valid one before its body is read (which channel's grant it needs depends on
// the Bundle, checked later).
func (ep *bundleEndpoint) admit(w http.ResponseWriter, req *http.Request) (*http.Request, bool) {
	if (req.Method != http.MethodPut && req.Method != http.MethodPost) || !strings.HasPrefix(req.URL.Path, ep.base+"/") {
		return req, true
	}
	if !ep.tokenForAny(w, req) {
		return nil, false
	}
	return req, true
}
