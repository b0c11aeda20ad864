package ui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"junction/engine"
)

// Custom metadata columns (engine/columns.go) in the message list: col.NAME=VALUE query
// parameters filter on them (VALUE exact, or a prefix with a trailing *), and the list
// shows the columns of the channel chosen, or of every channel.

const columnParam = "col."

// parseColumnFilter reads the col.NAME parameters of q (nil when none). Each NAME must be
// a column of the channel filtered on, or of some channel.
func (s *Server) parseColumnFilter(q url.Values, channel string) (map[string]string, error) {
	var out map[string]string
	for k, vs := range q {
		name, ok := strings.CutPrefix(k, columnParam)
		if !ok {
			continue
		}
		v := ""
		if len(vs) > 0 {
			v = strings.TrimSpace(vs[0])
		}
		if v == "" {
			continue // an empty input of the filter form
		}
		if !slices.Contains(s.columnNames(channel), name) {
			where := "no channel has"
			if channel != "" {
				where = "channel " + channel + " has no"
			}
			return nil, &paramError{k, where + " column named " + strconv.Quote(name) + " (a channel's columns: in routes.yaml)"}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	if len(out) > engine.MaxColumns {
		return nil, &paramError{"col.", "at most " + strconv.Itoa(engine.MaxColumns) + " column filters"}
	}
	return out, nil
}

// columnQuery copies q's non-empty col.NAME parameters into out (filterQuery's canonical
// form), in name order.
func columnQuery(q url.Values, out url.Values) {
	for k, vs := range q {
		if strings.HasPrefix(k, columnParam) && len(k) > len(columnParam) && len(vs) > 0 {
			if v := strings.TrimSpace(vs[0]); v != "" {
				out.Set(k, v)
			}
		}
	}
}

// columnNames are the columns the message list shows: the channel's, or when channel is
// "" (or unknown) the union of every channel's, in the order the configuration has them.
func (s *Server) columnNames(channel string) []string {
	if channel != "" {
		if ch := s.eng.Channel(channel); ch != nil {
			return ch.ColumnNames()
		}
	}
	var names []string
	for _, ch := range s.eng.Channels() {
		for _, n := range ch.ColumnNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// listColumn is one custom column of the message list with its filter's value.
type listColumn struct {
	Name   string
	Param  string // its filter's query parameter: col.NAME
	Filter string // the value filtered on, "" for none
}

// listColumns are the columns the message list for query q shows.
func (s *Server) listColumns(q url.Values) []listColumn {
	names := s.columnNames(strings.TrimSpace(q.Get("channel")))
	out := make([]listColumn, len(names))
	for i, n := range names {
		out[i] = listColumn{Name: n, Param: columnParam + n, Filter: q.Get(columnParam + n)}
	}
	return out
}

// ColSpan is the number of columns of the message table.
func (d messagesData) ColSpan() int { return 9 + len(d.Columns) }
