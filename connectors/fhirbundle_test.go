package connectors

import (
	"encoding/json"
	"fmt"
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
)

// seedBundle is the Care Gateway seed's example report, pretty-printed as it was sent.
func seedBundle(t testing.TB) string {
	b, err := os.ReadFile("../fhir/testdata/seed-care-delivery-report.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const seedID = "0c1112c3-77b5-4d85-965c-0c26228ec7ef"

// receiver records the PUTs a destination makes.
type receiver struct {
	mu   sync.Mutex
	got  map[string][]string // path → bodies
	addr string
}

func startReceiver(t testing.TB) *receiver {
	r := &receiver{got: map[string][]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got[req.Method+" "+req.URL.Path] = append(r.got[req.Method+" "+req.URL.Path], string(b))
		r.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *receiver) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[key])
}

// startGateway runs a Care Gateway channel on loopback with the KL packages of the repo.
func startGateway(t testing.TB, rcv *receiver) (*engine.Engine, string) {
	pkgs, _ := filepath.Abs("../fhir/packages")
	cfg := fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      base: /fhir
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "%[1]s/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "%[1]s/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "%[1]s/hl7.fhir.dk.core#1.1.0.tgz"
      auth: none
    destinations:
      - { name: flis, type: http, method: PUT, url: "http://%[2]s/flis/Bundle/{control_id}", retry: { backoff: 20ms } }
      - { name: sei2, type: http, method: PUT, url: "http://%[2]s/sei2/Bundle/{control_id}", retry: { backoff: 20ms } }
`, pkgs, rcv.addr)
	eng := runRoutes(t, cfg)
	return eng, "http://" + eng.BoundAddr("HTTP") + "/fhir"
}

type outcome struct {
	ResourceType string
	Issue        []struct {
		Severity, Code, Diagnostics string
		Location, Expression        []string
	}
}

func request(t testing.TB, method, url, contentType, body string, hdr ...string) (int, http.Header, string) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func parseOutcome(t testing.TB, body string) outcome {
	t.Helper()
	var oo outcome
	if err := json.Unmarshal([]byte(body), &oo); err != nil || oo.ResourceType != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %v %q", err, body)
	}
	return oo
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The seed's example is accepted once, refused as a duplicate after, read back, and
// forwarded once to each destination.
func TestBundleAcceptedOnceThenDuplicate(t *testing.T) {
	rcv := startReceiver(t)
	_, base := startGateway(t, rcv)
	bundle := seedBundle(t)

	status, hdr, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/json", bundle)
	if status != http.StatusCreated {
		t.Fatalf("first PUT: %d %s", status, body)
	}
	if loc := hdr.Get("Location"); loc != "/fhir/Bundle/"+seedID+"/_history/1" {
		t.Errorf("Location = %q", loc)
	}
	if body != bundle {
		t.Errorf("201 body is not the stored Bundle")
	}

	status, _, body = request(t, "PUT", base+"/Bundle/"+seedID, "application/fhir+json", bundle)
	if status != http.StatusConflict {
		t.Fatalf("second PUT: %d %s", status, body)
	}
	oo := parseOutcome(t, body)
	want := "DUPLICATE_ENTITY: Entity with id 'Bundle/" + seedID + "' already exists"
	if len(oo.Issue) != 1 || oo.Issue[0].Severity != "error" || oo.Issue[0].Code != "processing" || oo.Issue[0].Diagnostics != want {
		t.Fatalf("duplicate outcome = %+v", oo)
	}

	status, _, body = request(t, "GET", base+"/Bundle/"+seedID, "", "")
	if status != http.StatusOK || body != bundle {
		t.Fatalf("GET: %d", status)
	}
	status, _, body = request(t, "GET", base+"/Bundle/unknown", "", "")
	if status != http.StatusNotFound || !strings.Contains(body, "Resource Bundle/unknown is not known") {
		t.Fatalf("GET unknown: %d %s", status, body)
	}

	for _, key := range []string{"PUT /flis/Bundle/" + seedID, "PUT /sei2/Bundle/" + seedID} {
		waitFor(t, key, func() bool { return rcv.count(key) >= 1 })
	}
	time.Sleep(100 * time.Millisecond) // a second, wrong forward would show up by now
	if n := rcv.count("PUT /flis/Bundle/" + seedID); n != 1 {
		t.Errorf("forwarded %d times to flis, want once", n)
	}
}

func TestBundleRefusals(t *testing.T) {
	_, base := startGateway(t, startReceiver(t))
	bundle := seedBundle(t)
	noPeriod := mutate(t, bundle, func(b map[string]any) {
		enc := b["entry"].([]any)[6].(map[string]any)["resource"].(map[string]any)
		if enc["resourceType"] != "Encounter" || enc["period"] == nil {
			t.Fatal("test setup: entry 6 is not the Encounter with a period")
		}
		delete(enc, "period")
	})
	cases := []struct {
		name, method, url, ct, body string
		status                      int
		want                        string
	}{
		{"id mismatch", "PUT", "/Bundle/other", "application/json", bundle, 400,
			`resource body must contain an ID element which matches the request URL for update (PUT) operation - Resource body ID of "` + seedID + `" does not match URL ID of "other"`},
		{"no id", "PUT", "/Bundle/x1", "application/json", `{"resourceType":"Bundle","type":"collection"}`, 400, `Resource body ID of "" does not match URL ID of "x1"`},
		{"broken JSON", "PUT", "/Bundle/x2", "application/json", "{\n  \"resourceType\" : \"Bundle\",\n  \"id\" : x2\n}", 400, "line 3, col 10"},
		{"media type", "PUT", "/Bundle/x3", "text/plain", bundle, 415, "Content-Type must be application/fhir+json or application/json"},
		{"not a Bundle", "PUT", "/Bundle/x4", "application/json", `{"resourceType":"Patient","id":"x4"}`, 400, `expected "Bundle" but found "Patient"`},
		{"transaction", "PUT", "/Bundle/x5", "application/json", `{"resourceType":"Bundle","id":"x5","type":"transaction"}`, 422, "Bundle.type must be one of collection, document, message"},
		{"other type", "PUT", "/Patient/1", "application/json", `{"resourceType":"Patient","id":"1"}`, 404, "Unknown resource type 'Patient'"},
		{"unknown profile", "PUT", "/Bundle/x6", "application/json", `{"resourceType":"Bundle","id":"x6","type":"collection","meta":{"profile":["http://example.org/other"]}}`, 422, "is not accepted here"},
		{"no Encounter.period", "PUT", "/Bundle/" + seedID, "application/json", noPeriod, 422,
			"Encounter.period: minimum required = 1, but only found 0 (from http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-encounter)"},
		{"no Encounter.period: location", "PUT", "/Bundle/" + seedID, "application/json", noPeriod, 422,
			"Bundle.entry[6].resource.ofType(Encounter) Line "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := request(t, c.method, base+c.url, c.ct, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			oo := parseOutcome(t, body)
			found := false
			for _, i := range oo.Issue {
				found = found || strings.Contains(i.Diagnostics+" "+strings.Join(i.Location, " "), c.want)
				if c.status == 422 && i.Severity == "error" && i.Code != "processing" {
					t.Errorf("issue code %q, want processing as the Care Gateway gives it: %+v", i.Code, i)
				}
			}
			if !found {
				t.Fatalf("no issue contains %q: %s", c.want, body)
			}
		})
	}
	// The refused report was not taken: once corrected it is accepted under its id.
	if status, _, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/json", bundle); status != http.StatusCreated {
		t.Fatalf("corrected report: %d %s", status, body)
	}
}

// Two PUTs of the same new id at once: exactly one is created, the other refused.
func TestBundleConcurrentDuplicates(t *testing.T) {
	_, base := startGateway(t, startReceiver(t))
	bundle := seedBundle(t)
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("race-%d", i)
		body := strings.Replace(bundle, seedID, id, 1)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for j := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j], _, _ = request(t, "PUT", base+"/Bundle/"+id, "application/fhir+json", body)
			}()
		}
		wg.Wait()
		if !(statuses[0] == 201 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 201) {
			t.Fatalf("%s: statuses %v, want one 201 and one 409", id, statuses)
		}
	}
}

func TestBundlePreferAndMetadata(t *testing.T) {
	_, base := startGateway(t, startReceiver(t))
	bundle := seedBundle(t)
	status, _, body := request(t, "PUT", base+"/Bundle/p1", "application/json", strings.Replace(bundle, seedID, "p1", 1), "Prefer", "return=minimal")
	if status != 201 || body != "" {
		t.Fatalf("minimal: %d %q", status, body)
	}
	status, _, body = request(t, "PUT", base+"/Bundle/p2", "application/json", strings.Replace(bundle, seedID, "p2", 1), "Prefer", "return=OperationOutcome")
	if status != 201 || !strings.Contains(body, `Successfully created resource \"Bundle/p2/_history/1\"`) {
		t.Fatalf("OperationOutcome: %d %s", status, body)
	}
	status, _, body = request(t, "GET", base+"/metadata", "", "")
	if status != 200 || !strings.Contains(body, `"resourceType":"CapabilityStatement"`) || !strings.Contains(body, "klgateway-care-delivery-report") {
		t.Fatalf("metadata: %d %s", status, body)
	}
	status, _, body = request(t, "POST", base+"/Bundle/$validate", "application/fhir+json", bundle)
	if status != 200 || parseOutcome(t, body).Issue == nil {
		t.Fatalf("$validate: %d %s", status, body)
	}
}

// mutate changes a Bundle as JSON and writes it back indented.
func mutate(t testing.TB, bundle string, change func(map[string]any)) string {
	var b map[string]any
	if err := json.Unmarshal([]byte(bundle), &b); err != nil {
		t.Fatal(err)
	}
	change(b)
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
