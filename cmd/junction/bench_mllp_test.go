package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"junction/engine"
	"junction/transforms"
)

// loadBench loads a bench configuration as runEngine does.
func loadBench(t *testing.T, cfg []byte) *engine.Engine {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	eng, err := engine.LoadBytes(file, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg)
	}
	return eng
}

func TestTheMLLPBenchChannelIsTheIngestChannelWithAnMLLPSource(t *testing.T) {
	ingestCfg, mllpCfg, err := benchConfigs(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	in, ml := loadBench(t, ingestCfg).Channel("bench"), loadBench(t, mllpCfg).Channel("bench")
	if in == nil || ml == nil {
		t.Fatal("no channel named bench")
	}
	if in.SourceType != "ingest" || ml.SourceType != "mllp" {
		t.Errorf("sources %s and %s, want ingest and mllp", in.SourceType, ml.SourceType)
	}
	scripts := func(ps []*transforms.Program) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Source)
		}
		return out
	}
	if a, b := scripts(in.Filters), scripts(ml.Filters); len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Errorf("filters %q and %q, want the same one", a, b)
	}
	if a, b := scripts(in.Transforms), scripts(ml.Transforms); len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Errorf("transforms %q and %q, want the same one", a, b)
	}
	if len(in.Destinations) != 1 || len(ml.Destinations) != 1 || ml.Destinations[0].Type != "file" || ml.Destinations[0].Name != in.Destinations[0].Name {
		t.Errorf("destinations differ: %d and %d", len(in.Destinations), len(ml.Destinations))
	}
}

func TestBenchMLLPSendsTheMessageOverMLLPAndEveryAnswerIsAnAAACK(t *testing.T) {
	body, err := os.ReadFile("../../hl7/testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	body = crLines(body)
	_, mllpCfg, err := benchConfigs(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := benchMLLP(mllpCfg, body, 2, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors != 0 {
		t.Fatalf("%d messages, %d errors (first: %v)", r.Requests, r.Errors, r.FirstError)
	}
	if r.delivered <= 0 {
		t.Errorf("nothing delivered to the file destination: %+v", r)
	}
}
