package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The Healthcare Exchange flow with the bundled routes.yaml: an ADT posted to $ingest is
// retrievable as FHIR with GET /Patient?_id=<NHS number>; an A08 updates it (version 2);
// an A40 merge links the two records.
func TestBundledExchangeStoresFHIR(t *testing.T) {
	j := startJunction(t, bundledRoutes(t), map[string]string{"GATEWAY": freeAddr(t)})
	base := "http://" + j.Ingest
	msg := func(name string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, "hl7tofhir", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type patient struct {
		ID   string
		Meta struct{ VersionID string }
		Name []struct {
			Family string
			Given  []string
		}
		Active *bool
		Link   []struct {
			Other struct{ Reference string }
			Type  string
		}
	}
	search := func(query string) (int, []patient) {
		resp, err := http.Get(base + "/Patient?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b struct {
			ResourceType string
			Type         string
			Total        int
			Entry        []struct{ Resource patient }
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&b) != nil || b.Type != "searchset" {
			t.Fatalf("GET /Patient?%s: %d, not a searchset", query, resp.StatusCode)
		}
		var ps []patient
		for _, e := range b.Entry {
			ps = append(ps, e.Resource)
		}
		return b.Total, ps
	}
	waitPatient := func(what string, cond func(patient) bool) patient {
		var got patient
		waitFor(t, 20*time.Second, what, func() (bool, string) {
			n, ps := search("_id=9434765919")
			if n != 1 {
				return false, fmt.Sprintf("%d patients", n)
			}
			got = ps[0]
			return cond(got), fmt.Sprintf("%+v", got)
		})
		return got
	}

	if r := postHL7(t, j.IngestURL(), "emergency-care", msg("adt_a01_admit_nhs.hl7")); r.Status != 200 {
		t.Fatalf("A01: %d %s", r.Status, r.Body)
	}
	p := waitPatient("the admitted patient", func(p patient) bool { return p.Meta.VersionID == "1" })
	if len(p.Name) == 0 || p.Name[0].Family != "O'BRIEN" {
		t.Errorf("Patient name = %+v, want family O'BRIEN (upper-cased by the channel's transform)", p.Name)
	}
	if n, _ := search("identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"); n != 1 {
		t.Errorf("search by NHS number identifier: %d", n)
	}

	if r := postHL7(t, j.IngestURL(), "emergency-care", msg("adt_a08_update_nulls.hl7")); r.Status != 200 {
		t.Fatalf("A08: %d %s", r.Status, r.Body)
	}
	waitPatient("the updated patient (version 2)", func(p patient) bool { return p.Meta.VersionID == "2" })

	if r := postHL7(t, j.IngestURL(), "emergency-care", msg("adt_a40_merge.hl7")); r.Status != 200 {
		t.Fatalf("A40: %d %s", r.Status, r.Body)
	}
	p = waitPatient("the merge link", func(p patient) bool { return len(p.Link) > 0 })
	if p.Link[0].Type != "replaces" {
		t.Fatalf("survivor links = %+v, want replaces", p.Link)
	}
	other := p.Link[0].Other.Reference
	resp, err := http.Get(base + "/" + other)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var merged patient
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&merged) != nil {
		t.Fatalf("GET /%s: %d", other, resp.StatusCode)
	}
	if merged.Active == nil || *merged.Active || len(merged.Link) == 0 || merged.Link[0].Type != "replaced-by" {
		t.Fatalf("merged-away patient = %+v, want inactive and replaced-by", merged)
	}
}
