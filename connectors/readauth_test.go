package connectors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/auth"
	"junction/engine"
)

// A stored Care Gateway Bundle is read only with a token that is valid, grants reads (a
// read role or a SMART read scope) and grants the municipality managing its citizen, as
// its PUT needed.
func TestAStoredBundleIsReadOnlyWithATokenGrantingReadsAndItsMunicipality(t *testing.T) {
	_, keys, other := authKeys(t)
	pkgs, _ := filepath.Abs("../fhir/packages")
	eng := runRoutes(t, fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "%[1]s/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "%[1]s/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "%[1]s/hl7.fhir.dk.core#1.1.0.tgz"
      auth: { issuer: "https://idp.example/realms/exchange", audience: junction, pem: [%[2]s] }
`, pkgs, keys.Public))
	base := "http://" + eng.BoundAddr("HTTP") + "/fhir"
	const org = "123456789012345"
	writer := token(t, keys.Private, auth.TokenClaims{Organisations: []string{org}})
	if status, _, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/fhir+json", seedBundle(t), "Authorization", "Bearer "+writer); status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	withRoles := func(orgs []string, extra map[string]any) string {
		return "Bearer " + token(t, keys.Private, auth.TokenClaims{Organisations: orgs, Extra: extra})
	}
	cases := []struct {
		name, authz string
		status      int
		want        string
	}{
		{"no token", "", 401, "no bearer token"},
		{"a stranger's key", "Bearer " + token(t, other.Private, auth.TokenClaims{Organisations: []string{org}, Extra: map[string]any{"roles": "fhir-reader"}}), 401, ""},
		{"the writer's token, no read grant", "Bearer " + writer, 403, "token grants no read of Bundle"},
		// Answered as unknown: a refusal would confirm the Bundle and name its municipality.
		{"a reader of another municipality", withRoles([]string{"999999999999999"}, map[string]any{"roles": []string{"fhir-reader"}}), 404, "is not known"},
		{"a roles claim of another shape", withRoles([]string{org}, map[string]any{"roles": map[string]any{"x": 1}}), 403, "roles"},
		{"a patient-level scope", withRoles([]string{org}, map[string]any{"scope": "patient/Bundle.read"}), 403, "token grants no read"},
		{"a narrowed v2 scope", withRoles([]string{org}, map[string]any{"scope": "system/Bundle.rs?category=x"}), 403, "token grants no read"},
		{"the read role", withRoles([]string{org}, map[string]any{"roles": []string{"fhir-reader"}}), 200, seedID},
		{"a SMART v1 scope", withRoles([]string{org}, map[string]any{"scope": "openid system/Bundle.read"}), 200, seedID},
		{"a SMART v2 wildcard scope", withRoles([]string{org}, map[string]any{"scope": "system/*.rs"}), 200, seedID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.authz != "" {
				hdr = []string{"Authorization", c.authz}
			}
			status, h, body := request(t, "GET", base+"/Bundle/"+seedID, "", "", hdr...)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("GET: %d %s, want %d with %q", status, body, c.status, c.want)
			}
			if status == 401 && !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
			}
			if status != 200 && (strings.Contains(body, `"entry"`) || strings.Contains(body, org) && status != 403) {
				t.Error("a refused read answered with the Bundle")
			}
		})
	}
	// An unknown id is not told apart from a known one without a valid token.
	if status, _, _ := request(t, "GET", base+"/Bundle/unknown", "", ""); status != 401 {
		t.Errorf("unknown Bundle without a token: %d, want 401", status)
	}
	// $validate stores nothing but is served behind the same tokens as PUT.
	if status, _, body := request(t, "POST", base+"/Bundle/$validate", "application/fhir+json", seedBundle(t)); status != 401 {
		t.Errorf("$validate without a token: %d %s", status, body)
	}
	if status, _, body := request(t, "POST", base+"/Bundle/$validate", "application/fhir+json", seedBundle(t), "Authorization", "Bearer "+writer); status != 200 {
		t.Errorf("$validate with a token: %d %s", status, body)
	}
}

// routesWithStore is fhirStoreRoutes with an auth block (or none) on the source and serve.
func routesWithStore(sourceAuth, serveAuth string) string {
	return `store:
  path: junction.db
channels:
  - name: fhir-in
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [FHIR]
` + sourceAuth + `
    destinations:
      - name: store
        type: fhir-store
        serve: { listen: 127.0.0.1:0, base: / ` + serveAuth + ` }
`
}

// The FHIR store served on the $ingest listener takes the listener's tokens: every read,
// history and search needs a valid token granting reads; only metadata is open.
func TestFHIRStoreReadsOnTheIngestListenerNeedItsTokens(t *testing.T) {
	dir, keys, _ := authKeys(t)
	_ = dir
	eng, _ := startFHIRStoreEngine(t, routesWithStore(`      auth: { issuer: "https://idp.example/realms/exchange", audience: junction, pem: [`+keys.Public+`] }`, ""))
	base := "http://" + eng.BoundAddr("HTTP")
	sender := "Bearer " + token(t, keys.Private, auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}})
	patient := `{"resourceType":"Patient","id":"0000000000","name":[{"family":"Fernández"}]}`
	if status, _, body := post(t, base+"/$ingest", "POST", headers("data-type", "FHIR", "Authorization", sender), patient); status != 200 {
		t.Fatalf("POST: %d %s", status, body)
	}
	reader := "Bearer " + token(t, keys.Private, auth.TokenClaims{Extra: map[string]any{"roles": "fhir-reader"}})
	patientsOnly := "Bearer " + token(t, keys.Private, auth.TokenClaims{Extra: map[string]any{"scope": "system/Patient.read"}})
	waitFor(t, "the Patient to be stored", func() bool {
		status, _, _ := request(t, "GET", base+"/Patient/0000000000", "", "", "Authorization", reader)
		return status == 200
	})
	for _, path := range []string{"/Patient/0000000000", "/Patient?_id=0000000000", "/Patient/0000000000/_history", "/Patient/0000000000/_history/1", "/Observation?subject=Patient/0000000000"} {
		if status, h, body := request(t, "GET", base+path, "", ""); status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") || strings.Contains(body, "Fern") {
			t.Errorf("GET %s without a token: %d %s", path, status, body)
		}
		if status, _, body := request(t, "GET", base+path, "", "", "Authorization", sender); status != 403 || !strings.Contains(body, "fhir-reader") {
			t.Errorf("GET %s with a sender's token: %d %s", path, status, body)
		}
		if status, _, body := request(t, "GET", base+path, "", "", "Authorization", reader); status != 200 {
			t.Errorf("GET %s with the read role: %d %s", path, status, body)
		}
	}
	if status, _, _ := request(t, "GET", base+"/Patient/0000000000", "", "", "Authorization", patientsOnly); status != 200 {
		t.Errorf("system/Patient.read reading a Patient: %d", status)
	}
	if status, _, body := request(t, "GET", base+"/Observation?subject=Patient/0000000000", "", "", "Authorization", patientsOnly); status != 403 {
		t.Errorf("system/Patient.read searching Observations: %d %s", status, body)
	}
	if status, _, _ := request(t, "GET", base+"/metadata", "", ""); status != 200 {
		t.Errorf("metadata without a token: %d, want it open", status)
	}
}

// Patient data is served without tokens only where routes.yaml says auth: none, and
// junction check (engine.Load) warns about it; else a FHIR store on a listener where no
// source checks tokens is a config error at its line.
func TestPatientDataIsServedOpenlyOnlyWhereTheConfigSaysAuthNone(t *testing.T) {
	load := func(routes string) (*engine.Engine, error) {
		file := filepath.Join(t.TempDir(), "routes.yaml")
		os.WriteFile(file, []byte(routes), 0o644)
		return engine.Load(file)
	}
	_, err := load(routesWithStore("", ""))
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:14:") || !strings.Contains(err.Error(), "auth: none") {
		t.Fatalf("store served where nothing checks tokens: %v, want an error at line 14 naming auth: none", err)
	}
	eng, err := load(routesWithStore("", ", auth: none"))
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, w := range eng.Warnings() {
		warned = append(warned, w.Error())
	}
	all := strings.Join(warned, "\n")
	if !strings.Contains(all, "routes.yaml:14: channels[0].destinations[0].serve.auth: auth: none: anyone") || !strings.Contains(all, "may read this FHIR store (patient data)") {
		t.Errorf("warnings %q: want one for the open store at its line", all)
	}
	if !strings.Contains(all, "channels[0].source: no auth block") {
		t.Errorf("warnings %q: want one for the source without auth", all)
	}

	eng, _ = startFHIRStoreEngine(t, routesWithStore("      auth: none", ", auth: none"))
	base := "http://" + eng.BoundAddr("HTTP")
	if status, _, body := request(t, "GET", base+"/Patient?_id=x", "", ""); status != 200 {
		t.Errorf("open store: %d %s", status, body)
	}
}

// A Care Gateway source without an auth block takes Bundles from anyone (warned) but
// serves none of them back; auth: none serves them.
func TestAGatewayWithoutAuthServesStoredBundlesOnlyWithAuthNone(t *testing.T) {
	pkgs, _ := filepath.Abs("../fhir/packages")
	routes := func(authLine string) string {
		return fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "%[1]s/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "%[1]s/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "%[1]s/hl7.fhir.dk.core#1.1.0.tgz"
%[2]s
`, pkgs, authLine)
	}
	for _, c := range []struct {
		authLine string
		status   int
	}{{"", 403}, {"      auth: none", 200}} {
		eng := runRoutes(t, routes(c.authLine))
		base := "http://" + eng.BoundAddr("HTTP") + "/fhir/Bundle/" + seedID
		if status, _, body := request(t, "PUT", base, "application/fhir+json", seedBundle(t)); status != 201 {
			t.Fatalf("%q: PUT %d %s", c.authLine, status, body)
		}
		if status, _, body := request(t, "GET", base, "", ""); status != c.status {
			t.Errorf("%q: GET %d %s, want %d", c.authLine, status, body, c.status)
		}
	}
}
