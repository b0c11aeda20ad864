package connectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
	"junction/transforms"
)

// fhirBundleFields are the fhir-bundle source's keys: its Build reads them by these specs.
var fhirBundleFields = slices.Concat([]engine.FieldSpec{
	{Name: "listen", Type: "address", Required: true, Description: "host:port to listen on", Example: ":8080"},
	{Name: "base", Type: "path", Default: "/fhir", Description: "FHIR base path"},
	{Name: "profiles", Type: "list", Required: true, Description: "profiles a Bundle's meta.profile may name for this channel", Example: "[http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]"},
	{Name: "packages", Type: "list", Description: "FHIR packages (.tgz, unpacked folders or loose JSON files) with the profiles, value sets and code systems; relative to the routes.yaml folder"},
	{Name: "max_body", Type: "size", Default: "10MB", Description: "largest request body taken; larger ones get 413"},
}, sourceSecurityFields)

func init() {
	engine.RegisterSource(engine.SourceSpec{
		Type:    "fhir-bundle",
		Summary: "A FHIR endpoint taking Bundles by PUT {base}/Bundle/{id}, as the Care Gateway does: validated against the channel's profiles and packages, a Bundle id taken only once (409 DUPLICATE_ENTITY after), 201 once stored, then forwarded asynchronously to the destinations. Channels naming the same listen and base share one endpoint; a Bundle goes to the channel whose profiles its meta.profile names. With auth, a bearer token must grant the organisation managing each citizen (Patient.managingOrganization) in the Bundle.",
		Fields:  fhirBundleFields,
		Build:   buildFHIRBundle,
	})
}

// bundleRoute is one channel's claim on a FHIR endpoint.
type bundleRoute struct {
	channel   *engine.Channel
	verifier  *auth.Verifier // nil: no token needed
	openReads bool           // auth: none: stored Bundles are served to anyone
	profiles  []string
	validator *fhir.Validator
}

// bundleEndpoint serves one base path on one listener.
type bundleEndpoint struct {
	base    string
	routes  []*bundleRoute
	maxBody int64
	eng     *engine.Engine
}

func buildFHIRBundle(n *engine.Node, ch *engine.Channel, e *engine.Engine) {
	n = n.WithSpec(fhirBundleFields)
	listen := n.Address("listen")
	base := "/" + strings.Trim(n.Str("base"), "/")
	profiles := n.Strs("profiles")
	pkgPaths := n.Strs("packages")
	maxBody := n.Bytes("max_body")
	ch.DataTypes = []string{transforms.FHIR}
	ch.SourceInfo = fmt.Sprintf("fhir-bundle %s%s/Bundle/{id} profiles=%s", listen, base, strings.Join(profiles, ","))

	for i, p := range pkgPaths {
		if !filepath.IsAbs(p) {
			pkgPaths[i] = filepath.Join(e.Dir, p)
		}
	}
	v, err := fhirValidator(pkgPaths)
	if err != nil {
		n.ErrorAt(n.Raw("packages"), n.Path+".packages", "%v", err)
		return
	}
	for _, p := range profiles {
		if !v.HasProfile(p) {
			n.ErrorAt(n.Raw("profiles"), n.Path+".profiles", "profile %s is not in the channel's packages (or FHIR R4)", p)
		}
	}
	if listen == "" || len(profiles) == 0 || !ch.Enabled {
		return
	}
	verifier := sourceAuth(n, e)
	l := httpSource(n, e, listen, verifier)
	ep := l.bundles[base]
	if ep == nil {
		ep = &bundleEndpoint{base: base, eng: e}
		l.bundles[base] = ep
		l.router.Route(base, ep.mount)
		addAdmit(l, ep.admit)
	}
	for _, r := range ep.routes {
		for _, p := range profiles {
			if slices.Contains(r.profiles, p) {
				n.ErrorAt(n.Raw("profiles"), n.Path+".profiles", "channel %q already takes profile %s on %s%s", r.channel.Name, p, listen, base)
			}
		}
	}
	ep.routes = append(ep.routes, &bundleRoute{channel: ch, profiles: profiles, validator: v, verifier: verifier, openReads: authNone(n)})
	ch.SourceCheck = func(body []byte) error {
		out, err := v.Validate(body, fhir.Options{Profiles: profiles, ProcessingCodes: true})
		switch {
		case err != nil:
			return fmt.Errorf("refused with 500: validation could not run: %v", err)
		case out.HasError():
			return fmt.Errorf("refused with 422: %s", summarize(out))
		}
		return nil
	}
	warnOpenSource(n, e, verifier, "stored Bundles (GET "+base+"/Bundle/{id})")
	ep.maxBody = max(ep.maxBody, maxBody)
}

