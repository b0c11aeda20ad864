package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"junction/engine"
	"junction/internal/jsontext"
)

// metaJSON writes meta as a JSON object with its keys sorted, as encoding/json would, in
// one allocation (it runs for every message accepted).
func metaJSON(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	size := 2
	for k, v := range meta {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size+size/8)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, k)
		b = append(b, ':')
		b = jsontext.AppendString(b, meta[k])
	}
	return string(append(b, '}'))
}

// warningsJSON is what contents.warnings holds: nil (NULL) when there are none, else
// the warnings as a JSON array.
func warningsJSON(ws []engine.Warning) any {
	if len(ws) == 0 {
		return nil
	}
	b, err := json.Marshal(ws)
	if err != nil { // strings only: cannot happen
		return nil
	}
	return string(b)
}

// decodeWarnings reads contents.warnings (NULL: none).
func decodeWarnings(ns sql.NullString) ([]engine.Warning, error) {
	if !ns.Valid || ns.String == "" {
		return nil, nil
	}
	var ws []engine.Warning
	if err := json.Unmarshal([]byte(ns.String), &ws); err != nil {
		return nil, fmt.Errorf("warnings: %w", err)
	}
	return ws, nil
}
