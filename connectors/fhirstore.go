package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
	"junction/fhirstore"
)

// fhirStoreFields are the fhir-store destination's keys: its Build reads them by these specs.
var fhirStoreFields = slices.Concat([]engine.FieldSpec{
	{Name: "path", Type: "path", Default: "data/fhir.db", Description: "the store's SQLite file, created if missing; relative to the routes.yaml folder. Destinations naming the same file share its contents"},
	{Name: "serve.listen", Type: "address", Required: true, Description: "serve GET {base}/{type}/{id}, .../_history, .../_history/{vid}, {base}/{type}?params and {base}/metadata on this host:port; a source's listen address shares its listener", Example: "127.0.0.1:8000"},
	{Name: "serve.base", Type: "path", Default: "/", Description: "the API's base path, e.g. / (GET /Patient?_id=...) or /fhir", Example: "/fhir"},
	{Name: "serve.auth", Type: "mapping or none", DefaultNote: "the auth of the listener's sources", Description: "who may read: by default a bearer token valid for a source on the same listener, granting a read role or SMART read scope (see the sources' auth.read_roles); an auth block of its own (as a source's); or none to serve patient data to anyone (junction check warns). A listener where no source checks tokens needs one of the two", Example: "none"},
}, engine.Prefixed("serve.", authFields[1:]))

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "fhir-store",
		Summary: "Stores FHIR resources in Junction's own versioned FHIR R4 store, a SQLite file: each message, a transaction or batch Bundle (such as toFHIR() makes) or a single resource with an id, is applied in one transaction. Optionally serves read, vread, history and search over HTTP, as the Healthcare Exchange's FHIR facade does. A message the store refuses (not FHIR, a bad entry) is an ERROR at once.",
		Fields:  fhirStoreFields,
		Build:   buildFHIRStore,
	})
}

type fhirStoreDestination struct {
	path  string
	store *fhirstore.Store // open between Start and Close

	// Set when serving: the API, its listener, the base it claims there and where this
	// destination is written, for other destinations' errors.
	api      *fhirstore.API
	listener *httpListener
	base     string // "/" or e.g. "/fhir"
	where    string
}

func buildFHIRStore(n *engine.Node, e *engine.Engine) engine.Destination {
	n = n.WithSpec(fhirStoreFields)
	d := &fhirStoreDestination{path: n.Str("path")}
	if strings.TrimSpace(d.path) == "" {
		n.ErrorAt(n.Raw("path"), n.Path+".path", "must not be empty (expected a SQLite file name such as data/fhir.db)")
	}
	if !filepath.IsAbs(d.path) {
		d.path = filepath.Join(e.Dir, d.path)
	}
	if sv := n.Block("serve"); sv != nil {
		listen := sv.Address("listen")
		base := sv.Str("base")
		if !strings.HasPrefix(base, "/") || strings.ContainsAny(base, "{}*?# \t") {
			sv.ErrorAt(sv.Raw("base"), sv.Path+".base", "expected a URL path such as / or /fhir, got %q", base)
		} else if listen != "" {
			d.serve(sv, e, listen, base)
		}
		sv.CheckUnknown()
	}
	return d
}

// serve registers the API on the listener, unless something already serves its base
// there. Sources built later are checked again by Start.
func (d *fhirStoreDestination) serve(sv *engine.Node, e *engine.Engine, listen, base string) {
	l := httpListenerFor(e, listen, sv.Raw("listen").Line, sv.Path+".listen")
	api := fhirstore.NewAPI(base)
	api.SetGuard(readGuard(sv, e, l))
	shown := api.Base()
	if shown == "" {
		shown = "/"
	}
	d.where = fmt.Sprintf("the fhir-store destination at %s:%d", sv.File, sv.Line())
	// Errors point at base, or at listen when base is left to its default.
	at, path := sv.Raw("base"), sv.Path+".base"
	if at == nil {
		at, path = sv.Raw("listen"), sv.Path+".listen"
	}
	if other := d.otherClaim(l, shown); other != "" {
		sv.ErrorAt(at, path, "%s on %s is already served by %s: give this store another serve.base", shown, listen, other)
		return
	}
	for _, pattern := range api.Patterns()[1:] {
		probe := strings.NewReplacer("{type}", "Patient", "{id}", "x", "{vid}", "1").Replace(pattern)
		if found := l.router.Find(chi.NewRouteContext(), "GET", probe); found != "" {
			sv.ErrorAt(at, path, "GET %s on %s is already routed (to %s): give this store another serve.base", probe, listen, found)
			return
		}
	}
	// A source on this base may answer metadata for itself: then it keeps it.
	metadata := l.router.Find(chi.NewRouteContext(), "GET", api.Patterns()[0]) == ""
	api.Register(l.router, metadata)
	l.stores[shown] = d
	d.api, d.listener, d.base = api, l, shown
}