func (ep *bundleEndpoint) mount(r chi.Router) {
	r.Get("/metadata", ep.capabilities)
	r.Post("/{type}/$validate", ep.validate)
	r.Put("/{type}/{id}", ep.put)
	r.Get("/{type}/{id}", ep.read)
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeOutcome(w, http.StatusNotFound, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeNotSupported,
			Diagnostics: fmt.Sprintf("Unknown operation %s %s: this server takes PUT %s/Bundle/{id}, GET %s/Bundle/{id}, GET %s/metadata and POST %s/{type}/$validate", req.Method, req.URL.Path, ep.base, ep.base, ep.base, ep.base)})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		writeOutcome(w, http.StatusMethodNotAllowed, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeNotSupported,
			Diagnostics: fmt.Sprintf("Method %s is not supported on %s: Bundles are sent with PUT %s/Bundle/{id}", req.Method, req.URL.Path, ep.base)})
	})
}

// put takes one Bundle. Checks run in HAPI's order: media type, body, JSON, resource type
// and id, Bundle.type, duplicate, profile choice, validation; then one store commit.
func (ep *bundleEndpoint) put(w http.ResponseWriter, req *http.Request) {
	received := time.Now()
	if !ep.knownType(w, req) {
		return
	}
	urlID := chi.URLParam(req, "id")
	body, res := ep.readResource(w, req, "Bundle")
	if res == nil {
		return
	}
	bodyID, _ := res.Resource["id"].(string)
	if bodyID != urlID {
		writeOutcome(w, http.StatusBadRequest, issue(fhir.CodeProcessing, fmt.Sprintf("Can not update resource, resource body must contain an ID element which matches the request URL for update (PUT) operation - Resource body ID of \"%s\" does not match URL ID of \"%s\"", bodyID, urlID)))
		return
	}
	if oo := fhir.CheckBundleType(body); oo != nil {
		for i := range oo.Issue {
			oo.Issue[i].Code = fhir.CodeProcessing
		}
		writeOutcome(w, http.StatusUnprocessableEntity, oo.Issue...)
		return
	}
	// Who may send comes before anything that tells about stored Bundles.
	route, oo := ep.route(res.Resource)
	if oo != nil {
		writeOutcome(w, http.StatusUnprocessableEntity, oo...)
		return
	}
	noteChannel(req, route.channel) // metrics.go
	grant, ok := ep.authorize(w, req, route, res.Resource)
	if !ok {
		return
	}
	if r := channelRefusal(ep.eng, route.channel); r != nil {
		noteRefusal(req, r.reason)
		w.Header().Set("Retry-After", r.header.Get("Retry-After"))
		writeOutcome(w, r.status, r.issue)
		return
	}
	key := "Bundle/" + urlID
	if _, err := ep.eng.Store().MessageByKey(req.Context(), key); err == nil {
		writeOutcome(w, http.StatusConflict, duplicateIssue(key))
		return
	}
	// The Care Gateway (a HAPI server) gives every validation issue the code "processing".
	in := &engine.Inbound{DataType: transforms.FHIR, Body: body, Meta: requestMeta(req, grant), ReceivedAt: received, DedupKey: key, Parsed: res}
	out, err := route.validator.Validate(body, fhir.Options{Profiles: route.profiles, ProcessingCodes: true})
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, ep.validatorFailed(req, route, in, err))
		return
	}
	if out.HasError() {
		route.channel.Refuse(req.Context(), in, fmt.Sprintf("refused with 422: %s", summarize(out)))
		writeOutcome(w, http.StatusUnprocessableEntity, out.Issue...)
		return
	}
	result := route.channel.Process(req.Context(), in)
	switch {
	case errors.Is(result.StoreErr, engine.ErrDuplicate):
		writeOutcome(w, http.StatusConflict, duplicateIssue(key))
		return
	case result.StoreErr != nil:
		ep.eng.Log.Error("bundle not stored", "channel", route.channel.Name, "err", result.StoreErr)
		noteRefusal(req, engine.RefusalStoreUnavailable)
		w.Header().Set("Retry-After", "5")
		writeOutcome(w, http.StatusServiceUnavailable, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeTransient, Diagnostics: "the Bundle could not be stored and was not accepted; send it again later"})
		return
	case result.Status == engine.StatusError:
		r := errorReply(ep.eng.Log, route.channel, result)
		noteRefusal(req, reasonOfReply(r))
		writeOutcome(w, r.status, r.issue)
		return
	}
	w.Header().Set("Location", ep.base+"/Bundle/"+urlID+"/_history/1")
	w.Header().Set("ETag", `W/"1"`)
	w.Header().Set("Last-Modified", received.UTC().Format(http.TimeFormat))
	w.Header().Set("Junction-Message-Id", strconv.FormatInt(result.MessageID, 10))
	switch preferReturn(req) {
	case "minimal":
		w.WriteHeader(http.StatusCreated)
	case "OperationOutcome":
		info := fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational,
			Diagnostics: fmt.Sprintf("Successfully created resource \"Bundle/%s/_history/1\"", urlID)}
		writeOutcome(w, http.StatusCreated, append([]fhir.Issue{info}, out.Issue...)...)
	default:
		w.Header().Set("Content-Type", fhirJSON)
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}
}

