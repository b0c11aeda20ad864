package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bundled Care Gateway takes the seed's example report once, refuses it as a duplicate
// after, and queues it for FLIS, SEI2 and RKKP (nothing listens there in this test).
func TestBundledCareGateway(t *testing.T) {
	gateway := freeAddr(t)
	j := startJunction(t, bundledRoutes(t), map[string]string{"GATEWAY": gateway})
	bundle, err := os.ReadFile(filepath.Join(repoRoot, "fhir", "testdata", "seed-care-delivery-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "0c1112c3-77b5-4d85-965c-0c26228ec7ef"
	put := func() (int, string) {
		req, _ := http.NewRequest("PUT", "http://"+gateway+"/fhir/Bundle/"+id, strings.NewReader(string(bundle)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := put(); status != http.StatusCreated {
		t.Fatalf("first PUT: %d %s", status, body)
	}
	status, body := put()
	if status != http.StatusConflict || !strings.Contains(body, "DUPLICATE_ENTITY: Entity with id 'Bundle/"+id+"' already exists") {
		t.Fatalf("second PUT: %d %s", status, body)
	}
	msgs := j.Messages(t, "channel=care-gateway")
	if len(msgs) != 1 || msgs[0].ControlID != id || msgs[0].Status != "QUEUED" || len(msgs[0].Destinations) != 3 {
		t.Fatalf("logged = %+v", msgs)
	}
}
