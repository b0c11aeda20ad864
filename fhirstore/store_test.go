package fhirstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// An A01 stores version 1 of every resource; an A08 with a new address makes version 2 of
// the Patient; the same A08 again changes nothing.
func TestApplyADTVersions(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()

	r := apply(t, s, a01(t))
	if r.Type != "transaction-response" || len(r.Entry) != 16 {
		t.Fatalf("response: type %q with %d entries, want transaction-response with 16", r.Type, len(r.Entry))
	}
	first := r.Entry[0].Response
	if first.Status != "201 Created" || first.Location != "Patient/0000000000/_history/1" || first.Etag != `W/"1"` || first.LastModified == "" {
		t.Fatalf("first entry's response = %+v", first)
	}
	for i, e := range r.Entry {
		if e.Response.Status != "201 Created" || !strings.HasSuffix(e.Response.Location, "/_history/1") {
			t.Errorf("entry %d: %+v, want 201 Created at version 1", i, e.Response)
		}
	}
	p, pr := read(t, s, "Patient", "0000000000")
	if p.Version != 1 || pr.Meta.VersionID != "1" || pr.Meta.LastUpdated == "" || pr.Address[0].Line[0] != "12 Station Road" {
		t.Fatalf("Patient after the A01: version %d, meta %+v, address %+v", p.Version, pr.Meta, pr.Address)
	}
	if !strings.HasPrefix(string(p.JSON), `{"resourceType":"Patient","id":"0000000000","meta":{"versionId":"1","lastUpdated":`) {
		t.Errorf("stored JSON should start with resourceType, id and meta: %.120s", p.JSON)
	}
	// The Encounter's urn:uuid: subject now names the Patient by its id.
	encID := strings.TrimSuffix(strings.TrimPrefix(r.Entry[1].Response.Location, "Encounter/"), "/_history/1")
	if _, enc := read(t, s, "Encounter", encID); enc.Subject.Reference != "Patient/0000000000" {
		t.Errorf("Encounter.subject = %q, want Patient/0000000000", enc.Subject.Reference)
	}

	r = apply(t, s, a08(t))
	if got := r.Entry[0].Response; got.Status != "200 OK" || got.Location != "Patient/0000000000/_history/2" {
		t.Fatalf("A08 Patient response = %+v, want 200 OK at version 2", got)
	}
	p, pr = read(t, s, "Patient", "0000000000")
	if p.Version != 2 || pr.Meta.VersionID != "2" || pr.Address[0].Line[0] != "14 Mill Lane" {
		t.Fatalf("Patient after the A08: version %d, address %+v", p.Version, pr.Address)
	}
	h, err := s.History(ctx, "Patient", "0000000000", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Total != 2 || len(h.Resources) != 2 || h.Resources[0].Version != 2 || h.Resources[1].Version != 1 {
		t.Fatalf("history: total %d, %d versions, want 2 newest first", h.Total, len(h.Resources))
	}
	v1, err := s.VRead(ctx, "Patient", "0000000000", 1)
	if err != nil || decode(t, v1.JSON).Address[0].Line[0] != "12 Station Road" {
		t.Fatalf("version 1 should keep the old address: %v", err)
	}

	r = apply(t, s, a08(t))
	for i, e := range r.Entry {
		if e.Response.Status != "200 OK" {
			t.Errorf("identical re-apply, entry %d: %+v, want 200 OK", i, e.Response)
		}
	}
	if got := r.Entry[0].Response.Location; got != "Patient/0000000000/_history/2" {
		t.Errorf("identical re-apply: location %q, want version 2 still", got)
	}
	if p, _ = read(t, s, "Patient", "0000000000"); p.Version != 2 {
		t.Errorf("identical re-apply made version %d", p.Version)
	}
	_, err = s.VRead(ctx, "Patient", "0000000000", 3)
	if fe := storeError(t, err, http.StatusNotFound); fe.Msg != "Version 3 of resource Patient/0000000000 is not known (it has versions 1 to 2)" {
		t.Errorf("vread of a missing version: %q", fe.Msg)
	}
	_, err = s.Read(ctx, "Patient", "nobody")
	if fe := storeError(t, err, http.StatusNotFound); fe.Msg != "Resource Patient/nobody is not known" {
		t.Errorf("read of a missing resource: %q", fe.Msg)
	}
}

// Member order and the server's meta do not make content different.
func TestIdenticalIgnoresOrderAndServerMeta(t *testing.T) {
	s := openStore(t)
	apply(t, s, []byte(`{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1980-01-01"}`))
	r := apply(t, s, []byte(`{"birthDate":"1980-01-01","meta":{"versionId":"7","lastUpdated":"2020-01-01T00:00:00Z"},"gender":"female","id":"p1","resourceType":"Patient"}`))
	if got := r.Entry[0].Response; got.Status != "200 OK" || got.Location != "Patient/p1/_history/1" {
		t.Fatalf("reordered copy: %+v, want version 1 unchanged", got)
	}
	r = apply(t, s, []byte(`{"resourceType":"Patient","id":"p1","meta":{"profile":["http://example.org/p"]},"gender":"female","birthDate":"1980-01-01"}`))
	if got := r.Entry[0].Response.Location; got != "Patient/p1/_history/2" {
		t.Fatalf("a new meta.profile is a change: location %q", got)
	}
}

// An A40 stores the surviving patient and the merged one, each linking to the other.
func TestApplyMerge(t *testing.T) {
	s := openStore(t)
	apply(t, s, testMessage(t, "adt_a01_admit_nhs.hl7"))
	r := apply(t, s, testMessage(t, "adt_a40_merge.hl7"))
	if r.Entry[0].Response.Location != "Patient/9434765919/_history/2" {
		t.Fatalf("the surviving patient: %+v, want version 2", r.Entry[0].Response)
	}
	oldID := strings.TrimSuffix(strings.TrimPrefix(r.Entry[1].Response.Location, "Patient/"), "/_history/1")
	_, survivor := read(t, s, "Patient", "9434765919")
	_, merged := read(t, s, "Patient", oldID)
	if len(survivor.Link) != 1 || survivor.Link[0].Type != "replaces" || survivor.Link[0].Other.Reference != "Patient/"+oldID {
		t.Errorf("survivor's link = %+v, want replaces Patient/%s", survivor.Link, oldID)
	}
	if len(merged.Link) != 1 || merged.Link[0].Type != "replaced-by" || merged.Link[0].Other.Reference != "Patient/9434765919" {
		t.Errorf("merged patient's link = %+v, want replaced-by Patient/9434765919", merged.Link)
	}
}

// Every message hl7tofhir has a test for is stored, each entry readable at its location,
// and the same message applied again at once makes no version.
func TestApplyEveryTestMessage(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	files, _ := filepath.Glob(filepath.Join(testdir, "*.hl7"))
	if len(files) < 10 {
		t.Fatalf("found %d test messages in %s", len(files), testdir)
	}
	for _, f := range files {
		bundle := convert(t, readFile(t, f))
		first := apply(t, s, bundle)
		for i, e := range first.Entry {
			loc := e.Response.Location
			parts := strings.Split(loc, "/")
			if len(parts) != 4 {
				t.Fatalf("%s entry %d: location %q", f, i, loc)
			}
			if _, err := s.Read(ctx, parts[0], parts[1]); err != nil {
				t.Fatalf("%s entry %d: %s: %v", f, i, loc, err)
			}
		}
		again := apply(t, s, bundle)
		for i, e := range again.Entry {
			if e.Response.Status != "200 OK" || e.Response.Location != first.Entry[i].Response.Location {
				t.Errorf("%s again, entry %d: %+v, want 200 OK at %s", filepath.Base(f), i, e.Response, first.Entry[i].Response.Location)
			}
		}
	}
}

// A transaction with one bad entry stores nothing and says which entry and why; a batch
// stores the good entries and answers the bad one on its own.
func TestApplyRefusals(t *testing.T) {
	good := `{"fullUrl":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not JSON", `{"resourceType":`, "the content is not valid JSON"},
		{"not an object", `[1,2]`, "expected a JSON object (a FHIR resource), got a list"},
		{"no resourceType", `{"id":"x"}`, `expected a FHIR resource: the JSON object has no "resourceType"`},
		{"unknown type", `{"resourceType":"Patiant","id":"x"}`, `resourceType "Patiant" is not a FHIR R4 resource type`},
		{"no id", `{"resourceType":"Patient"}`, "a Patient without an id cannot be stored"},
		{"entry without request", `{"resourceType":"Bundle","type":"transaction","entry":[` + good + `,{"resource":{"resourceType":"Patient","id":"p2"}}]}`,
			"Bundle.entry[1]: no request"},
		{"PUT without id", `{"resourceType":"Bundle","type":"transaction","entry":[` + good + `,{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient"}}]}`,
			`Bundle.entry[1]: request.url "Patient" must be Type/id for PUT`},
		{"id mismatch", `{"resourceType":"Bundle","type":"transaction","entry":[` + good + `,{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/b"}}]}`,
			`Bundle.entry[1]: resource.id "a" differs from the id in request.url "Patient/b"`},
		{"type mismatch", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Encounter/a"}}]}`,
			`Bundle.entry[0]: resource.resourceType is "Patient" but request.url "Encounter/a" is for a Encounter`},
		{"dangling urn:uuid", `{"resourceType":"Bundle","type":"transaction","entry":[` + good + `,{"resource":{"resourceType":"Encounter","id":"e1","subject":{"reference":"urn:uuid:99999999-0000-4000-8000-000000000000"}},"request":{"method":"PUT","url":"Encounter/e1"}}]}`,
			`Bundle.entry[1]: Encounter.subject.reference "urn:uuid:99999999-0000-4000-8000-000000000000" matches the fullUrl of no entry of the Bundle`},
		{"conditional", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=x|1"}}]}`,
			`Bundle.entry[0]: conditional PUT (request.url "Patient?identifier=x|1") is not supported`},
		{"GET entry", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient/p1"}}]}`,
			"Bundle.entry[0]: request.method GET is not supported by this store (expected PUT, POST or DELETE)"},
		{"twice in one transaction", `{"resourceType":"Bundle","type":"transaction","entry":[` + good + `,` + strings.Replace(good, "0001", "0002", 1) + `]}`,
			"Bundle.entry[0] and Bundle.entry[1] both change Patient/p1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			out, err := s.Apply(context.Background(), []byte(tc.body))
			fe := storeError(t, err, http.StatusBadRequest)
			if !strings.Contains(fe.Msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", fe.Msg, tc.want)
			}
			if oo := string(out); !strings.Contains(oo, `"resourceType":"OperationOutcome"`) {
				t.Errorf("response should be an OperationOutcome: %s", oo)
			}
			if _, err := s.Read(context.Background(), "Patient", "p1"); err == nil {
				t.Errorf("a refused transaction stored Patient/p1")
			}
		})
	}

	s := openStore(t)
	batch := `{"resourceType":"Bundle","type":"batch","entry":[` + good + `,{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/b"}}]}`
	r := apply(t, s, []byte(batch))
	if r.Type != "batch-response" || r.Entry[0].Response.Status != "201 Created" || r.Entry[1].Response.Status != "400 Bad Request" ||
		r.Entry[1].Response.Outcome == nil || !strings.Contains(r.Entry[1].Response.Outcome.Issue[0].Diagnostics, `resource.id "a" differs`) {
		t.Fatalf("batch response = %+v", r)
	}
	read(t, s, "Patient", "p1")
}

// POST gets a new id, and references to its fullUrl follow; DELETE makes a version that
// reads as 410, and a PUT after it brings the resource back.
func TestPostAndDelete(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	r := apply(t, s, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:11111111-0000-4000-8000-000000000000","resource":{"resourceType":"Patient","id":"ignored","name":[{"family":"Posted"}]},"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-0000-4000-8000-000000000000"}},"request":{"method":"PUT","url":"Observation/o1"}}]}`))
	loc := r.Entry[0].Response.Location
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "Patient/"), "/_history/1")
	if r.Entry[0].Response.Status != "201 Created" || len(id) != 36 || id == "ignored" {
		t.Fatalf("POST: %+v, want 201 with a new UUID", r.Entry[0].Response)
	}
	if _, obs := read(t, s, "Observation", "o1"); obs.Subject.Reference != "Patient/"+id {
		t.Errorf("Observation.subject = %q, want Patient/%s", obs.Subject.Reference, id)
	}

	r = apply(t, s, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Observation/o1"}}]}`))
	if got := r.Entry[0].Response; got.Status != "204 No Content" || got.Location != "Observation/o1/_history/2" {
		t.Fatalf("DELETE: %+v", got)
	}
	_, err := s.Read(ctx, "Observation", "o1")
	storeError(t, err, http.StatusGone)
	if page, err := s.Search(ctx, "Observation", nil); err != nil || page.Total != 0 {
		t.Errorf("search after delete: %v, %+v", err, page)
	}
	h, _ := s.History(ctx, "Observation", "o1", 0, -1)
	if len(h.Resources) != 2 || !h.Resources[0].Deleted() || h.Resources[0].Method != "DELETE" {
		t.Errorf("history after delete: %+v", h)
	}
	r = apply(t, s, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Observation/o1"}}]}`))
	if got := r.Entry[0].Response; got.Status != "204 No Content" || got.Location != "Observation/o1/_history/2" {
		t.Errorf("second DELETE should change nothing: %+v", got)
	}
	r = apply(t, s, []byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}`))
	if got := r.Entry[0].Response; got.Status != "201 Created" || got.Location != "Observation/o1/_history/3" {
		t.Errorf("PUT after DELETE: %+v, want 201 Created at version 3", got)
	}
}

// The store opens nothing but its own file, and a reopened store has what was applied.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "fhir.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(context.Background(), a01(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	read(t, s, "Patient", "0000000000")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// Applies from several goroutines queue for the one writer; searches run beside them.
func TestConcurrentApplyAndSearch(t *testing.T) {
	s := openStore(t)
	bundle := testMessage(t, "adt_a01_admit_nhs.hl7")
	var v struct {
		Entry []struct{ Resource struct{ ID string } }
	}
	if err := json.Unmarshal(bundle, &v); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range v.Entry {
		ids = append(ids, e.Resource.ID)
	}
	const writers, each = 4, 10
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+100)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Apply(ctx, renamed(bundle, ids, w*each+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Search(ctx, "Patient", url.Values{"family": {"o'b"}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := search(t, s, "Patient", "family=o'b&_summary=count"); p.Total != writers*each {
		t.Errorf("%d patients found, want %d", p.Total, writers*each)
	}
	if p := search(t, s, "Observation", "_summary=count"); p.Total != 2*writers*each {
		t.Errorf("%d observations found, want %d", p.Total, 2*writers*each)
	}
}

// An empty transaction changes nothing and says so in a valid Bundle (no empty list).
func TestEmptyTransaction(t *testing.T) {
	s := openStore(t)
	out, err := s.Apply(context.Background(), []byte(`{"resourceType":"Bundle","type":"transaction"}`))
	if err != nil || !strings.Contains(string(out), `"type":"transaction-response"`) || strings.Contains(string(out), `"entry"`) {
		t.Errorf("empty transaction: %v %s", err, out)
	}
}
