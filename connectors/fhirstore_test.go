package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/hl7tofhir"
)

// fhirStoreRoutes takes FHIR on $ingest and stores it in a fhir-store that serves its API
// on the same listener, under the default path data/fhir.db.
const fhirStoreRoutes = `store:
  path: junction.db
channels:
  - name: fhir-in
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [FHIR]
    destinations:
      - name: store
        type: fhir-store
        serve: { listen: 127.0.0.1:0, base: /, auth: none }
`

// startFHIRStoreEngine loads and starts routes on a real message store in a fresh folder.
func startFHIRStoreEngine(t *testing.T, routes string) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(file, []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = discard()
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng, dir
}

// The contract: a transaction Bundle converted from an ADT^A01 and posted to
// $ingest is stored, and GET /Patient?_id=<NHS number> on the same listener finds it.
func TestFHIRStoreDestination(t *testing.T) {
	eng, dir := startFHIRStoreEngine(t, fhirStoreRoutes)
	base := "http://" + eng.BoundAddr("HTTP")
	raw, err := os.ReadFile("../hl7/testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	conv, err := hl7tofhir.Convert(raw, hl7tofhir.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, body := post(t, base+"/$ingest", "POST", headers("data-type", "FHIR"), string(conv.JSON()))
	if status != 200 || !strings.Contains(body, "accepted") {
		t.Fatalf("ingest: %d %s", status, body)
	}
	id, _ := strconv.ParseInt(hdr.Get("Junction-Message-Id"), 10, 64)

	// Delivery is asynchronous: poll the search until the Patient is there.
	var found struct {
		ResourceType, Type string
		Total              int
		Entry              []struct {
			FullURL  string
			Resource struct {
				ResourceType, ID string
				Meta             struct{ VersionID string }
			}
			Search struct{ Mode string }
		}
	}
	waitFor(t, "Patient/0000000000 in the store", func() bool {
		status, _, body := request(t, "GET", base+"/Patient?_id=0000000000", "", "")
		if status != 200 {
			t.Fatalf("search: %d %s", status, body)
		}
		if err := json.Unmarshal([]byte(body), &found); err != nil {
			t.Fatal(err)
		}
		return found.Total > 0
	})
	e := found.Entry[0]
	if found.Type != "searchset" || found.Total != 1 || e.Resource.ResourceType != "Patient" || e.Resource.ID != "0000000000" ||
		e.Resource.Meta.VersionID != "1" || e.FullURL != base+"/Patient/0000000000" || e.Search.Mode != "match" {
		t.Fatalf("search result: %+v", found)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "fhir.db")); err != nil {
		t.Errorf("the store should be at data/fhir.db next to routes.yaml: %v", err)
	}

	m, err := eng.Store().GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Destinations[0]
	if d.Status != engine.StatusSent || d.Response == nil || !strings.Contains(*d.Response, `"type":"transaction-response"`) ||
		!strings.Contains(*d.Response, `"location":"Patient/0000000000/_history/1"`) {
		t.Errorf("delivery: %s, response %v", d.Status, d.Response)
	}

	// The API's routes leave $ingest alone, and metadata is the store's.
	if status, _, body := request(t, "GET", base+"/$ingest", "", ""); status != 405 || !strings.Contains(body, "POST") {
		t.Errorf("GET /$ingest: %d %s, want the ingest source's 405", status, body)
	}
	if status, _, body := request(t, "GET", base+"/metadata", "", ""); status != 200 || !strings.Contains(body, `"CapabilityStatement"`) {
		t.Errorf("GET /metadata: %d %.100s", status, body)
	}
	if status, _, body := request(t, "GET", base+"/Patient?nhs=0000000000", "", ""); status != 400 || !strings.Contains(body, `Unknown search parameter \"nhs\" for resource type \"Patient\"`) {
		t.Errorf("unknown parameter: %d %s", status, body)
	}

	// A resource the store cannot take is an ERROR at once, with the store's reason.
	_, hdr, _ = post(t, base+"/$ingest", "POST", headers("data-type", "FHIR"), `{"resourceType":"Patient","name":[{"family":"Noid"}]}`)
	id, _ = strconv.ParseInt(hdr.Get("Junction-Message-Id"), 10, 64)
	waitFor(t, "the refused message to be ERROR", func() bool {
		m, _ = eng.Store().GetMessage(context.Background(), id)
		return m != nil && m.Destinations[0].Status == engine.StatusError
	})
	if d := m.Destinations[0]; d.Attempts != 1 || !strings.Contains(d.LastError, "a Patient without an id cannot be stored") {
		t.Errorf("refused delivery: attempts %d, error %q", d.Attempts, d.LastError)
	}
}

