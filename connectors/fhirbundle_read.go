package connectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
)

// Reads of the Care Gateway's stored Bundles, and the token checks its other routes share.

// read is GET {base}/Bundle/{id}: a stored Bundle, to a token valid for the channel that
// took it, granting reads and the organisations managing its citizens (as its PUT did);
// to anyone where that channel's source says auth: none.
func (ep *bundleEndpoint) read(w http.ResponseWriter, req *http.Request) {
	if !ep.knownType(w, req) {
		return
	}
	if !ep.anyOpenReads() {
		if _, err := authorizeRead(ep.verifiers(), req, "Bundle"); err != nil {
			ep.refuseRead(w, req, err)
			return
		}
	}
	key := "Bundle/" + chi.URLParam(req, "id")
	id, err := ep.eng.Store().MessageByKey(req.Context(), key)
	var m *engine.MessageDetail
	if err == nil {
		m, err = ep.eng.Store().GetMessage(req.Context(), id)
	}
	if err == nil {
		err = ep.authorizeStoredRead(req, m)
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeOutcome(w, http.StatusNotFound, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeNotFound, Diagnostics: fmt.Sprintf("Resource %s is not known", key)})
		return
	case auth.StatusOf(err) < 500:
		ep.refuseRead(w, req, err)
		return
	case err != nil:
		ep.eng.Log.Error("cannot read a stored Bundle", "key", key, "err", err)
		writeOutcome(w, http.StatusServiceUnavailable, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeTransient, Diagnostics: "the store cannot be read now: try again later"})
		return
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.Header().Set("ETag", `W/"1"`)
	w.Header().Set("Last-Modified", m.ReceivedAt.UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Location", ep.base+"/"+key+"/_history/1")
	w.Write([]byte(m.Raw))
}

// authorizeStoredRead checks a read of the stored Bundle m against the route of the
// channel that took it.
func (ep *bundleEndpoint) authorizeStoredRead(req *http.Request, m *engine.MessageDetail) error {
	var route *bundleRoute
	for _, r := range ep.routes {
		if r.channel.Name == m.Channel {
			route = r
		}
	}
	switch {
	case route != nil && route.openReads:
		return nil
	case route == nil || route.verifier == nil:
		// Its channel is gone, or takes Bundles without tokens: reads were not opened.
		return &auth.AuthError{Status: http.StatusForbidden, Reason: "reading stored Bundles is not enabled on this server"}
	}
	g, err := authorizeRead([]*auth.Verifier{route.verifier}, req, "Bundle")
	if err != nil {
		return err
	}
	var bundle map[string]any
	if json.Unmarshal([]byte(m.Raw), &bundle) != nil {
		return &auth.AuthError{Status: http.StatusForbidden, Reason: "the stored Bundle names no organisation the token could be checked against"}
	}
	for _, org := range managingOrganisations(bundle) {
		if err := g.AllowsOrganisation(org); err != nil {
			// Not the reader's citizen: answered as unknown, so that a refusal neither
			// confirms the Bundle nor names its municipality.
			ep.eng.Log.Info("read refused", "key", "Bundle/"+m.ControlID, "subject", g.Subject, "reason", err.Error())
			return engine.ErrNotFound
		}
	}
	return nil
}

// tokenForAny checks, where every channel of the endpoint checks tokens, that the request
// carries one valid for some channel ($validate stores nothing, so no grant is needed).
// On refusal it has answered.
func (ep *bundleEndpoint) tokenForAny(w http.ResponseWriter, req *http.Request) bool {
	vs := ep.verifiers()
	if len(vs) < len(ep.routes) {
		return true
	}
	var refusal error
	for _, v := range vs {
		if _, refusal = v.VerifyRequest(req); refusal == nil {
			return true
		}
	}
	ep.refuseRead(w, req, refusal)
	return false
}

// verifiers are the token verifiers of the endpoint's channels.
func (ep *bundleEndpoint) verifiers() []*auth.Verifier {
	var vs []*auth.Verifier
	for _, r := range ep.routes {
		if r.verifier != nil {
			vs = append(vs, r.verifier)
		}
	}
	return vs
}

// anyOpenReads reports whether a channel of the endpoint serves its Bundles to anyone.
func (ep *bundleEndpoint) anyOpenReads() bool {
	return slices.ContainsFunc(ep.routes, func(r *bundleRoute) bool { return r.openReads })
}

// refuseRead answers a refused read and logs why.
func (ep *bundleEndpoint) refuseRead(w http.ResponseWriter, req *http.Request, err error) {
	ep.eng.Log.Info("read refused", "path", req.URL.Path, "status", auth.StatusOf(err), "reason", err.Error(), "remote", req.RemoteAddr)
	writeReadRefusal(w, err)
}
