package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"junction/engine"
)

const reloadBase = `store:
  path: junction.db
functions:
  'tag()': '"A"'
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed, auth: none }
    transform:
      - 'set("PID-5.1", tag())'
    destinations:
      - { name: archive, type: file, dir: out }
      - { name: lis, type: http, url: "http://127.0.0.1:1/lis", headers: { Authorization: "${LIS_TOKEN:-abc}" } }
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab, auth: none }
    destinations:
      - name: archive
        type: file
        dir: out
        fsync: ${LAB_FSYNC:-false}
`

func reloadWith(t *testing.T, eng *engine.Engine, text string) *engine.ReloadReport {
	t.Helper()
	rep, err := eng.ReloadBytes(context.Background(), []byte(text), "test")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAReloadReportNamesEachChangeByChannelAndDestinationNameAndHidesSecrets(t *testing.T) {
	eng, _, _ := startRoutes(t, reloadBase)
	next := strings.NewReplacer(
		`url: "http://127.0.0.1:1/lis"`, `url: "http://127.0.0.1:2/lis"`,
		`"${LIS_TOKEN:-abc}"`, `"s3cret"`,
		"      - { name: archive, type: file, dir: out }\n", "",
	).Replace(reloadBase)
	rep := reloadWith(t, eng, next)
	want := []string{
		`channel adt: destinations[archive]: removed (was (a block))`,
		`channel adt: destinations[lis].url: "http://127.0.0.1:1/lis" → "http://127.0.0.1:2/lis"`,
		`channel adt: destinations[lis].headers.Authorization: (hidden) → (hidden)`,
	}
	if got := strings.Join(rep.Changes, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if strings.Join(rep.Changed, ",") != "adt" || strings.Join(rep.Unchanged, ",") != "lab" {
		t.Fatalf("changed %v unchanged %v", rep.Changed, rep.Unchanged)
	}
}

func TestAChangeOnlyInTheEnvironmentOrTheSharedFunctionsStillCountsAsAChange(t *testing.T) {
	eng, _, _ := startRoutes(t, reloadBase)
	t.Setenv("LAB_FSYNC", "true")
	rep := reloadWith(t, eng, reloadBase)
	if strings.Join(rep.Changed, ",") != "lab" || !strings.Contains(strings.Join(rep.Changes, "\n"), "channel lab: changed through ${…} values") {
		t.Fatalf("an environment change: %+v", rep)
	}
	rep = reloadWith(t, eng, strings.Replace(reloadBase, `'"A"'`, `'"B"'`, 1))
	if len(rep.Changed) != 2 || !strings.Contains(strings.Join(rep.Changes, "\n"), `functions.tag(): "\"A\"" → "\"B\""`) {
		t.Fatalf("a shared function's change: %+v", rep)
	}
}

func TestAReloadOfAStoppedEngineIsRefused(t *testing.T) {
	eng, err := engine.LoadBytes(t.TempDir()+"/routes.yaml", []byte(reloadBase))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ReloadBytes(context.Background(), []byte(reloadBase), "test"); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("got %v", err)
	}
}