// readGuard reads serve.auth: who may read the store over HTTP (see the serve.auth field).
func readGuard(sv *engine.Node, e *engine.Engine, l *httpListener) fhirstore.Guard {
	if authNone(sv) {
		e.Warn(sv, sv.Raw("auth"), sv.Path+".auth", "auth: none: anyone who can reach %s may read this FHIR store (patient data)", l.addr)
		return nil
	}
	var own []*auth.Verifier
	if sv.Has("auth") {
		v := sourceAuth(sv, e)
		if v == nil {
			return nil // its errors are reported
		}
		own = []*auth.Verifier{v}
	} else {
		// The listener's sources may be built after this destination.
		e.AfterLoad(func() {
			if len(l.verifiers) == 0 {
				sv.ErrorAt(sv.Raw("listen"), sv.Path+".listen", "serves patient data on %s, where no source checks tokens: give serve an auth block (as a source's), or auth: none to serve it to anyone", l.addr)
			}
		})
	}
	return func(w http.ResponseWriter, req *http.Request, resourceType string) bool {
		vs := own
		if vs == nil {
			vs = l.verifiers
		}
		if _, err := authorizeRead(vs, req, resourceType); err != nil {
			e.Log.Info("read refused", "path", req.URL.Path, "status", auth.StatusOf(err), "reason", err.Error(), "remote", req.RemoteAddr)
			writeReadRefusal(w, err)
			return false
		}
		return true
	}
}

// otherClaim names what else serves base on l ("" when nothing): another FHIR store or a
// fhir-bundle source.
func (d *fhirStoreDestination) otherClaim(l *httpListener, base string) string {
	if other := l.stores[base]; other != nil && other != d {
		return other.where
	}
	if l.bundles[base] != nil {
		return "a fhir-bundle source"
	}
	return ""
}

// StoreFile is the store's SQLite file (junction store check reads it).
func (d *fhirStoreDestination) StoreFile() string { return d.path }

// Start opens the store (not Build: `junction check` opens nothing), after checking that
// no source built after this destination took its base.
func (d *fhirStoreDestination) Start() error {
	if d.api != nil {
		if other := d.otherClaim(d.listener, d.base); other != "" {
			return fmt.Errorf("serve.base %s on %s is also served by %s: give this store another serve.base", d.base, d.listener.addr, other)
		}
	}
	st, err := openFHIRStore(d.path)
	if err != nil {
		return err
	}
	d.store = st
	if d.api != nil {
		d.api.SetStore(st)
	}
	return nil
}

// Close gives the store up: it closes (and the read API stops serving) when no
// destination of a newer configuration uses the same file.
func (d *fhirStoreDestination) Close() error {
	if d.store == nil {
		return nil
	}
	last, err := closeFHIRStore(d.store)
	if last && d.api != nil {
		d.api.SetStore(nil)
	}
	d.store = nil
	return err
}

// The FHIR stores open, by file, with how many destinations use each: across a reload
// the new configuration's destination opens the store before the old one closes it,
// and reads the old configuration's API is still answering go on.
var (
	fhirStoresMu sync.Mutex
	fhirStores   = map[string]*openFHIRStoreFile{}
)

type openFHIRStoreFile struct {
	st   *fhirstore.Store
	path string
	refs int
}

// openFHIRStore opens the store at path, or shares the one open.
func openFHIRStore(path string) (*fhirstore.Store, error) {
	fhirStoresMu.Lock()
	defer fhirStoresMu.Unlock()
	if o := fhirStores[path]; o != nil {
		o.refs++
		return o.st, nil
	}
	st, err := fhirstore.Open(path)
	if err != nil {
		return nil, err
	}
	fhirStores[path] = &openFHIRStoreFile{st: st, path: path, refs: 1}
	return st, nil
}

// closeFHIRStore gives st up, closing it when it was the last use (last).
func closeFHIRStore(st *fhirstore.Store) (last bool, err error) {
	fhirStoresMu.Lock()
	defer fhirStoresMu.Unlock()
	for path, o := range fhirStores {
		if o.st != st {
			continue
		}
		if o.refs--; o.refs > 0 {
			return false, nil
		}
		delete(fhirStores, path)
		return true, st.Close()
	}
	return true, st.Close()
}

func (d *fhirStoreDestination) Send(ctx context.Context, dl *engine.Delivery) engine.Outcome {
	if bytes.HasPrefix(bytes.TrimLeft(dl.Content, "\ufeff \r\n\t"), []byte("MSH")) {
		return engine.Outcome{Permanent: true, Err: errors.New("the fhir-store destination takes FHIR JSON, but this message is HL7v2: convert it in the channel's transform with setBody(toFHIR())")}
	}
	resp, err := d.store.Apply(ctx, dl.Content)
	out := engine.Outcome{Response: resp}
	var fe *fhirstore.Error
	switch {
	case errors.As(err, &fe) && fe.Status < 500:
		out.Err, out.Permanent = fmt.Errorf("the FHIR store refused the message: %s", fe.Msg), true
	case err != nil:
		out.Err = err // the disk or the database: worth retrying
	default:
		if failed := failedEntries(resp); failed != "" {
			// The rest of the batch is stored; resending re-applies it harmlessly (an
			// identical PUT makes no version).
			out.Err, out.Permanent = fmt.Errorf("the FHIR store applied the batch but refused %s", failed), true
		}
	}
	return out
}

// failedEntries lists the entries of a batch-response that failed, "" when none did (a
// transaction-response never has any: a transaction fails whole).
func failedEntries(resp []byte) string {
	if !bytes.Contains(resp, []byte(`"batch-response"`)) {
		return ""
	}
	var r struct {
		Entry []struct {
			Response struct {
				Status  string
				Outcome struct {
					Issue []struct{ Diagnostics string }
				}
			}
		}
	}
	if json.Unmarshal(resp, &r) != nil {
		return ""
	}
	var failed []string
	for _, e := range r.Entry {
		if !strings.HasPrefix(e.Response.Status, "2") {
			msg := e.Response.Status
			if is := e.Response.Outcome.Issue; len(is) > 0 {
				msg = is[0].Diagnostics
			}
			failed = append(failed, msg)
		}
	}
	return strings.Join(failed, "; ")
}
