package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/engine"
)

const envRoutes = `admin:
  listen: ${JT_ADMIN:-127.0.0.1:8090}
store:
  path: ${JT_DATA}/junction.db
channels:
  - name: ed-adt
    enabled: ${JT_ENABLED:-true}
    description: "costs $${PRICE} and $5"
    source:
      type: ingest
      listen: ${JT_INGEST:-127.0.0.1:8000}
      domain: emergency-care
      max_body: ${JT_MAX_BODY:-1MB}
    transform:
      - 'set("PID-4", "${JT_SITE:-RX1}")'
    destinations:
      - name: archive
        type: file
        dir: ${JT_DATA}/out
`

func TestEnvironmentReferencesAreExpandedInEveryValueButScriptsWithDefaultsAndEscapes(t *testing.T) {
	t.Setenv("JT_DATA", "/srv/junction")
	t.Setenv("JT_INGEST", "127.0.0.1:9000")
	t.Setenv("JT_SITE", "") // empty: the default is taken
	e, err := engine.LoadBytes("routes.yaml", []byte(envRoutes))
	if err != nil {
		t.Fatal(err)
	}
	ch := e.Channels()[0]
	if e.Admin.Listen != "127.0.0.1:8090" || e.StorePath != "/srv/junction/junction.db" {
		t.Errorf("admin %q, store %q", e.Admin.Listen, e.StorePath)
	}
	if !ch.Enabled || ch.Description != "costs ${PRICE} and $5" {
		t.Errorf("enabled %v, description %q", ch.Enabled, ch.Description)
	}
	if !strings.Contains(ch.SourceInfo, "127.0.0.1:9000") {
		t.Errorf("source %q: want the listen address from JT_INGEST", ch.SourceInfo)
	}
	if src := ch.Transforms[0].Source; src != `set("PID-4", "${JT_SITE:-RX1}")` {
		t.Errorf("transform %q: scripts are not expanded", src)
	}
	if !strings.Contains(ch.Section, "${JT_INGEST:-127.0.0.1:8000}") {
		t.Errorf("the channel's section shows the file as written, got %q", ch.Section)
	}
}

func TestAPlainValueIsTypedByWhatItsReferenceBringsIn(t *testing.T) {
	t.Setenv("JT_DATA", "data")
	t.Setenv("JT_ENABLED", "false")
	e, err := engine.LoadBytes("routes.yaml", []byte(envRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if e.Channels()[0].Enabled {
		t.Error("enabled: ${JT_ENABLED:-true} with JT_ENABLED=false is true")
	}
}

func TestAnUnsetVariableWithoutDefaultIsAnErrorAtItsLine(t *testing.T) {
	os.Unsetenv("JT_DATA")
	_, err := engine.LoadBytes("routes.yaml", []byte(envRoutes+"      - { name: b, type: file, dir: \"${bad name}\" }\n"))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		"routes.yaml:4: ${JT_DATA}: environment variable JT_DATA is not set (give a default: ${JT_DATA:-value})",
		"routes.yaml:19: ${JT_DATA}: environment variable JT_DATA is not set",
		"routes.yaml:20: ${bad name}: expected ${NAME}, ${NAME:-default} or ${file:PATH}",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors:\n%v\nwant %q", err, want)
		}
	}
}

func TestFileReferencesReadSecretsRelativeToRoutesYAML(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `channels:
  - name: a
    source: { type: ingest, listen: "127.0.0.1:0", domain: a }
    transform: ['set("PID-4", "${file:token}")']
    destinations:
      - { name: b, type: http, url: "http://127.0.0.1:1/in", headers: { Authorization: "Bearer ${file:token}" } }
      - { name: c, type: http, url: "http://127.0.0.1:1/in", headers: { X: "${file:missing}" } }
`
	_, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(cfg))
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:7: ${file:missing}") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
	e, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(strings.Replace(cfg, "${file:missing}", "$${file:missing}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// A script is shown to operators (a filtered message names its filter): a secret is
	// never expanded into one.
	if src := e.Channels()[0].Transforms[0].Source; src != `set("PID-4", "${file:token}")` {
		t.Errorf("transform %q: scripts are not expanded", src)
	}
}

// The bundled routes.yaml takes its listen addresses and folders from the environment,
// with today's values as defaults.
func TestTheBundledRoutesTakeAddressesFromTheEnvironment(t *testing.T) {
	t.Setenv("JUNCTION_INGEST_LISTEN", "127.0.0.1:9000")
	t.Setenv("JUNCTION_DATA", "/srv/junction")
	e, err := engine.Load(filepath.Join("..", "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Admin.Listen != "127.0.0.1:8090" || e.StorePath != "/srv/junction/junction.db" {
		t.Errorf("admin %q, store %q", e.Admin.Listen, e.StorePath)
	}
	for _, name := range []string{"ed-adt", "ed-fhir-csv"} {
		if info := e.Channel(name).SourceInfo; !strings.Contains(info, "127.0.0.1:9000") {
			t.Errorf("%s: source %q, want it on JUNCTION_INGEST_LISTEN", name, info)
		}
	}
	if info := e.Channel("lab-mllp").SourceInfo; !strings.Contains(info, "127.0.0.1:2575") {
		t.Errorf("lab-mllp: source %q, want the default 127.0.0.1:2575", info)
	}
}
