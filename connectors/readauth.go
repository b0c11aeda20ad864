package connectors

import (
	"net/http"

	"gopkg.in/yaml.v3"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
)

// Reads of stored data (a stored Bundle, the FHIR store's read and search) pass the same
// bearer-token checks as the writes of the listener they are served on, plus a read grant
// (auth.AllowsRead: a read role or a SMART read scope). Where no source on the listener
// checks tokens, reads are served only when the configuration says `auth: none`.

// authNone reports whether n says `auth: none`: open on purpose.
func authNone(n *engine.Node) bool {
	y := n.Raw("auth")
	return y != nil && y.Kind == yaml.ScalarNode && y.Value == "none"
}

// authorizeRead checks a read of resourceType against verifiers: the token must be valid
// for one of them and grant the read. Without verifiers it refuses: the caller decides
// beforehand whether reads are open.
func authorizeRead(verifiers []*auth.Verifier, req *http.Request, resourceType string) (*auth.Grant, error) {
	var refusal error
	for _, v := range verifiers {
		g, err := v.VerifyRequest(req)
		if err == nil {
			err = g.AllowsRead(resourceType)
		}
		if err == nil {
			return g, nil
		}
		// A valid token without the grant says more than another verifier's "bad token".
		if refusal == nil || auth.StatusOf(err) == http.StatusForbidden {
			refusal = err
		}
	}
	if refusal == nil {
		refusal = &auth.AuthError{Status: http.StatusForbidden, Reason: "reads are not served here"}
	}
	return nil, refusal
}

// writeReadRefusal answers a refused read with an OperationOutcome (401 with
// WWW-Authenticate, or 403 naming the missing grant).
func writeReadRefusal(w http.ResponseWriter, err error) {
	status, code := auth.StatusOf(err), fhir.CodeLogin
	if status == http.StatusForbidden {
		code = fhir.CodeForbidden
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", auth.WWWAuthenticate(err))
	}
	writeOutcome(w, status, issue(code, err.Error()))
}

// warnOpenSource warns (junction check prints it, serve logs it) about a source that
// checks no tokens; reads names the stored data its listener serves because of it, if any.
func warnOpenSource(n *engine.Node, e *engine.Engine, v *auth.Verifier, reads string) {
	switch {
	case v != nil:
	case authNone(n) && reads != "":
		e.Warn(n, n.Raw("auth"), n.Path+".auth", "auth: none: anyone who can reach this listener may send, and read %s (patient data)", reads)
	case authNone(n):
		e.Warn(n, n.Raw("auth"), n.Path+".auth", "auth: none: anyone who can reach this listener may send")
	case reads != "":
		e.Warn(n, nil, n.Path, "no auth block: anyone who can reach this listener may send; %s are not served (add an auth block, or auth: none to serve them to anyone)", reads)
	default:
		e.Warn(n, nil, n.Path, "no auth block: anyone who can reach this listener may send (add an auth block, or auth: none to say this is meant)")
	}
}
