package engine_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"junction/engine"
)

// A configuration with an unknown key zz at every level the engine reads: each error
// lists the keys known there, which must be those the engine's FieldSpecs document.
const everyLevelConfig = `zz: 1
admin:
  listen: 127.0.0.1:8090
  zz: 1
store:
  path: data/junction.db
  zz: 1
retention:
  zz: 1
channels:
  - name: c
    zz: 1
    retention:
      zz: 1
    source:
      type: ingest
      listen: :8000
      domain: d
      auth: none
      zz: 1
    tofhir:
      zz: 1
    destinations:
      - name: a
        type: file
        dir: out
        zz: 1
        retry:
          zz: 1
`

// keysOf are the keys fields name directly under prefix ("" for the top).
func keysOf(fields []engine.FieldSpec, prefix string) []string {
	var out []string
	for _, f := range fields {
		if rest, ok := strings.CutPrefix(f.Name, prefix); ok {
			k, _, _ := strings.Cut(rest, ".")
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func specOf[T any](specs []T, typ func(T) string, fields func(T) []engine.FieldSpec, name string) []engine.FieldSpec {
	for _, s := range specs {
		if typ(s) == name {
			return fields(s)
		}
	}
	return nil
}

func TestTheEnginesDocumentedKeysAreTheKeysItReads(t *testing.T) {
	_, err := engine.LoadBytes("routes.yaml", []byte(everyLevelConfig))
	if err == nil {
		t.Fatal("loaded a configuration full of unknown keys")
	}
	known := map[string][]string{} // path → the keys the error says are known
	re := regexp.MustCompile(`^routes\.yaml:\d+: (?:(\S+): )?unknown key "zz" \(expected one of: (.*)\)$`)
	for _, line := range strings.Split(err.Error(), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			known[m[1]] = strings.Split(m[2], ", ")
		}
	}
	ingest := specOf(engine.SourceTypes(), func(s engine.SourceSpec) string { return s.Type }, func(s engine.SourceSpec) []engine.FieldSpec { return s.Fields }, "ingest")
	file := specOf(engine.DestinationTypes(), func(s engine.DestinationSpec) string { return s.Type }, func(s engine.DestinationSpec) []engine.FieldSpec { return s.Fields }, "file")
	without := func(keys, drop []string) []string {
		return slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return slices.Contains(drop, k) })
	}
	for _, c := range []struct {
		path string
		want []string
		drop []string // the connector's own keys
	}{
		{"", keysOf(engine.TopFields, ""), nil},
		{"admin", keysOf(engine.TopFields, "admin."), nil},
		{"store", without(keysOf(engine.TopFields, "store."), []string{"url"}), nil}, // driver sqlite (postgres reads url, not path)
		{"retention", keysOf(engine.TopFields, "retention."), nil},
		{"channels[0].retention", keysOf(engine.ChannelFields, "retention."), nil},
		{"channels[0]", keysOf(engine.ChannelFields, ""), nil},
		{"channels[0].tofhir", keysOf(engine.ChannelFields, "tofhir."), nil},
		{"channels[0].source", keysOf(engine.SourceFields, ""), keysOf(ingest, "")},
		{"channels[0].destinations[0]", keysOf(engine.DestinationFields, ""), keysOf(file, "")},
		{"channels[0].destinations[0].retry", keysOf(engine.DestinationFields, "retry."), nil},
	} {
		got, ok := known[c.path]
		if !ok {
			t.Errorf("no unknown-key error at %q in:\n%v", c.path, err)
			continue
		}
		if got = without(got, c.drop); !slices.Equal(got, c.want) {
			t.Errorf("at %q the engine reads %v but its FieldSpecs (engine/registry.go) document %v", c.path, got, c.want)
		}
	}
}
