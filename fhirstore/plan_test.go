package fhirstore

import (
	"context"
	"strings"
	"testing"
)

// Searches by an indexed parameter look the matching rids up in the index and read only
// those resources: the plan never walks all resources of the type. SQLite has no
// statistics to go by, so this rests on how parseQuery writes the SQL.
func TestSearchPlans(t *testing.T) {
	s := openStore(t)
	for query, driver := range map[string]string{
		"Patient?_id=0000000000":                  "SEARCH r USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)",
		"Patient?identifier=https://x|0000000000": "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		"Patient?family=fer":                      "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		"Patient?birthdate=ge1980":                "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		"Observation?patient=1&code=http://x|y":   "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		"Encounter?subject=Patient/1":             "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		"Patient?":                                "SEARCH r USING INDEX resource_type (type=?)",
	} {
		rtype, params, _ := strings.Cut(query, "?")
		q, err := parseQuery(rtype, mustQuery(t, params))
		if err != nil {
			t.Fatal(err)
		}
		sqlText, args := q.pageSQL()
		plan := explain(t, s, sqlText, args)
		if !strings.HasPrefix(plan, driver) || strings.Contains(plan, "SCAN") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan\n%s\nwant it driven by %q, with no scan or sort", query, plan, driver)
		}
	}
}

func explain(t testing.TB, s *Store, sqlText string, args []any) string {
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+sqlText, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}