// route picks the channel whose profiles the Bundle's meta.profile names. With one channel
// on the endpoint a Bundle without meta.profile goes to it (validation then says what is
// missing).
func (ep *bundleEndpoint) route(bundle map[string]any) (*bundleRoute, []fhir.Issue) {
	var claimed []string
	if meta, ok := bundle["meta"].(map[string]any); ok {
		if ps, ok := meta["profile"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					claimed = append(claimed, s)
				}
			}
		}
	}
	for _, r := range ep.routes {
		for _, p := range claimed {
			if slices.Contains(r.profiles, canonicalURL(p)) {
				return r, nil
			}
		}
	}
	if len(claimed) == 0 && len(ep.routes) == 1 {
		return ep.routes[0], nil
	}
	var accepted []string
	for _, r := range ep.routes {
		accepted = append(accepted, r.profiles...)
	}
	diag := fmt.Sprintf("Bundle.meta.profile names none of the profiles accepted here: %s", strings.Join(accepted, ", "))
	if len(claimed) > 0 {
		diag = fmt.Sprintf("Bundle.meta.profile %s is not accepted here; expected one of: %s", strings.Join(claimed, ", "), strings.Join(accepted, ", "))
	}
	return nil, []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.CodeProcessing, Diagnostics: diag,
		Location: []string{"Bundle.meta.profile"}, Expression: []string{"Bundle.meta.profile"}}}
}

// authorize checks the bearer token and that it grants the organisation managing every
// citizen in the Bundle (the reporting municipality). On refusal it has answered.
func (ep *bundleEndpoint) authorize(w http.ResponseWriter, req *http.Request, route *bundleRoute, bundle map[string]any) (*auth.Grant, bool) {
	if route.verifier == nil {
		return nil, true
	}
	g, err := route.verifier.VerifyRequest(req)
	if err == nil {
		for _, org := range managingOrganisations(bundle) {
			if err = g.AllowsOrganisation(org); err != nil {
				break
			}
		}
	}
	if err == nil {
		return g, true
	}
	status, code := auth.StatusOf(err), fhir.CodeLogin
	if status == http.StatusForbidden {
		code = fhir.CodeForbidden
	}
	ep.eng.Log.Info("bundle refused", "status", status, "reason", err.Error(), "remote", req.RemoteAddr)
	w.Header().Set("WWW-Authenticate", auth.WWWAuthenticate(err))
	writeOutcome(w, status, issue(code, err.Error()))
	return nil, false
}

