package fhirstore

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// serveAPI serves the API at base on a router that already has an /$ingest route (as the
// ingest source's listener does), over real HTTP on loopback.
func serveAPI(t testing.TB, s *Store, base string) (*API, string) {
	r := chi.NewRouter()
	r.Handle("/$ingest", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "ingest "+req.Method)
	}))
	api := NewAPI(base)
	api.Register(r, true)
	api.SetStore(s)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return api, srv.URL
}

func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, "GET", url)
}

func do(t testing.TB, method, url string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type bundle struct {
	ResourceType, Type string
	Total              int
	Link               []struct{ Relation, URL string }
	Entry              []struct {
		FullURL  string
		Resource *resource
		Search   struct{ Mode string }
		Request  struct{ Method, URL string }
		Response struct{ Status, Etag string }
	}
}

func (b *bundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

func getBundle(t testing.TB, url string) bundle {
	t.Helper()
	status, hdr, body := get(t, url)
	if status != 200 || hdr.Get("Content-Type") != "application/fhir+json; charset=utf-8" {
		t.Fatalf("GET %s: %d %s %s", url, status, hdr.Get("Content-Type"), body)
	}
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("GET %s: not a Bundle: %v %s", url, err, body)
	}
	return b
}

func wantOutcome(t testing.TB, method, url string, status int, diagnostics string) {
	t.Helper()
	got, hdr, body := do(t, method, url)
	var oo outcome
	json.Unmarshal(body, &oo)
	if got != status || hdr.Get("Content-Type") != "application/fhir+json; charset=utf-8" || oo.ResourceType != "OperationOutcome" ||
		len(oo.Issue) == 0 || !strings.Contains(oo.Issue[0].Diagnostics, diagnostics) {
		t.Errorf("%s %s: %d %s, want %d with an OperationOutcome saying %q", method, url, got, body, status, diagnostics)
	}
}

func TestAPI(t *testing.T) {
	s := openStore(t)
	apply(t, s, a01(t))
	apply(t, s, a08(t))
	_, base := serveAPI(t, s, "/")

	status, hdr, body := get(t, base+"/Patient/0000000000")
	if status != 200 || hdr.Get("ETag") != `W/"2"` || hdr.Get("Last-Modified") == "" || decode(t, body).Meta.VersionID != "2" {
		t.Fatalf("read: %d %v %.200s", status, hdr, body)
	}
	if _, _, body := get(t, base+"/Patient/0000000000/_history/1"); decode(t, body).Address[0].Line[0] != "12 Station Road" {
		t.Errorf("vread 1: %.200s", body)
	}
	h := getBundle(t, base+"/Patient/0000000000/_history")
	if h.Type != "history" || h.Total != 2 || len(h.Entry) != 2 || h.Entry[0].Resource.Meta.VersionID != "2" ||
		h.Entry[0].Request.Method != "PUT" || h.Entry[1].Response.Status != "201 Created" || h.Entry[0].Response.Etag != `W/"2"` {
		t.Errorf("history: %+v", h)
	}

	b := getBundle(t, base+"/Patient?_id=0000000000")
	if b.Type != "searchset" || b.Total != 1 || len(b.Entry) != 1 || b.Entry[0].FullURL != base+"/Patient/0000000000" ||
		b.Entry[0].Search.Mode != "match" || b.Entry[0].Resource.ID != "0000000000" || b.link("self") != base+"/Patient?_id=0000000000" {
		t.Errorf("search: %+v", b)
	}
	if b := getBundle(t, base+"/Patient?family=nobody"); b.Total != 0 || len(b.Entry) != 0 {
		t.Errorf("search with no match: %+v", b)
	}

	// Paging: follow next links until there are none.
	var seen []string
	next := base + "/Observation?_count=1&patient=0000000000"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		b := getBundle(t, next)
		for _, e := range b.Entry {
			seen = append(seen, e.Resource.ID)
		}
		next = b.link("next")
	}
	// The A01 and the A08 each made two (OBX without an order number get ids per message).
	if len(seen) != 4 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 4 {
		t.Errorf("pages gave %v, want the patient's 4 observations once each", seen)
	}

	wantOutcome(t, "GET", base+"/Patient/nobody", 404, "Resource Patient/nobody is not known")
	wantOutcome(t, "GET", base+"/Patient/0000000000/_history/7", 404, "Version 7 of resource Patient/0000000000 is not known")
	wantOutcome(t, "GET", base+"/Patient/0000000000/_history/x", 400, `version "x"`)
	wantOutcome(t, "GET", base+"/Patient?foo=bar", 400, `Unknown search parameter "foo" for resource type "Patient". Valid search parameters for this search are: [_id, _lastUpdated,`)
	wantOutcome(t, "GET", base+"/Patients/1", 404, `Unknown resource type "Patients"`)
	wantOutcome(t, "GET", base+"/favicon.ico", 404, `Unknown resource type "favicon.ico"`)
	wantOutcome(t, "GET", base+"/Patient/_history", 400, "Patient/_history is not supported by this store")
	wantOutcome(t, "GET", base+"/Patient/$everything", 400, "Patient/$everything is not supported by this store")
	wantOutcome(t, "POST", base+"/Patient", 405, "POST is not supported on /Patient")
	wantOutcome(t, "DELETE", base+"/Patient/0000000000", 405, "read-only over HTTP")
	wantOutcome(t, "GET", base+"/Patient?_format=xml", 406, "JSON only")
	if status, _, _ := get(t, base+"/Patient/0000000000?_format=application/fhir%2Bjson"); status != 200 {
		t.Errorf("_format=application/fhir+json: %d", status)
	}

	// The API's patterns leave /$ingest to its own handler.
	for _, method := range []string{"POST", "GET"} {
		if status, _, body := do(t, method, base+"/$ingest"); status != 200 || string(body) != "ingest "+method {
			t.Errorf("%s /$ingest: %d %q, want the ingest handler", method, status, body)
		}
	}

	status, _, body = get(t, base+"/metadata")
	var cs struct {
		ResourceType, FhirVersion string
		Rest                      []struct {
			Resource []struct {
				Type        string
				SearchParam []struct{ Name, Type string }
			}
		}
	}
	json.Unmarshal(body, &cs)
	if status != 200 || cs.ResourceType != "CapabilityStatement" || cs.FhirVersion != "4.0.1" || len(cs.Rest) != 1 {
		t.Fatalf("metadata: %d %.200s", status, body)
	}
	for _, r := range cs.Rest[0].Resource {
		if r.Type == "Observation" && !strings.Contains(jsonText(r.SearchParam), `{"Name":"code","Type":"token"}`) {
			t.Errorf("Observation's search parameters lack code: %v", r.SearchParam)
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Under a base path, with a deletion, and before the store is open.
func TestAPIBaseDeletedAndNotOpen(t *testing.T) {
	s := openStore(t)
	apply(t, s, []byte(`{"resourceType":"Patient","id":"p1"}`))
	apply(t, s, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/p1"}}]}`))
	api, origin := serveAPI(t, s, "/fhir/")
	base := origin + "/fhir"

	wantOutcome(t, "GET", base+"/Patient/p1", 410, "Resource Patient/p1 was deleted")
	h := getBundle(t, base+"/Patient/p1/_history")
	if h.Total != 2 || h.Entry[0].Resource != nil || h.Entry[0].Request.Method != "DELETE" || h.Entry[0].Response.Status != "204 No Content" {
		t.Errorf("history of a deleted resource: %+v", h)
	}
	if b := getBundle(t, base+"/Patient"); b.Total != 0 || len(b.Entry) != 0 {
		t.Errorf("a deleted resource is found: %+v", b)
	}
	if status, _, _ := get(t, origin+"/Patient/p1"); status != 404 {
		t.Errorf("outside the base: %d, want 404", status)
	}
	api.SetStore(nil)
	wantOutcome(t, "GET", base+"/Patient/p1", 503, "the FHIR store is not open")
}

// History answers a page of 20 versions unless _count says otherwise, with a next link, so
// a resource with many versions is not read whole for every reader.
func TestHistoryIsPagedLikeSearch(t *testing.T) {
	s := openStore(t)
	for i := range 25 {
		apply(t, s, []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p1","gender":"%s","birthDate":"19%02d-01-01"}`, []string{"male", "female"}[i%2], 50+i)))
	}
	_, origin := serveAPI(t, s, "/")
	h := getBundle(t, origin+"/Patient/p1/_history")
	if h.Total != 25 || len(h.Entry) != 20 || h.link("next") == "" {
		t.Errorf("history: total %d, %d entries, next %q; want 25, 20 and a next link", h.Total, len(h.Entry), h.link("next"))
	}
	if h := getBundle(t, origin+"/Patient/p1/_history?_count=100"); len(h.Entry) != 25 {
		t.Errorf("_count=100: %d entries", len(h.Entry))
	}
}
