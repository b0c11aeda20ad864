package fhirstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"junction/fhir"
)

// API serves a store's read, vread, history and search interactions over HTTP, as the
// Healthcare Exchange's FHIR facade does: GET {base}/{type}/{id}, {base}/{type}/{id}/_history,
// {base}/{type}/{id}/_history/{vid}, {base}/{type}?params and {base}/metadata. Writes come
// through Apply only: other methods are answered 405.
//
// The routes are registered before the store is opened (configuration is loaded before
// anything starts), so the store is set later; until then requests get 503.
type API struct {
	base  string // "" for the root, else "/fhir"-like, without a trailing slash
	store atomic.Pointer[Store]
	caps  []byte // the CapabilityStatement
	guard Guard
}

// Guard decides whether a request may read resources of resourceType; when it may not, it
// answers the request itself (401, 403) and returns false. metadata is not guarded.
type Guard func(w http.ResponseWriter, req *http.Request, resourceType string) bool

// SetGuard makes every read, history and search pass g first. Call it before Register.
func (a *API) SetGuard(g Guard) { a.guard = g }

// NewAPI makes an API serving under base (e.g. "/" or "/fhir").
func NewAPI(base string) *API {
	a := &API{base: strings.TrimSuffix("/"+strings.Trim(base, "/"), "/")}
	a.caps = capabilityStatement()
	return a
}

// Base is the path the API serves under, "" for the root.
func (a *API) Base() string { return a.base }

// SetStore makes the API serve s (nil: answer 503 again, e.g. after s is closed).
func (a *API) SetStore(s *Store) { a.store.Store(s) }

// Patterns are the chi patterns Register adds, metadata's first.
func (a *API) Patterns() []string {
	p := a.base
	return []string{p + "/metadata", p + "/{type}", p + "/{type}/{id}", p + "/{type}/{id}/_history", p + "/{type}/{id}/_history/{vid}"}
}

// Register adds the API's routes to r. The patterns are static or parameters below base,
// so routes r already has (e.g. /$ingest) keep winning: chi tries static segments first.
// metadata is false when something else already answers {base}/metadata.
func (a *API) Register(r chi.Router, metadata bool) {
	p := a.Patterns()
	if metadata {
		r.Handle(p[0], a.handle(a.metadata))
	}
	r.Handle(p[1], a.guarded(a.handle(a.search)))
	r.Handle(p[2], a.guarded(a.handle(a.read)))
	r.Handle(p[3], a.guarded(a.handle(a.history)))
	r.Handle(p[4], a.guarded(a.handle(a.vread)))
}

// guarded passes requests the guard lets through (all, without one) to h.
func (a *API) guarded(h http.Handler) http.Handler {
	if a.guard == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if a.guard(w, req, chi.URLParam(req, "type")) {
			h.ServeHTTP(w, req)
		}
	})
}

// handle answers what every route shares: the method, _format, a store not yet open.
func (a *API) handle(h func(http.ResponseWriter, *http.Request, *Store)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeOutcome(w, &Error{Status: http.StatusMethodNotAllowed, Code: fhir.CodeNotSupported,
				Msg: fmt.Sprintf("%s is not supported on %s: this FHIR store is read-only over HTTP (GET); resources are written by its channel", req.Method, req.URL.Path)})
			return
		}
		if f := req.URL.Query().Get("_format"); f != "" && !jsonFormat(f) {
			writeOutcome(w, &Error{Status: http.StatusNotAcceptable, Code: fhir.CodeNotSupported,
				Msg: fmt.Sprintf("_format=%s is not supported: this server answers JSON only (_format=json)", f)})
			return
		}
		s := a.store.Load()
		if s == nil {
			writeOutcome(w, &Error{Status: http.StatusServiceUnavailable, Code: fhir.CodeTransient, Msg: "the FHIR store is not open: the engine is starting or stopping"})
			return
		}
		h(w, req, s)
	})
}

func jsonFormat(f string) bool {
	switch f {
	case "json", "application/json", "application/fhir+json", "application/fhir json":
		return true // a '+' in a query is a space once decoded
	}
	return false
}

func (a *API) read(w http.ResponseWriter, req *http.Request, s *Store) {
	rtype, id := chi.URLParam(req, "type"), chi.URLParam(req, "id")
	if !a.checkID(w, rtype, id) {
		return
	}
	r, err := s.Read(req.Context(), rtype, id)
	if err != nil {
		writeOutcome(w, err)
		return
	}
	writeResource(w, r)
}