// managingOrganisations lists Patient.managingOrganization.identifier.value of the
// Bundle's entries.
func managingOrganisations(bundle map[string]any) []string {
	var orgs []string
	entries, _ := bundle["entry"].([]any)
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		res, _ := entry["resource"].(map[string]any)
		if res["resourceType"] != "Patient" {
			continue
		}
		mo, _ := res["managingOrganization"].(map[string]any)
		id, _ := mo["identifier"].(map[string]any)
		if v, _ := id["value"].(string); v != "" {
			orgs = append(orgs, v)
		}
	}
	return orgs
}

// canonicalURL drops a |version suffix from a canonical reference.
func canonicalURL(p string) string {
	if i := strings.IndexByte(p, '|'); i >= 0 {
		return p[:i]
	}
	return p
}

// validate is $validate: the outcome of validating the body, nothing stored. A profile
// may be given as ?profile=; else the body's meta.profile picks the channel.
func (ep *bundleEndpoint) validate(w http.ResponseWriter, req *http.Request) {
	if !ep.tokenForAny(w, req) {
		return
	}
	body, res := ep.readResource(w, req, chi.URLParam(req, "type"))
	if res == nil {
		return
	}
	var opts fhir.Options
	route := ep.routes[0]
	if p := req.URL.Query().Get("profile"); p != "" {
		opts.Profiles = []string{canonicalURL(p)}
		for _, r := range ep.routes {
			if slices.Contains(r.profiles, opts.Profiles[0]) {
				route = r
			}
		}
	} else if r, _ := ep.route(res.Resource); r != nil {
		route = r
		if res.Resource["resourceType"] == "Bundle" {
			opts.Profiles = r.profiles
		}
	}
	out, err := route.validator.Validate(body, opts)
	if err != nil {
		ep.eng.Log.Error("validator failed", "channel", route.channel.Name, "operation", "$validate", "err", err)
		writeOutcome(w, http.StatusInternalServerError, fhir.Issue{Severity: fhir.SeverityFatal, Code: fhir.CodeException, Diagnostics: "validation could not run; the operator has the details in the server log"})
		return
	}
	if len(out.Issue) == 0 {
		out.Issue = []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational, Diagnostics: "No issues detected during validation"}}
	}
	writeOutcome(w, http.StatusOK, out.Issue...)
}

// capabilities is GET {base}/metadata.
func (ep *bundleEndpoint) capabilities(w http.ResponseWriter, req *http.Request) {
	var profiles []string
	for _, r := range ep.routes {
		profiles = append(profiles, r.profiles...)
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         ep.eng.StartedAt().UTC().Format(time.RFC3339),
		"kind":         "instance",
		"software":     map[string]any{"name": "Junction"},
		"implementation": map[string]any{
			"description": "Junction FHIR Bundle gateway",
			"url":         "http://" + req.Host + ep.base,
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"rest": []any{map[string]any{
			"mode": "server",
			"resource": []any{map[string]any{
				"type":              "Bundle",
				"supportedProfile":  profiles,
				"interaction":       []any{map[string]any{"code": "update"}, map[string]any{"code": "read"}},
				"updateCreate":      true,
				"conditionalCreate": false,
				"conditionalUpdate": false,
				"operation":         []any{map[string]any{"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}},
			}},
		}},
	}
	b, _ := json.Marshal(cs)
	w.Header().Set("Content-Type", fhirJSON)
	w.Write(b)
}

// knownType answers 404 for resource types other than Bundle.
func (ep *bundleEndpoint) knownType(w http.ResponseWriter, req *http.Request) bool {
	if t := chi.URLParam(req, "type"); t != "Bundle" {
		writeOutcome(w, http.StatusNotFound, issue(fhir.CodeNotSupported, fmt.Sprintf("Unknown resource type '%s' - Server knows how to handle: [Bundle]", t)))
		return false
	}
	return true
}

// readResource checks the media type, reads the body within the size limit and parses it
// as a resource of type wantType. On any failure it has answered, and res is nil.
func (ep *bundleEndpoint) readResource(w http.ResponseWriter, req *http.Request, wantType string) (body []byte, res *transforms.Message) {
	ct := req.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/fhir+json" && mt != "application/json") {
		writeOutcome(w, http.StatusUnsupportedMediaType, issue(fhir.CodeNotSupported, fmt.Sprintf("Content-Type must be application/fhir+json or application/json, got '%s'", ct)))
		return nil, nil
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		writeOutcome(w, http.StatusUnsupportedMediaType, issue(fhir.CodeNotSupported, fmt.Sprintf("Content-Type: charset must be utf-8 when given, got '%s'", cs)))
		return nil, nil
	}
	body, err = readBody(w, req, ep.maxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeOutcome(w, http.StatusRequestEntityTooLarge, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeTooLong, Diagnostics: fmt.Sprintf("request body is larger than the %s limit of this endpoint", humanSize(ep.maxBody))})
		} else {
			writeOutcome(w, http.StatusBadRequest, issue(fhir.CodeStructure, "could not read the request body: "+err.Error()))
		}
		return nil, nil
	}
	res, err = transforms.Parse(transforms.FHIR, body, nil)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, parseIssue(err))
		return nil, nil
	}
	if rt, _ := res.Resource["resourceType"].(string); rt != wantType {
		writeOutcome(w, http.StatusBadRequest, issue(fhir.CodeProcessing, fmt.Sprintf("Incorrect resource type found, expected \"%s\" but found \"%s\"", wantType, rt)))
		return nil, nil
	}
	return body, res
}

