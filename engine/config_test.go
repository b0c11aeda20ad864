package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	_ "junction/connectors"
	"junction/engine"
)

const goodConfig = `admin:
  listen: 127.0.0.1:8090
store:
  path: data/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: :8000
      domain: emergency-care
      data_types: [Hl7v2]
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - name: archive
        type: file
        dir: out/ed-adt
      - name: downstream
        type: http
        url: http://127.0.0.1:9999/in
        retry: { attempts: 10, backoff: 1s }
`

func TestLoadGoodConfig(t *testing.T) {
	e, err := engine.LoadBytes("routes.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	if len(e.Channels()) != 1 {
		t.Fatalf("channels = %d, want 1", len(e.Channels()))
	}
	ch := e.Channels()[0]
	if ch.Name != "ed-adt" || len(ch.Filters) != 1 || len(ch.Transforms) != 1 || len(ch.Destinations) != 2 {
		t.Fatalf("channel = %+v", ch)
	}
	if ch.Filters[0].Line != 13 || ch.Transforms[0].Line != 15 {
		t.Errorf("script lines = %d, %d; want 13, 15", ch.Filters[0].Line, ch.Transforms[0].Line)
	}
	r := ch.Destinations[1].Retry
	if r.Attempts != 10 || r.Backoff != time.Second {
		t.Errorf("retry = %+v", r)
	}
	if d := ch.Destinations[0].Retry; d != engine.DefaultRetry {
		t.Errorf("default retry = %+v, want %+v", d, engine.DefaultRetry)
	}
	if !strings.HasPrefix(ch.Section, "  - name: ed-adt") || !strings.Contains(ch.Section, "backoff: 1s") {
		t.Errorf("section text = %q", ch.Section)
	}
	if e.StorePath != "data/junction.db" || e.Admin.Listen != "127.0.0.1:8090" {
		t.Errorf("store %q admin %q", e.StorePath, e.Admin.Listen)
	}
}

func TestRetryDelayDoublesUpToMax(t *testing.T) {
	p := engine.RetryPolicy{Backoff: time.Second, MaxBackoff: 5 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w)
		}
	}
}

// Each broken config must be reported at its line with a message naming the problem.
func TestConfigErrorsHaveLines(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // "LINE: substring"
	}{
		{"yaml syntax", "admin: 1\n store: 2\n", []string{"2: YAML syntax"}},
		{"empty", "", []string{"1: the file is empty"}},
		{"no channels", "admin:\n  listen: 127.0.0.1:1\n", []string{`1: missing required key "channels"`}},
		{"unknown top key", "chanels: []\n", []string{`1: unknown key "chanels"`}},
		{"bad listen", strings.Replace(goodConfig, "listen: :8000", "listen: eight-thousand", 1), []string{"9: channels[0].source.listen: expected a listen address"}},
		{"bad data type", strings.Replace(goodConfig, "[Hl7v2]", "[HL7v2]", 1), []string{`11: channels[0].source.data_types: unknown data type "HL7v2"`}},
		{"filter syntax", strings.Replace(goodConfig, `in ["ADT", "ORU"]'`, `in ["ADT", "ORU"'`, 1), []string{"13: channels[0].filter[0]:"}},
		{"filter not bool", strings.Replace(goodConfig, `'get("MSH-9.1") in ["ADT", "ORU"]'`, `'get("MSH-9.1")'`, 1), []string{"13: channels[0].filter[0]: expected bool"}},
		{"unknown name", strings.Replace(goodConfig, "upper(get", "uper(get", 1), []string{"15: channels[0].transform[0]: unknown"}},
		{"bad hl7 path", strings.Replace(goodConfig, `set("PID-5.1"`, `set("PID-x"`, 1), []string{`15: channels[0].transform[0]: `, `PID-x`}},
		{"unknown destination type", strings.Replace(goodConfig, "type: file", "type: ftp", 1), []string{`18: channels[0].destinations[0].type: unknown destination type "ftp"`}},
		{"missing dir", strings.Replace(goodConfig, "        dir: out/ed-adt\n", "", 1), []string{`17: channels[0].destinations[0]: missing required key "dir"`}},
		{"bad url", strings.Replace(goodConfig, "http://127.0.0.1:9999/in", "ftp://x", 1), []string{"22: channels[0].destinations[1].url: expected an http:// or https:// URL"}},
		{"bad backoff", strings.Replace(goodConfig, "backoff: 1s", "backoff: soon", 1), []string{"23: channels[0].destinations[1].retry.backoff: expected a duration"}},
		{"typo in destination", strings.Replace(goodConfig, "dir: out/ed-adt", "dir: out/ed-adt\n        dri: x", 1), []string{`20: channels[0].destinations[0]: unknown key "dri"`}},
		{"duplicate destination", strings.Replace(goodConfig, "name: downstream", "name: archive", 1), []string{`20: channels[0].destinations[1].name: destination name "archive" is already used`}},
		{"duplicate channel", goodConfig + strings.SplitN(goodConfig, "channels:\n", 2)[1], []string{`24: channels[1].name: channel name "ed-adt" is already used at line 6`}},
		{"same domain twice", goodConfig + strings.Replace(strings.SplitN(goodConfig, "channels:\n", 2)[1], "name: ed-adt", "name: other", 1), []string{`28: channels[1].source.domain: channel "ed-adt" (line 10) already takes source-domain "emergency-care" with data-type Hl7v2`}},
		{"listen clash", goodConfig + strings.Replace(strings.Replace(strings.SplitN(goodConfig, "channels:\n", 2)[1], "name: ed-adt", "name: other", 1), "listen: :8000", "listen: 127.0.0.1:8000", 1), []string{`27: channels[1].source.listen: listen "127.0.0.1:8000" clashes with ":8000"`}},
		{"filtered_ack", strings.Replace(goodConfig, "    filter:\n", "    filtered_ack: NO\n    filter:\n", 1), []string{"12: channels[0].filtered_ack: expected one of AA, AR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := engine.LoadBytes("routes.yaml", []byte(c.yaml))
			var errs engine.ConfigErrors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want ConfigErrors", err)
			}
			text := errs.Error()
			for _, line := range strings.Split(text, "\n") {
				if !strings.HasPrefix(line, "routes.yaml:") {
					t.Errorf("line does not start with routes.yaml: %q", line)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(text, "routes.yaml:"+w) && !strings.Contains(text, w) {
					t.Errorf("errors do not contain %q:\n%s", w, text)
				}
			}
			if !strings.Contains(text, "routes.yaml:"+c.want[0]) {
				t.Errorf("first expectation must match with its line: %q not in\n%s", c.want[0], text)
			}
		})
	}
}

func TestEveryMistakeReportedAtOnce(t *testing.T) {
	bad := strings.NewReplacer("listen: :8000", "listen: nope", "type: file", "type: ftp", "backoff: 1s", "backoff: x", "upper(get", "uper(get").Replace(goodConfig)
	_, err := engine.LoadBytes("routes.yaml", []byte(bad))
	var errs engine.ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Errorf("errors not in line order: %v", errs)
		}
	}
}

// A destination that panics fails its delivery; the engine goes on.
func TestSafeSendTurnsPanicsIntoErrors(t *testing.T) {
	out := engine.SafeSendForTest(panicking{}, &engine.Delivery{MessageID: 1})
	if out.Err == nil || !out.Permanent || !strings.Contains(out.Err.Error(), "boom") {
		t.Fatalf("outcome = %+v", out)
	}
}

type panicking struct{}

func (panicking) Send(context.Context, *engine.Delivery) engine.Outcome { panic("boom") }
