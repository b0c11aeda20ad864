package engine_test

import (
	"strings"
	"testing"

	"junction/engine"
)

const storeChannels = `
channels:
  - name: a
    source: { type: ingest, listen: "127.0.0.1:0", domain: d, data_types: [Hl7v2] }
    destinations:
      - { name: out, type: file, dir: out }
`

func TestTheStoreIsAnSQLiteFileBesideTheConfigurationUnlessToldOtherwise(t *testing.T) {
	e, err := engine.LoadBytes("/etc/junction/routes.yaml", []byte(strings.TrimPrefix(storeChannels, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.StoreConfig{Driver: engine.StoreSQLite, Path: "/etc/junction/data/junction.db"}
	if e.StoreConfig != want || e.StorePath != want.Path {
		t.Fatalf("store %+v (path %q), want %+v", e.StoreConfig, e.StorePath, want)
	}
}

func TestAPostgreSQLStoreIsReadFromItsURLAndNeverShowsThePassword(t *testing.T) {
	cfg := "store:\n  driver: postgres\n  url: postgres://junction:s3cret@db.example:5432/junction?sslmode=require\n" + storeChannels
	e, err := engine.LoadBytes("routes.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if e.StoreConfig.Driver != engine.StorePostgres || e.StorePath != "" || !strings.Contains(e.StoreConfig.URL, "s3cret") {
		t.Fatalf("store %+v, path %q", e.StoreConfig, e.StorePath)
	}
	if r := e.StoreConfig.Redacted(); strings.Contains(r, "s3cret") || !strings.Contains(r, "db.example:5432/junction") {
		t.Fatalf("redacted %q", r)
	}
}

func TestAStoreBlockThatCannotWorkIsRefusedAtItsLine(t *testing.T) {
	for _, c := range []struct{ name, store, want string }{
		{"unknown driver", "store:\n  driver: mysql\n", `routes.yaml:2: store.driver: expected one of sqlite, postgres, got "mysql"`},
		{"postgres without url", "store:\n  driver: postgres\n", `routes.yaml:2: store: missing required key "url"`},
		{"not a postgres url", "store:\n  driver: postgres\n  url: mysql://db/junction\n", "routes.yaml:3: store.url: expected a postgres://user:password@host:port/database url"},
		{"a path with postgres", "store:\n  driver: postgres\n  url: postgres://db/j\n  path: x.db\n", `routes.yaml:4: store: unknown key "path" (expected one of: driver, url)`},
		{"a url with sqlite", "store:\n  url: postgres://db/j\n", `routes.yaml:2: store: unknown key "url" (expected one of: driver, path)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := engine.LoadBytes("routes.yaml", []byte(c.store+strings.TrimPrefix(storeChannels, "\n")))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
