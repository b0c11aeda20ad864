package ui

import (
	"html/template"
	"time"
)

// Times on the message list and message pages are shown in the browser's time zone:
// the server writes each as a <time class="local"> holding the UTC instant (RFC 3339 in
// datetime, the UTC text in the title and as the text until app.js has run), and app.js
// rewrites the text in local time. The message list's since/until pickers work the same
// way round: local in the page, UTC (RFC 3339) in the address and the API.

func init() {
	funcs["when"] = when
}

// when is the template function writing t as a <time> element app.js localises; empty
// for a zero or nil time.
func when(t any) template.HTML {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v != nil {
			tt = *v
		}
	}
	if tt.IsZero() {
		return ""
	}
	u := tt.UTC()
	utc := u.Format("2006-01-02 15:04:05Z")
	return template.HTML(`<time class="local" datetime="` + u.Format(time.RFC3339Nano) + `" title="` + utc + ` (UTC)">` + utc + `</time>`)
}