// `junction check` loads the configuration: that opens no store file.
func TestFHIRStoreCheckOpensNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(fhirStoreRoutes), 0o644)
	if _, err := engine.Load(file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loading the configuration created data/: %v", err)
	}
}

// Two things cannot serve one base on one listener: the second is a configuration error
// at its line, or, when a source built after the store takes its base, a start error.
func TestFHIRStoreServeConflicts(t *testing.T) {
	twoStores := `store:
  path: junction.db
channels:
  - name: a
    source: { type: ingest, listen: 127.0.0.1:0, domain: a, data_types: [FHIR] }
    destinations:
      - { name: s1, type: fhir-store, path: one.db, serve: { listen: 127.0.0.1:0, base: /fhir, auth: none } }
      - { name: s2, type: fhir-store, path: two.db, serve: { listen: 127.0.0.1:0, base: /fhir/, auth: none } }
`
	_, err := engine.LoadBytes("routes.yaml", []byte(twoStores))
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:8: channels[0].destinations[1].serve.base: /fhir on 127.0.0.1:0 is already served by the fhir-store destination at routes.yaml:7") {
		t.Errorf("two stores on one base: %v", err)
	}

	gateway := `
  - name: gateway
    source: { type: fhir-bundle, listen: 127.0.0.1:0, base: /fhir, profiles: [http://hl7.org/fhir/StructureDefinition/Bundle] }
`
	store := `
  - name: store
    source: { type: ingest, listen: 127.0.0.1:0, domain: a, data_types: [FHIR] }
    destinations:
      - { name: s, type: fhir-store, path: one.db, serve: { listen: 127.0.0.1:0, base: %s, auth: none } }
`
	_, err = engine.LoadBytes("routes.yaml", []byte("channels:"+gateway+strings.Replace(store, "%s", "/fhir", 1)))
	if err == nil || !strings.Contains(err.Error(), "serve.base: /fhir on 127.0.0.1:0 is already served by a fhir-bundle source") {
		t.Errorf("a store after a gateway on its base: %v", err)
	}

	eng, err := engine.LoadBytes(filepath.Join(t.TempDir(), "routes.yaml"), []byte("channels:"+strings.Replace(store, "%s", "/fhir", 1)+gateway))
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = discard()
	ms, err := sqlite.Open(filepath.Join(t.TempDir(), "junction.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	if err := eng.Start(ms); err == nil || !strings.Contains(err.Error(), "serve.base /fhir on 127.0.0.1:0 is also served by a fhir-bundle source") {
		t.Errorf("a gateway after the store on its base should fail the start: %v", err)
		eng.Stop(context.Background())
	}

	// At the root, the store and a gateway under /fhir share the listener.
	eng, _ = startFHIRStoreEngine(t, "store: { path: junction.db }\nchannels:"+strings.Replace(store, "%s", "/", 1)+gateway)
	base := "http://" + eng.BoundAddr("HTTP")
	if status, _, body := request(t, "GET", base+"/fhir/metadata", "", ""); status != 200 || !strings.Contains(body, "Bundle") {
		t.Errorf("the gateway's metadata: %d %.100s", status, body)
	}
	if status, _, body := request(t, "GET", base+"/Patient/x", "", ""); status != 404 || !strings.Contains(body, "Resource Patient/x is not known") {
		t.Errorf("the store's read: %d %s", status, body)
	}
}
