package connectors

import (
	"fmt"
	"net/url"
	"strings"
)

// Outgoing URLs built from message content. A value a sender chose (MSH-10, a resource id)
// must never move a request outside the path an operator configured: each value is escaped
// for where it stands, a path value that is or holds a "." or ".." segment is refused, and
// the URL built is checked once more against the configured scheme, host and path prefix.

// urlPlaceholders are the placeholders an http destination's url may hold.
var urlPlaceholders = []string{"{control_id}", "{id}"}

// urlTemplate is a destination's url with its placeholders located: in the path, whose
// values are path-escaped, or in the query, whose values are query-escaped.
type urlTemplate struct {
	raw    string
	parts  []urlPart
	base   *url.URL // the url with every placeholder filled with "x": scheme, user and host
	prefix string   // the (decoded) path before the first placeholder in the path
}

type urlPart struct {
	text    string // literal text, or a placeholder with its braces
	fill    bool   // text is a placeholder
	inQuery bool
}

// parseURLTemplate checks an http destination's url: http or https, with placeholders in
// its path or query only (never in its scheme, host or fragment), and no "." or ".."
// segment in its configured path.
func parseURLTemplate(raw string) (*urlTemplate, error) {
	notHTTP := fmt.Errorf("expected an http:// or https:// URL, got %q", raw)
	i := strings.Index(raw, "://")
	if i < 0 {
		return nil, notHTTP
	}
	authEnd := len(raw)
	if j := strings.IndexAny(raw[i+3:], "/?#"); j >= 0 {
		authEnd = i + 3 + j
	}
	fragStart := len(raw)
	if j := strings.IndexByte(raw[authEnd:], '#'); j >= 0 {
		fragStart = authEnd + j
	}
	queryStart := fragStart
	if j := strings.IndexByte(raw[authEnd:fragStart], '?'); j >= 0 {
		queryStart = authEnd + j
	}
	t := &urlTemplate{raw: raw}
	prefixEnd := queryStart
	for rest, at := raw, 0; ; {
		p, name := nextPlaceholder(rest)
		if p < 0 {
			t.parts = append(t.parts, urlPart{text: rest})
			break
		}
		pos := at + p
		switch {
		case pos < authEnd:
			return nil, fmt.Errorf("%s may stand only in the URL's path or query, not in its scheme or host: %q", name, raw)
		case pos >= fragStart:
			return nil, fmt.Errorf("%s may stand only in the URL's path or query, not in its fragment: %q", name, raw)
		case pos < queryStart && pos < prefixEnd:
			prefixEnd = pos
		}
		t.parts = append(t.parts, urlPart{text: rest[:p]}, urlPart{text: name, fill: true, inQuery: pos >= queryStart})
		rest, at = rest[p+len(name):], pos+len(name)
	}
	filled := raw
	for _, p := range urlPlaceholders {
		filled = strings.ReplaceAll(filled, p, "x")
	}
	u, err := url.Parse(filled)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, notHTTP
	}
	if hasDotSegment(u.Path) {
		return nil, fmt.Errorf("expected a path without \".\" or \"..\" segments, got %q", raw)
	}
	pu, err := url.Parse(raw[:prefixEnd])
	if err != nil {
		return nil, notHTTP
	}
	t.base, t.prefix = u, pu.Path
	return t, nil
}

// nextPlaceholder finds the first placeholder in s: its index (-1 when none) and itself.
func nextPlaceholder(s string) (int, string) {
	at, name := -1, ""
	for _, p := range urlPlaceholders {
		if i := strings.Index(s, p); i >= 0 && (at < 0 || i < at) {
			at, name = i, p
		}
	}
	return at, name
}

// fill builds the URL for one message from the placeholders' values (keyed with their
// braces). A value that would leave the configured path is refused with an error naming it.
func (t *urlTemplate) fill(values map[string]string) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if !p.fill {
			b.WriteString(p.text)
			continue
		}
		v := values[p.text]
		if p.inQuery {
			b.WriteString(url.QueryEscape(v))
			continue
		}
		if v == "" {
			return "", fmt.Errorf("%s is empty: expected a value to put in the path %s of %s", p.text, t.prefix, t.raw)
		}
		if hasDotSegment(v) {
			return "", fmt.Errorf("%s %q is refused: expected a value that stays inside the path %s of %s (not \".\" or \"..\", and no \".\" or \"..\" between slashes)", p.text, v, t.prefix, t.raw)
		}
		b.WriteString(url.PathEscape(v))
	}
	target := b.String()
	if err := within(target, t.base, t.prefix); err != nil {
		return "", err
	}
	return target, nil
}

// within checks a URL built from message content against what was configured: the same
// scheme, user and host, a path that starts with prefix, and no "." or ".." segment in
// that path even where a server decodes %2F or %5C into a separator.
func within(target string, base *url.URL, prefix string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("the URL built, %s, does not parse: %w", target, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host || u.User.String() != base.User.String() {
		return fmt.Errorf("the URL built, %s, is not on the configured %s://%s", target, base.Scheme, base.Host)
	}
	if !strings.HasPrefix(u.Path, prefix) || hasDotSegment(u.Path) {
		return fmt.Errorf("the URL built, %s, leaves the configured path %s", target, prefix)
	}
	return nil
}

// hasDotSegment reports whether s holds a "." or ".." segment, taking "\" as a separator
// too (as some servers do).
func hasDotSegment(s string) bool {
	for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
