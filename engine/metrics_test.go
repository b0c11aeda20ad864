package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"junction/engine"
)

// recorder is a Registerer that keeps the names of what is registered with it.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	c.Describe(ch)
	close(ch)
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// Every metric the engine registers is in docs/metrics.md, named junction_ in snake case
// (the e2e scrape checks that counters, and only they, end in _total); every junction_ metric the Grafana dashboard (valid JSON)
// queries is one the engine registers, so a renamed metric cannot leave a panel empty.
func TestEveryMetricIsDocumentedAndEveryDashboardQueryNamesOne(t *testing.T) {
	eng, err := engine.LoadBytes(filepath.Join(t.TempDir(), "routes.yaml"), []byte(destFilterRoutes))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{names: map[string]bool{}}
	if _, err := eng.EnableMetrics(rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.names) < 14 {
		t.Fatalf("%d metrics registered: %v", len(rec.names), rec.names)
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	convention := regexp.MustCompile(`^junction_[a-z]+(_[a-z]+)*$`)
	for name := range rec.names {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("%s is not in docs/metrics.md's tables", name)
		}
		if !convention.MatchString(name) {
			t.Errorf("%s is not junction_ and snake case", name)
		}
	}
	raw, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	used := regexp.MustCompile(`junction_[a-z_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			for _, name := range used.FindAllString(q.Expr, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && rec.names[b] {
						base = b
					}
				}
				if !rec.names[base] {
					t.Errorf("panel %q queries %s, which the engine does not register", p.Title, name)
				}
				queried++
			}
		}
	}
	if queried < 20 {
		t.Errorf("the dashboard queries junction_ metrics %d times", queried)
	}
}