func (a *API) vread(w http.ResponseWriter, req *http.Request, s *Store) {
	rtype, id, vid := chi.URLParam(req, "type"), chi.URLParam(req, "id"), chi.URLParam(req, "vid")
	if !a.checkID(w, rtype, id) {
		return
	}
	v, err := strconv.Atoi(vid)
	if err != nil || v < 1 {
		writeOutcome(w, invalid("version %q in %s is not a version number (expected 1, 2, ...)", vid, req.URL.Path))
		return
	}
	r, err := s.VRead(req.Context(), rtype, id, v)
	if err != nil {
		writeOutcome(w, err)
		return
	}
	writeResource(w, r)
}

func (a *API) history(w http.ResponseWriter, req *http.Request, s *Store) {
	rtype, id := chi.URLParam(req, "type"), chi.URLParam(req, "id")
	if !a.checkID(w, rtype, id) {
		return
	}
	q := req.URL.Query()
	count, offset, err := pageParams(q, "_count", "_offset", "_format", "_pretty")
	if err != nil {
		writeOutcome(w, err)
		return
	}
	page, herr := s.History(req.Context(), rtype, id, offset, count)
	if herr != nil {
		writeOutcome(w, herr)
		return
	}
	writeJSON(w, http.StatusOK, history(a.baseURL(req), a.links(req, page), page))
}

func (a *API) search(w http.ResponseWriter, req *http.Request, s *Store) {
	page, err := s.Search(req.Context(), chi.URLParam(req, "type"), req.URL.Query())
	if err != nil {
		writeOutcome(w, err)
		return
	}
	writeJSON(w, http.StatusOK, searchset(a.baseURL(req), a.links(req, page), page))
}

func (a *API) metadata(w http.ResponseWriter, req *http.Request, _ *Store) {
	writeJSON(w, http.StatusOK, a.caps)
}

// checkID answers the URLs that name an operation or a type-level interaction this store
// does not have (Patient/_history, Patient/$everything) before they read as ids.
func (a *API) checkID(w http.ResponseWriter, rtype, id string) bool {
	if strings.HasPrefix(id, "_") || strings.HasPrefix(id, "$") {
		writeOutcome(w, notSupported("%s/%s is not supported by this store (it serves read, vread, instance history and search)", rtype, id))
		return false
	}
	return true
}

// pageParams reads _count (default 20, as search's; at most maxCount) and _offset for
// history, refusing anything else.
func pageParams(q url.Values, allowed ...string) (count, offset int, err *Error) {
	count = defaultCount
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return 0, 0, invalid("parameter %q is not supported on history (expected _count or _offset)", k)
		}
		n, cerr := strconv.Atoi(vs[0])
		switch {
		case k != "_count" && k != "_offset":
		case cerr != nil || n < 0:
			return 0, 0, invalid("%s must be a whole number of 0 or more, got %q", k, vs[0])
		case k == "_count":
			count = min(n, maxCount)
		default:
			offset = n
		}
	}
	return count, offset, nil
}

// baseURL is the absolute URL of the base, for fullUrl and links.
func (a *API) baseURL(req *http.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host + a.base
}

// links are self, and previous and next when there are such pages: the request's URL
// with _offset (and _count) set.
func (a *API) links(req *http.Request, page *Page) []link {
	origin := strings.TrimSuffix(a.baseURL(req), a.base)
	at := func(offset int) string {
		q := req.URL.Query()
		q.Set("_offset", strconv.Itoa(offset))
		if page.Count >= 0 {
			q.Set("_count", strconv.Itoa(page.Count))
		}
		return origin + req.URL.Path + "?" + q.Encode()
	}
	links := []link{{"self", origin + req.URL.RequestURI()}}
	if page.Offset > 0 && page.Count > 0 {
		links = append(links, link{"previous", at(max(0, page.Offset-page.Count))})
	}
	if next := page.Next(); next >= 0 {
		links = append(links, link{"next", at(next)})
	}
	return links
}

func writeResource(w http.ResponseWriter, r *Resource) {
	w.Header().Set("ETag", etag(r.Version))
	w.Header().Set("Last-Modified", r.LastUpdated.Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, r.JSON)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// writeOutcome answers an error as an OperationOutcome: an *Error with its status, any
// other (the disk, the database) with 500.
func writeOutcome(w http.ResponseWriter, err error) {
	var fe *Error
	if !errors.As(err, &fe) {
		// The database's own words are for the operator's log, not for readers.
		slog.Error("the FHIR store could not answer a request", "err", err)
		fe = &Error{Status: http.StatusInternalServerError, Code: fhir.CodeException, Msg: "the FHIR store could not answer this request: try again later"}
	}
	writeJSON(w, fe.Status, fe.Outcome())
}
