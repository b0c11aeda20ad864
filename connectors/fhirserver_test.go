package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

// runRoutes starts an engine with the given routes.yaml text on a real store.
func runRoutes(t testing.TB, routes string) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
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
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng
}

// fakeFHIRServer is a real HTTP server standing for HAPI: it takes transactions and
// refuses, with an OperationOutcome, any Bundle whose Patient is named REFUSE.
type fakeFHIRServer struct {
	mu   sync.Mutex
	got  []string // "METHOD path"
	uris []string // "METHOD request-target", as it came over the wire (still escaped)
	body []string
	addr string
}

func startFHIRServer(t *testing.T) *fakeFHIRServer {
	s := &fakeFHIRServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, r.Method+" "+r.URL.Path)
		s.uris = append(s.uris, r.Method+" "+r.RequestURI)
		s.body = append(s.body, string(b))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		if strings.Contains(string(b), "REFUSE") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Patient.name: refused by the test server","location":["Bundle.entry[0].resource"]}]}`)
			return
		}
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[]}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *fakeFHIRServer) requests() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...), append([]string(nil), s.body...)
}

// requestURIs are the requests' targets as sent, escapes and query included.
func (s *fakeFHIRServer) requestURIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uris...)
}

// sendFHIR posts a FHIR resource to $ingest and returns the message's id.
func sendFHIR(t *testing.T, ingest string, resource any) int64 {
	t.Helper()
	b, _ := json.Marshal(resource)
	status, hdr, body := post(t, ingest, "POST", headers("data-type", "FHIR"), string(b))
	id, err := strconv.ParseInt(hdr.Get("Junction-Message-Id"), 10, 64)
	if status != 200 || err != nil {
		t.Fatalf("ingest %s: %d %v %s", b, status, err, body)
	}
	return id
}

// settled waits until no delivery of message id is queued, and returns them by name.
func settled(t *testing.T, eng *engine.Engine, id int64) map[string]engine.DestinationStatus {
	t.Helper()
	out := map[string]engine.DestinationStatus{}
	waitFor(t, fmt.Sprintf("message %d's deliveries to be SENT or ERROR", id), func() bool {
		m, err := eng.Store().GetMessage(context.Background(), id)
		if err != nil || len(m.Destinations) == 0 {
			return false
		}
		for _, d := range m.Destinations {
			if d.Status != engine.StatusSent && d.Status != engine.StatusError {
				return false
			}
			out[d.Name] = d
		}
		return true
	})
	return out
}

// A resource whose type or id is not one FHIR allows is refused, by both modes, before
// anything is sent: nothing reaches the server outside {base}/{type}/{id}, and the
// delivery is an ERROR naming the value and what was expected.
func TestFHIRServerRefusesTypesAndIdsThatAreNotFHIRs(t *testing.T) {
	server := startFHIRServer(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: fhir-out
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [FHIR] }
    destinations:
      - { name: tx, type: fhir, url: "http://`+server.addr+`/tx/fhir/", retry: { backoff: 20ms } }
      - { name: each, type: fhir, mode: resources, url: "http://`+server.addr+`/each/fhir", retry: { backoff: 20ms } }
`)
	ingest := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	patient := func(id string) map[string]any { return map[string]any{"resourceType": "Patient", "id": id} }

	ok := settled(t, eng, sendFHIR(t, ingest, patient("ok-1")))
	if ok["tx"].Status != engine.StatusSent || ok["each"].Status != engine.StatusSent {
		t.Fatalf("a valid id should be sent: %+v", ok)
	}
	for _, id := range []string{"../../admin/delete?all=true", "..", ".", "a/b", "x#y", "%2e%2e", strings.Repeat("x", 65)} {
		got := settled(t, eng, sendFHIR(t, ingest, patient(id)))
		for _, dest := range []string{"tx", "each"} {
			d := got[dest]
			want := fmt.Sprintf("Patient.id %q is refused: expected a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-' and '.', and not \".\" or \"..\")", id)
			if d.Status != engine.StatusError || d.Attempts != 1 || !strings.Contains(d.LastError, want) {
				t.Errorf("id %q to %s: %s after %d attempts, %q; want ERROR at once with %q", id, dest, d.Status, d.Attempts, d.LastError, want)
			}
		}
	}
	badType := settled(t, eng, sendFHIR(t, ingest, map[string]any{"resourceType": "../../admin", "id": "1"}))
	if d := badType["tx"]; d.Status != engine.StatusError || !strings.Contains(d.LastError, `resourceType "../../admin" is refused: expected a FHIR resource type`) {
		t.Errorf("resourceType ../../admin: %+v", d)
	}
	bundle := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"resource": patient("good-2")},
		map[string]any{"resource": map[string]any{"resourceType": "Observation", "id": "../x"}},
	}}
	b := settled(t, eng, sendFHIR(t, ingest, bundle))
	if b["tx"].Status != engine.StatusSent {
		t.Errorf("a transaction Bundle goes to the base as it is: %+v", b["tx"])
	}
	if d := b["each"]; d.Status != engine.StatusError || !strings.Contains(d.LastError, `Bundle.entry[1].resource: Observation.id "../x" is refused`) || !strings.Contains(d.LastError, "nothing was sent") {
		t.Errorf("a Bundle with one bad id, resource by resource: %+v", d)
	}

	want := []string{"PUT /tx/fhir/Patient/ok-1", "PUT /each/fhir/Patient/ok-1", "POST /tx/fhir"}
	got := server.requestURIs()
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the server got\n%s\nwant only\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An ADT converted with toFHIR() reaches a FHIR server as a transaction; a 4xx from the
// server is an ERROR at once, with the server's diagnostics in the log.
func TestToFHIRToAFHIRServer(t *testing.T) {
	server := startFHIRServer(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: adt-fhir
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    transform:
      - 'setBody(toFHIR())'
    destinations:
      - { name: hapi, type: fhir, url: "http://`+server.addr+`/fhir", headers: { Authorization: "Bearer t0ken" }, retry: { backoff: 20ms } }
`)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	status, _, body := post(t, url, "POST", headers(), adtA01)
	if status != 200 || !strings.Contains(body, "MSA|AA|") {
		t.Fatalf("ingest: %d %q", status, body)
	}
	waitFor(t, "the transaction at the server", func() bool { got, _ := server.requests(); return len(got) >= 1 })
	got, bodies := server.requests()
	if got[0] != "POST /fhir" {
		t.Fatalf("server got %v, want POST /fhir", got)
	}
	var bundle struct {
		ResourceType, Type string
		Entry              []struct {
			Resource struct{ ResourceType, ID string }
			Request  struct{ Method, URL string }
		}
	}
	if err := json.Unmarshal([]byte(bodies[0]), &bundle); err != nil || bundle.ResourceType != "Bundle" || bundle.Type != "transaction" {
		t.Fatalf("not a transaction Bundle: %v %.200s", err, bodies[0])
	}
	found := false
	for _, e := range bundle.Entry {
		found = found || (e.Resource.ResourceType == "Patient" && e.Resource.ID == "0000000000" && e.Request.Method == "PUT")
	}
	if !found {
		t.Fatalf("no PUT of Patient/0000000000 in %.300s", bodies[0])
	}

	refused := strings.Replace(adtA01, "Fernández^José", "REFUSE^José", 1)
	refused = strings.Replace(refused, "8457239", "8457240", 1)
	status, hdr, _ := post(t, url, "POST", headers(), refused)
	if status != 200 {
		t.Fatalf("ingest: %d", status)
	}
	var id int64
	for _, c := range hdr.Get("Junction-Message-Id") {
		id = id*10 + int64(c-'0')
	}
	var m *engine.MessageDetail
	waitFor(t, "the refused delivery to be ERROR", func() bool {
		m, _ = eng.Store().GetMessage(context.Background(), id)
		return m != nil && m.Destinations[0].Status == engine.StatusError
	})
	d := m.Destinations[0]
	if d.Attempts != 1 || !strings.Contains(d.LastError, "400 Bad Request: Patient.name: refused by the test server (at Bundle.entry[0].resource)") {
		t.Fatalf("delivery = %+v", d)
	}
	if d.Sent == nil || !strings.Contains(*d.Sent, "Authorization: [redacted]") {
		t.Errorf("sent stage should show the request with the credential redacted: %v", d.Sent)
	}
}