func preferReturn(req *http.Request) string {
	for _, v := range req.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ";") {
			if k, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, "return") {
				switch strings.Trim(val, `"`) {
				case "minimal":
					return "minimal"
				case "OperationOutcome":
					return "OperationOutcome"
				case "representation":
					return "representation"
				}
			}
		}
	}
	return "representation"
}

// duplicateIssue is the Care Gateway's own error text, exactly.
func duplicateIssue(key string) fhir.Issue {
	return issue(fhir.CodeProcessing, fmt.Sprintf("DUPLICATE_ENTITY: Entity with id '%s' already exists", key))
}

// parseIssue turns a JSON parse error into an outcome issue with its line and column.
func parseIssue(err error) fhir.Issue {
	var ce *transforms.ContentError
	if errors.As(err, &ce) {
		i := issue(fhir.CodeStructure, "Failed to parse JSON encoded FHIR content: "+ce.Msg)
		if ce.Where != "" {
			i.Diagnostics += " (at " + ce.Where + ")"
			i.Location = []string{lineColLocation(ce.Where)}
		}
		return i
	}
	return issue(fhir.CodeStructure, "Failed to parse JSON encoded FHIR content: "+err.Error())
}

// lineColLocation writes "line 3, col 9" as HAPI's "Line 3, Col 9".
func lineColLocation(where string) string {
	return strings.Replace(strings.Replace(where, "line ", "Line ", 1), "col ", "Col ", 1)
}

func summarize(oo *fhir.OperationOutcome) string {
	var errs []string
	for _, i := range oo.Issue {
		if i.Severity == fhir.SeverityError || i.Severity == fhir.SeverityFatal {
			errs = append(errs, i.Diagnostics)
		}
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Sprintf("and %d more", len(errs)-3))
	}
	return strings.Join(errs, "; ")
}

// validatorFailed logs why the validator could not run and stores the Bundle as ERROR
// with it: the sender is told only where the operator finds it.
func (ep *bundleEndpoint) validatorFailed(req *http.Request, route *bundleRoute, in *engine.Inbound, err error) fhir.Issue {
	ep.eng.Log.Error("validator failed", "channel", route.channel.Name, "err", err)
	i := fhir.Issue{Severity: fhir.SeverityFatal, Code: fhir.CodeException, Diagnostics: "validation could not run; the operator has the details in the server log"}
	if id, serr := route.channel.Refuse(req.Context(), in, "refused with 500: validation could not run: "+err.Error()); serr == nil {
		i.Diagnostics = fmt.Sprintf("validation could not run on message %d; the operator has the details under message id %d", id, id)
	}
	return i
}
