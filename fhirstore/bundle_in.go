package fhirstore

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// request is a Bundle to apply, read and checked: every entry knows its Type/id, and
// references between entries point at those.
type request struct {
	transaction bool // else batch: entries succeed or fail on their own
	entries     []*entry
}

// entry is one write. err is set when it cannot be applied (batch only: in a transaction
// any such error refuses the whole Bundle).
type entry struct {
	index   int
	method  string // PUT, POST or DELETE
	rtype   string
	id      string
	fullURL string
	res     *object // nil for DELETE
	err     *Error

	// Set by the write (apply.go).
	status  string // "201 Created", "200 OK" or "204 No Content"
	version int    // 0: a DELETE of nothing
	updated int64  // Unix ms
}

func (e *entry) ref() string { return e.rtype + "/" + e.id }

// readRequest reads a transaction or batch Bundle; any other resource is taken as a PUT of
// itself to its own Type/id (a one-entry transaction).
func readRequest(root *object) (*request, *Error) {
	rt := root.str("resourceType")
	switch {
	case rt == "":
		return nil, invalid(`expected a FHIR resource: the JSON object has no "resourceType"`)
	case !isResourceType(rt):
		return nil, invalid("resourceType %q is not a FHIR R4 resource type", rt)
	case rt != "Bundle" || (root.str("type") != "transaction" && root.str("type") != "batch"):
		return singlePut(root)
	}
	req := &request{transaction: root.str("type") == "transaction"}
	var items []any
	switch v := root.get("entry").(type) {
	case nil:
	case []any:
		items = v
	default:
		return nil, invalid("Bundle.entry must be a list")
	}
	for i, item := range items {
		e, err := readEntry(i, item)
		if err != nil {
			err.Msg = fmt.Sprintf("Bundle.entry[%d]: %s", i, err.Msg)
			if req.transaction {
				return nil, err
			}
			e = &entry{index: i, err: err}
		}
		req.entries = append(req.entries, e)
	}
	if err := req.resolve(); err != nil {
		return nil, err
	}
	return req, nil
}

// singlePut wraps a lone resource as a transaction of one PUT.
func singlePut(res *object) (*request, *Error) {
	rt, id := res.str("resourceType"), res.str("id")
	if id == "" {
		return nil, invalid("a %s without an id cannot be stored: give it an id (it is then PUT as %s/id) or send it in a transaction Bundle", rt, rt)
	}
	if !validID(id) {
		return nil, invalid("id %q of the %s is not a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-' and '.')", id, rt)
	}
	req := &request{transaction: true, entries: []*entry{{method: "PUT", rtype: rt, id: id, res: res}}}
	if err := req.resolve(); err != nil {
		return nil, err
	}
	return req, nil
}

func readEntry(i int, item any) (*entry, *Error) {
	eo, ok := item.(*object)
	if !ok {
		return nil, invalid("expected an object with resource and request")
	}
	e := &entry{index: i, fullURL: eo.str("fullUrl")}
	rq := eo.obj("request")
	if rq == nil {
		return nil, invalid("no request: an entry of a transaction or batch needs request.method and request.url")
	}
	e.method = rq.str("method")
	url := strings.TrimPrefix(rq.str("url"), "/")
	if strings.Contains(url, "?") || rq.get("ifNoneExist") != nil || rq.get("ifMatch") != nil {
		return nil, notSupported("conditional %s (request.url %q) is not supported by this store: use %s Type/id", e.method, rq.str("url"), e.method)
	}
	rtype, id, _ := strings.Cut(url, "/")
	if !isResourceType(rtype) {
		return nil, invalid("request.url %q does not start with a FHIR R4 resource type", rq.str("url"))
	}
	e.rtype = rtype
	switch e.method {
	case "PUT", "DELETE":
		if !validID(id) {
			return nil, invalid("request.url %q must be Type/id for %s, e.g. Patient/123 (an id is 1 to 64 of A-Z, a-z, 0-9, '-' and '.')", rq.str("url"), e.method)
		}
		e.id = id
	case "POST":
		if id != "" {
			return nil, invalid("request.url %q must be a resource type for POST, e.g. Patient (the store chooses the id)", rq.str("url"))
		}
		e.id = uuid.NewString()
	case "GET", "HEAD", "PATCH":
		return nil, notSupported("request.method %s is not supported by this store (expected PUT, POST or DELETE)", e.method)
	default:
		return nil, invalid("request.method %q is not an HTTP method of a Bundle entry (expected PUT, POST or DELETE)", e.method)
	}
	if e.method == "DELETE" {
		return e, nil
	}
	e.res = eo.obj("resource")
	if e.res == nil {
		return nil, invalid("no resource to %s (expected entry.resource, a %s)", e.method, rtype)
	}
	if got := e.res.str("resourceType"); got != rtype {
		return nil, invalid("resource.resourceType is %q but request.url %q is for a %s", got, rq.str("url"), rtype)
	}
	switch got := e.res.str("id"); {
	case e.method == "POST" || got == "":
		e.res.set("id", e.id) // POST: the server chooses the id, as FHIR says
	case got != e.id:
		return nil, invalid("resource.id %q differs from the id in request.url %q", got, rq.str("url"))
	}
	return e, nil
}

// resolve rewrites references to entries' fullUrls (urn:uuid:…, or absolute URLs) into
// the entries' Type/id, as a FHIR server processing a transaction does, and refuses a
// transaction that changes one resource twice.
func (r *request) resolve() *Error {
	targets := map[string]string{}
	seen := map[string]int{}
	for _, e := range r.entries {
		if e.err != nil {
			continue
		}
		if prev, dup := seen[e.ref()]; dup && r.transaction {
			return invalid("Bundle.entry[%d] and Bundle.entry[%d] both change %s: a transaction may change a resource once", prev, e.index, e.ref())
		}
		seen[e.ref()] = e.index
		if e.fullURL != "" && e.res != nil {
			targets[e.fullURL] = e.ref()
		}
	}
	for _, e := range r.entries {
		if e.err != nil || e.res == nil {
			continue
		}
		if err := resolveRefs(e.res, targets, &[]string{e.rtype}); err != nil {
			err.Msg = fmt.Sprintf("Bundle.entry[%d]: %s", e.index, err.Msg)
			if r.transaction {
				return err
			}
			e.err = err
		}
	}
	return nil
}

// resolveRefs rewrites every Reference.reference below v found in targets. A urn:uuid: or
// urn:oid: reference that no entry answers is an error: stored, it would point nowhere.
// path names the element being walked, for that error.
func resolveRefs(v any, targets map[string]string, path *[]string) *Error {
	switch x := v.(type) {
	case *object:
		for i, k := range x.keys {
			if s, ok := x.vals[i].(string); ok && k == "reference" {
				if t, ok := targets[s]; ok {
					x.vals[i] = t
				} else if strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:") {
					return invalid("%s.reference %q matches the fullUrl of no entry of the Bundle", strings.Join(*path, "."), s)
				}
				continue
			}
			*path = append(*path, k)
			err := resolveRefs(x.vals[i], targets, path)
			*path = (*path)[:len(*path)-1]
			if err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := resolveRefs(e, targets, path); err != nil {
				return err
			}
		}
	}
	return nil
}