// A conversion that fails names the segment and field, and the sender gets AE.
func TestToFHIRErrorIsAEAndAWarningIsAA(t *testing.T) {
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: adt-fhir
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    transform:
      - 'setBody(toFHIR())'
    destinations:
      - { name: archive, type: file, dir: out }
`)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	status, _, body := post(t, url, "POST", headers(), withoutPID(adtA01))
	if status != 422 || !strings.Contains(body, "\rMSA|AE|8457239|") || !strings.Contains(body, `PID: segment is missing`) {
		t.Fatalf("a message without a patient: status %d, ACK %q; want 422 AE naming PID", status, body)
	}
	// A value that does not convert is a warning: the rest converts and is accepted.
	bad := strings.Replace(adtA01, "|19800101|M", "|19801301|M", 1)
	bad = strings.Replace(bad, "|8457239|", "|8457240|", 1)
	status, _, body = post(t, url, "POST", headers(), bad)
	if status != 200 || !strings.Contains(body, "\rMSA|AA|8457240") {
		t.Fatalf("a bad birth date: status %d, ACK %q; want 200 AA", status, body)
	}
}

// CSV rows become FHIR through a transform and are stored the same way: one Patient per
// row, retrievable by id from the store's API on the same listener.
func TestCSVRowsToFHIRStore(t *testing.T) {
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: csv-patients
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [CSV] }
    transform:
      - >-
        setBody({"resourceType": "Bundle", "type": "transaction", "entry": map(rows, ({
          "resource": {"resourceType": "Patient", "id": #.nhs, "name": [{"family": #.family}]},
          "request": {"method": "PUT", "url": "Patient/" + #.nhs}}))})
    destinations:
      - { name: store, type: fhir-store, path: fhir.db, serve: { listen: "127.0.0.1:0", base: /, auth: none } }
`)
	addr := eng.BoundAddr("HTTP")
	status, _, body := post(t, "http://"+addr+"/$ingest", "POST", headers("data-type", "CSV"), "nhs,family\n1111111111,Smith\n2222222222,Jones\n")
	if status != 200 {
		t.Fatalf("ingest: %d %s", status, body)
	}
	var got string
	waitFor(t, "Patient/2222222222 in the store", func() bool {
		resp, err := http.Get("http://" + addr + "/Patient/2222222222")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got = string(b)
		return resp.StatusCode == 200
	})
	if !strings.Contains(got, `"family":"Jones"`) {
		t.Fatalf("Patient/2222222222 = %s", got)
	}
}
