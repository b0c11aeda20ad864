package connectors

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	url := "http://" + eng.Listeners()[0].BoundAddr() + "/$ingest"
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
func TestToFHIRErrorIsAE(t *testing.T) {
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
	url := "http://" + eng.Listeners()[0].BoundAddr() + "/$ingest"
	bad := strings.Replace(adtA01, "|19800101|M", "|19801301|M", 1)
	status, _, body := post(t, url, "POST", headers(), bad)
	if status != 422 || !strings.Contains(body, "\rMSA|AE|8457239|") || !strings.Contains(body, `PID-7: \E\"19801301\E\" is not a valid date`) {
		t.Fatalf("status %d, ACK %q", status, body)
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
      - { name: store, type: fhir-store, path: fhir.db, serve: { listen: "127.0.0.1:0", base: / } }
`)
	addr := eng.Listeners()[0].BoundAddr()
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
