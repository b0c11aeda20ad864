package connectors

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"junction/engine"
)

// Each value goes where its placeholder stands, escaped for that place; a path value that
// would climb out of the configured path is refused with an error naming it.
func TestURLTemplateEscapesEachValueForWhereItStands(t *testing.T) {
	cases := []struct {
		template, controlID string
		want                string // the URL, or "error: substring"
	}{
		{"http://h/fhir/Bundle/{control_id}", "8457239", "http://h/fhir/Bundle/8457239"},
		{"http://h/fhir/Bundle/{control_id}", "a/b", "http://h/fhir/Bundle/a%2Fb"},
		{"http://h/fhir/Bundle/{control_id}", "x#y", "http://h/fhir/Bundle/x%23y"},
		{"http://h/fhir/Bundle/{control_id}", "x?y=1", "http://h/fhir/Bundle/x%3Fy=1"},
		{"http://h/fhir/Bundle/{control_id}", "%2e%2e", "http://h/fhir/Bundle/%252e%252e"},
		{"http://h/fhir/Bundle/{control_id}", "...", "http://h/fhir/Bundle/..."},
		{"http://h/fhir/Bundle/{control_id}", "..", `error: {control_id} ".." is refused: expected a value that stays inside the path /fhir/Bundle/ of http://h/fhir/Bundle/{control_id}`},
		{"http://h/fhir/Bundle/{control_id}", ".", `error: {control_id} "." is refused`},
		{"http://h/fhir/Bundle/{control_id}", "../../admin/delete?all=true", `error: {control_id} "../../admin/delete?all=true" is refused`},
		{"http://h/fhir/Bundle/{control_id}", `..\..\admin`, `error: {control_id} "..\\..\\admin" is refused`},
		{"http://h/fhir/Bundle/{control_id}", "a/./b", `error: {control_id} "a/./b" is refused`},
		{"http://h/fhir/Bundle/{control_id}", "", "error: {control_id} is empty: expected a value to put in the path /fhir/Bundle/"},
		{"http://h/fhir/Bundle/{control_id}.json", "..", `error: {control_id} ".." is refused`},
		{"http://h/in?id={control_id}&msg={id}", "../../admin/delete?all=true#x", "http://h/in?id=..%2F..%2Fadmin%2Fdelete%3Fall%3Dtrue%23x&msg=42"},
		{"http://h/in?id={control_id}", "", "http://h/in?id="},
		{"http://h/in?id={control_id}", "a&admin=1", "http://h/in?id=a%26admin%3D1"},
		{"http://h/in/{id}/{control_id}?again={control_id}", "a b", "http://h/in/42/a%20b?again=a+b"},
	}
	for _, c := range cases {
		tmpl, err := parseURLTemplate(c.template)
		if err != nil {
			t.Fatalf("%s: %v", c.template, err)
		}
		got, err := tmpl.fill(map[string]string{"{control_id}": c.controlID, "{id}": "42"})
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s with %q = %q, want %q", c.template, c.controlID, got, c.want)
		}
	}
}

// A placeholder may stand in the path or the query only: a message must never choose the
// host a request goes to. The mistake is a configuration error at its line.
func TestHTTPDestinationURLTakesPlaceholdersOnlyInPathOrQuery(t *testing.T) {
	for template, want := range map[string]string{
		"http://{control_id}.example/in":         "{control_id} may stand only in the URL's path or query, not in its scheme or host",
		"http://h.example:{id}/in":               "{id} may stand only in the URL's path or query, not in its scheme or host",
		"http://h.example/in#{control_id}":       "{control_id} may stand only in the URL's path or query, not in its fragment",
		"http://h.example/a/../b/{control_id}":   `expected a path without "." or ".." segments`,
		"ftp://h.example/{control_id}":           "expected an http:// or https:// URL",
		"http://h.example/in?x=1#a?{control_id}": "not in its fragment",
	} {
		routes := fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: out
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: downstream, type: http, url: %q }
`, template)
		_, err := engine.LoadBytes("routes.yaml", []byte(routes))
		var errs engine.ConfigErrors
		if !errors.As(err, &errs) || !strings.Contains(err.Error(), "routes.yaml:7: channels[0].destinations[0].url: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("url %s: %v, want an error at line 7 with %q", template, err, want)
		}
	}
}

// What a sender puts in a control id never takes a request out of the configured path:
// a path value is escaped ("/", "?" and "#" included) and a "." or ".." segment refused
// (a permanent ERROR naming it); a query value is query-escaped. A real receiver on
// loopback records what arrived.
func TestHTTPDestinationKeepsTemplatedValuesInsideTheirPath(t *testing.T) {
	server := startFHIRServer(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: out
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [FHIR] }
    destinations:
      - { name: path, type: http, method: PUT, url: "http://`+server.addr+`/h/Bundle/{control_id}", retry: { backoff: 20ms } }
      - { name: query, type: http, url: "http://`+server.addr+`/q/Bundle?id={control_id}", retry: { backoff: 20ms } }
`)
	ingest := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	cases := []struct {
		id, path, query string // path: the request target that arrived, or "ERROR"
	}{
		{"ok-1", "/h/Bundle/ok-1", "/q/Bundle?id=ok-1"},
		{"a/b", "/h/Bundle/a%2Fb", "/q/Bundle?id=a%2Fb"},
		{"x#y", "/h/Bundle/x%23y", "/q/Bundle?id=x%23y"},
		{"../../admin/delete?all=true", "ERROR", "/q/Bundle?id=..%2F..%2Fadmin%2Fdelete%3Fall%3Dtrue"},
		{"..", "ERROR", "/q/Bundle?id=.."},
		{".", "ERROR", "/q/Bundle?id=."},
		{`..\admin`, "ERROR", "/q/Bundle?id=..%5Cadmin"},
	}
	var want []string
	for _, c := range cases {
		got := settled(t, eng, sendFHIR(t, ingest, map[string]any{"resourceType": "Bundle", "id": c.id, "type": "collection"}))
		if c.path == "ERROR" {
			d := got["path"]
			msg := fmt.Sprintf("{control_id} %q is refused: expected a value that stays inside the path /h/Bundle/", c.id)
			if d.Status != engine.StatusError || d.Attempts != 1 || !strings.Contains(d.LastError, msg) {
				t.Errorf("id %q: %s after %d attempts, %q; want ERROR at once with %q", c.id, d.Status, d.Attempts, d.LastError, msg)
			}
		} else {
			want = append(want, "PUT "+c.path)
		}
		want = append(want, "POST "+c.query)
		if got["query"].Status != engine.StatusSent {
			t.Errorf("id %q in the query: %+v", c.id, got["query"])
		}
	}
	arrived := server.requestURIs()
	for _, r := range arrived {
		u, err := url.ParseRequestURI(strings.SplitN(r, " ", 2)[1])
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if hasDotSegment(u.Path) || !(strings.HasPrefix(u.Path, "/h/Bundle/") || u.Path == "/q/Bundle") {
			t.Errorf("%s arrived outside its path (decoded path %q)", r, u.Path)
		}
	}
	sort.Strings(arrived)
	sort.Strings(want)
	if strings.Join(arrived, "\n") != strings.Join(want, "\n") {
		t.Errorf("the receiver got\n%s\nwant\n%s", strings.Join(arrived, "\n"), strings.Join(want, "\n"))
	}
}
