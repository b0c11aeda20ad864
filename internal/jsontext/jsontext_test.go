package jsontext

import (
	"encoding/json"
	"testing"
)

func TestAppendStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ back`, "tab\tnew\nline\rcr", "\x00\x1f", "Fernández Ørsted", "line\u2028sep\u2029", "日本語"} {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != s {
			t.Errorf("AppendString(%q) = %s, reads back as %q (%v)", s, out, back, err)
		}
	}
	if got := string(AppendString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

func TestAppendScalar(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{"A&E <b>", `"A&E <b>"`}, {json.Number("1.50"), "1.50"}, {true, "true"}, {false, "false"},
		{-42, "-42"}, {nil, "null"},
	} {
		out, ok := AppendScalar([]byte("x"), c.v)
		if !ok || string(out) != "x"+c.want {
			t.Errorf("AppendScalar(%#v) = %s, %v; want %s", c.v, out, ok, c.want)
		}
	}
	for _, v := range []any{[]any{}, map[string]any{}, 1.5, int64(1)} {
		if out, ok := AppendScalar([]byte("x"), v); ok || string(out) != "x" {
			t.Errorf("AppendScalar(%#v) took it: %s", v, out)
		}
	}
}
