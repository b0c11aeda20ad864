package ui

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"junction/engine"
)

// filterKeys are the query parameters of GET /api/messages (and of the /messages page,
// and of a bulk job's filter), in the order the UI shows them.
var filterKeys = []string{"channel", "status", "destination", "destination_status", "warnings", "since", "until",
	"q", "control_id", "organisation_code", "source_domain"}

// filterAliases are accepted spellings of filter keys: the header names.
var filterAliases = map[string]string{"organisation-code": "organisation_code", "source-domain": "source_domain"}

// paramError is a request parameter that is wrong; the API answers 400 with its text.
type paramError struct{ name, msg string }

func (e *paramError) Error() string { return e.name + ": " + e.msg }

// parseFilter reads a message filter from query parameters (see filterKeys, plus limit
// and before). It checks names against the engine's configuration.
func (s *Server) parseFilter(q url.Values) (engine.MessageFilter, error) {
	get := func(k string) string {
		if v := q.Get(k); v != "" {
			return strings.TrimSpace(v)
		}
		for alias, key := range filterAliases {
			if key == k {
				return strings.TrimSpace(q.Get(alias))
			}
		}
		return ""
	}
	f := engine.MessageFilter{
		Channel:           get("channel"),
		Status:            engine.Status(strings.ToUpper(get("status"))),
		Destination:       get("destination"),
		DestinationStatus: engine.Status(strings.ToUpper(get("destination_status"))),
		Text:              get("q"),
		ControlID:         get("control_id"),
		OrgCode:           get("organisation_code"),
		SourceDomain:      get("source_domain"),
	}
	if f.Channel != "" && s.eng.Channel(f.Channel) == nil {
		return f, &paramError{"channel", "no channel is named " + strconv.Quote(f.Channel)}
	}
	if f.Status != "" && !engine.ValidStatus(string(f.Status)) {
		return f, &paramError{"status", "expected one of RECEIVED, FILTERED, TRANSFORMED, QUEUED, SENT, ERROR, got " + strconv.Quote(string(f.Status))}
	}
	switch f.DestinationStatus {
	case "", engine.StatusQueued, engine.StatusSent, engine.StatusError, engine.StatusFiltered:
	case statusRetrying: // errorsview.go: QUEUED after a failed attempt
		f.DestinationStatus, f.Retrying = "", true
	default:
		return f, &paramError{"destination_status", "expected one of QUEUED, SENT, ERROR, FILTERED, RETRYING (queued after a failed attempt), got " + strconv.Quote(string(f.DestinationStatus))}
	}
	switch w := strings.ToLower(get("warnings")); w {
	case "":
	case "yes", "true", "1":
		f.Warnings = true
	default:
		return f, &paramError{"warnings", "expected yes (only messages with conversion warnings), got " + strconv.Quote(w)}
	}
	if f.Destination != "" {
		found := false
		for _, ch := range s.eng.Channels() {
			if f.Channel != "" && ch.Name != f.Channel {
				continue
			}
			for _, d := range ch.Destinations {
				found = found || d.Name == f.Destination
			}
		}
		if !found {
			where := "any channel"
			if f.Channel != "" {
				where = "channel " + f.Channel
			}
			return f, &paramError{"destination", "no destination of " + where + " is named " + strconv.Quote(f.Destination)}
		}
	}
	var err error
	if f.Columns, err = s.parseColumnFilter(q, f.Channel); err != nil { // columns.go
		return f, err
	}
	if f.Since, err = parseTime(get("since")); err != nil {
		return f, &paramError{"since", err.Error()}
	}
	if f.Until, err = parseTime(get("until")); err != nil {
		return f, &paramError{"until", err.Error()}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, &paramError{"until", "must be after since"}
	}
	if f.Text != "" && !hasWord(f.Text) {
		return f, &paramError{"q", "nothing to search for: give words or numbers, got " + strconv.Quote(f.Text)}
	}
	if f.Limit, err = intParam(q.Get("limit"), 100, 1, 1000); err != nil {
		return f, &paramError{"limit", err.Error()}
	}
	before, err := intParam(q.Get("before"), 0, 1, 1<<62)
	if err != nil {
		return f, &paramError{"before", err.Error()}
	}
	f.BeforeID = int64(before)
	return f, nil
}

// hasWord reports whether text holds a letter or digit (anything the index can match).
func hasWord(text string) bool {
	for _, r := range text {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 {
			return true
		}
	}
	return false
}

// timeLayouts are accepted for since and until; times without a zone are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expected a time like 2024-02-13T14:49:32Z or 2024-02-13T14:49 (UTC) or 2024-02-13, got %q", s)
}

// filterQuery is the canonical query string of a filter's keys from q (no limit/before),
// as the UI puts it in links.
func filterQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range filterKeys {
		v := strings.TrimSpace(q.Get(k))
		if v == "" {
			for alias, key := range filterAliases {
				if key == k {
					v = strings.TrimSpace(q.Get(alias))
				}
			}
		}
		if v != "" {
			out.Set(k, v)
		}
	}
	columnQuery(q, out) // columns.go
	return out
}
