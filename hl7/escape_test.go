package hl7

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"Fernández", "Fernández"},
		{"A^B", `A\S\B`},
		{`C:\temp`, `C:\E\temp`},
		{"a|b", `a\F\b`},
		{"a~b", `a\R\b`},
		{"A&E", `A\T\E`},
		{"#", "#"}, // no truncation character declared
		{"line1\r\nline2", `line1\X0D\\X0A\line2`},
		{"tab\tkept", "tab\tkept"},
		{"\x1c\x0b\x00", `\X1C\\X0B\\X00\`},
		{`{"a":"b\"c^d"}`, `{"a":"b\E\"c\S\d"}`},
		{"ñ^日本", `ñ\S\日本`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in, DefaultDelimiters); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	d := Delimiters{Field: '#', Component: '$', Repetition: '*', Escape: '@', Subcomponent: '!', Truncation: '%'}
	if got, want := Escape("a#b$c*d@e!f%g^h", d), "a@F@b@S@c@R@d@E@e@T@f@P@g^h"; got != want {
		t.Errorf("Escape with custom delimiters = %q, want %q", got, want)
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`A\S\B`, "A^B"},
		{`\F\\S\\T\\R\\E\`, `|^&~\`},
		{`Fern\XC3A1\ndez`, "Fernández"},
		{`Fern\Xc3a1\ndez`, "Fernández"},
		{`\XE697A5E69CAC\`, "日本"},
		{`a\X0D0A\b`, "a\r\nb"},
		{`line1\.br\line2`, "line1\nline2"},
		{`\H\bold\N\`, `\H\bold\N\`},
		{`\C2842\x\M2442\`, `\C2842\x\M2442\`},
		{`\Zabc\`, `\Zabc\`},
		{`\.sp\`, `\.sp\`},
		{`\P\`, `\P\`}, // no truncation character declared
		{`\X\`, `\X\`},
		{`\X0\`, `\X0\`},
		{`\XZZ\`, `\XZZ\`},
		{`\\`, `\\`},
		{`trailing\`, `trailing\`},
		{`\S`, `\S`},
		{`a\S\b\T`, `a^b\T`},
		{`ünï\S\cödé`, "ünï^cödé"},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in, DefaultDelimiters); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	d := Delimiters{Field: '#', Component: '$', Repetition: '*', Escape: '@', Subcomponent: '!', Truncation: '%'}
	if got, want := Unescape(`a@F@b@S@c@R@d@E@e@T@f@P@g\S\h`, d), `a#b$c*d@e!f%g\S\h`; got != want {
		t.Errorf("Unescape with custom delimiters = %q, want %q", got, want)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	values := []string{
		"", "Fernández", `\`, `\\`, `\E\`, `\X41\`, "^~|&\\", "a\rb\nc\r\n", "\x00\x1f\x7f",
		`{"resourceType":"OperationOutcome","issue":[{"diagnostics":"a\\b"}]}`,
		"\xff\xfe invalid UTF-8", strings.Repeat("日本語^", 10),
	}
	for _, d := range []Delimiters{DefaultDelimiters, {'#', '$', '*', '@', '!', '%'}} {
		for _, v := range values {
			e := Escape(v, d)
			if strings.ContainsAny(e, string([]byte{d.Field, d.Component, d.Repetition, d.Subcomponent, '\r', '\n'})) {
				t.Errorf("Escape(%q) = %q still contains a delimiter or line break", v, e)
			}
			if got := Unescape(e, d); got != v {
				t.Errorf("Unescape(Escape(%q)) = %q", v, got)
			}
		}
	}
}

func TestEscapeDoesNotAllocateForPlainText(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = Escape("FERNÁNDEZ María", DefaultDelimiters)
		_ = Unescape("FERNÁNDEZ María", DefaultDelimiters)
	})
	if allocs != 0 {
		t.Errorf("allocated %.0f times, want 0", allocs)
	}
}
