package fhirstore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Page sizes: _count defaults to 20 (as HAPI's does); a larger _count is cut to maxCount.
const (
	defaultCount = 20
	maxCount     = 1000
)

// Search returns one page of the current versions of rtype matching params, a FHIR search
// query (Patient?family=smi&birthdate=ge1980 is params family=smi, birthdate=ge1980).
// A repeated parameter must match every time (AND), comma-separated values any of them
// (OR). Results are in the order the resources were first stored unless _sort says
// otherwise; _count and _offset page through them. An unknown parameter, modifier or
// malformed value is an *Error with Status 400 naming it.
func (s *Store) Search(ctx context.Context, rtype string, params url.Values) (*Page, error) {
	if err := checkType(rtype); err != nil {
		return nil, err
	}
	q, qerr := parseQuery(rtype, params)
	if qerr != nil {
		return nil, qerr
	}
	tx, err := s.rdb.BeginTx(ctx, nil) // one snapshot for the total and the page
	if err != nil {
		return nil, fmt.Errorf("fhirstore: search %s: %w", rtype, err)
	}
	defer tx.Rollback()
	page := &Page{Offset: q.offset, Count: q.count}
	countSQL, countArgs := q.countSQL()
	if err := tx.QueryRowContext(ctx, countSQL, countArgs...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("fhirstore: search %s: %w", rtype, err)
	}
	if q.count == 0 || q.offset >= page.Total {
		return page, nil
	}
	pageSQL, pageArgs := q.pageSQL()
	rows, err := tx.QueryContext(ctx, pageSQL, pageArgs...)
	if err != nil {
		return nil, fmt.Errorf("fhirstore: search %s: %w", rtype, err)
	}
	defer rows.Close()
	for rows.Next() {
		r := Resource{Type: rtype}
		var updated int64
		if err := rows.Scan(&r.ID, &r.Version, &updated, &r.Method, &r.JSON); err != nil {
			return nil, fmt.Errorf("fhirstore: search %s: %w", rtype, err)
		}
		r.LastUpdated = time.UnixMilli(updated).UTC()
		page.Resources = append(page.Resources, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fhirstore: search %s: %w", rtype, err)
	}
	return page, nil
}

// query is a search translated to SQL over the resource table r. Conditions on index
// tables (subs) select rids; they are intersected in one subquery that drives the search,
// so a selective parameter narrows the others whatever their order. Conditions on the
// resource row itself (_id, _lastUpdated, :not, :missing=true) are in where.
type query struct {
	rtype         string
	where         []string
	args          []any
	subs          []string
	subArgs       []any
	order         string
	orderArgs     []any
	count, offset int
}

func (q *query) add(cond string, args ...any) {
	q.where = append(q.where, cond)
	q.args = append(q.args, args...)
}

func (q *query) sub(sql string, args ...any) {
	q.subs = append(q.subs, sql)
	q.subArgs = append(q.subArgs, args...)
}

// whereSQL is the full condition. With index conditions the matching rids drive the
// search and the type is only checked: '+' keeps SQLite from walking the type index
// instead (it has no statistics to tell it otherwise).
func (q *query) whereSQL() (string, []any) {
	typeCond := "r.type = ? AND r.deleted = 0"
	if len(q.subs) > 0 {
		typeCond = "+" + typeCond
	}
	conds := append([]string{typeCond}, q.where...)
	args := append([]any{q.rtype}, q.args...)
	if len(q.subs) > 0 {
		conds = append(conds, "r.rid IN ("+strings.Join(q.subs, " INTERSECT ")+")")
		args = append(args, q.subArgs...)
	}
	return strings.Join(conds, " AND "), args
}

// countSQL counts the matches. Index rows exist only for current, undeleted resources of
// their type, so when nothing else applies the count needs no resource row at all.
func (q *query) countSQL() (string, []any) {
	if len(q.where) == 0 && len(q.subs) > 0 {
		return "SELECT count(DISTINCT rid) FROM (" + strings.Join(q.subs, " INTERSECT ") + ")", q.subArgs
	}
	where, args := q.whereSQL()
	return "SELECT count(*) FROM resource r WHERE " + where, args
}

func (q *query) pageSQL() (string, []any) {
	where, args := q.whereSQL()
	sqlText := fmt.Sprintf(`SELECT r.id, r.version, r.updated, v.method, v.json
		FROM resource r JOIN version v ON v.vid = (r.rid << %d | r.version)
		WHERE %s ORDER BY %s LIMIT ? OFFSET ?`, versionBits, where, q.order)
	return sqlText, append(append(args, q.orderArgs...), q.count, q.offset)
}

func parseQuery(rtype string, params url.Values) (*query, *Error) {
	q := &query{rtype: rtype, count: defaultCount, order: "r.rid"}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same query always makes the same SQL
	for _, key := range keys {
		name, modifier, _ := strings.Cut(key, ":")
		for _, value := range params[key] {
			if err := q.param(name, modifier, value); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// param adds one name[:modifier]=value of the query.
func (q *query) param(name, modifier, value string) *Error {
	switch name {
	case "_count", "_offset":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return invalid("%s must be a whole number of 0 or more, got %q", name, value)
		}
		if name == "_count" {
			q.count = min(n, maxCount)
		} else {
			q.offset = n
		}
		return nil
	case "_sort":
		return q.sort(value)
	case "_summary":
		if value == "count" {
			q.count = 0
			return nil
		}
		if value == "false" {
			return nil
		}
		return notSupported("_summary=%s is not supported by this store (expected count or false)", value)
	case "_format", "_pretty", "_total":
		return nil // _format and _pretty are the HTTP API's business; the total is always given
	}
	if value == "" {
		return nil // an empty parameter is ignored, as HAPI does
	}
	if modifier == "missing" {
		return q.missing(name, value)
	}
	alts := splitEscaped(value, ',')
	switch name {
	case "_id":
		if modifier != "" {
			return badModifier(name, modifier, "none")
		}
		marks := make([]string, len(alts))
		for i, a := range alts {
			marks[i] = "?"
			q.args = append(q.args, unescape(a))
		}
		q.where = append(q.where, "r.id IN ("+strings.Join(marks, ", ")+")")
		return nil
	case "_lastUpdated":
		if modifier != "" {
			return badModifier(name, modifier, "none")
		}
		// The resource's range is its millisecond: [updated, updated+1).
		return q.dates(name, alts, "r.updated", "(r.updated + 1)", func(cond string, args []any) {
			q.add("("+cond+")", args...)
		})
	}
	p, ok := lookupParam(q.rtype, name)
	if !ok {
		return invalid("Unknown search parameter %q for resource type %q. Valid search parameters for this search are: [%s]",
			name, q.rtype, strings.Join(paramNames(q.rtype), ", "))
	}
	in := func(cond string, args []any) {
		q.sub(fmt.Sprintf("SELECT rid FROM %s WHERE type = ? AND param = ? AND (%s)", indexTables[p.kind], cond),
			append([]any{q.rtype, p.name}, args...)...)
	}
	switch p.kind {
	case kindString:
		return q.strings(p, modifier, alts, in)
	case kindToken:
		if modifier == "not" { // FHIR :not matches resources without the code, also those with no value
			in = func(cond string, args []any) {
				q.add(fmt.Sprintf("r.rid NOT IN (SELECT rid FROM idx_token WHERE type = ? AND param = ? AND (%s))", cond),
					append([]any{q.rtype, p.name}, args...)...)
			}
		} else if modifier != "" {
			return badModifier(name, modifier, ":not, :missing")
		}
		return q.tokens(alts, in)
	case kindDate:
		if modifier != "" {
			return badModifier(name, modifier, ":missing")
		}
		return q.dates(name, alts, "lo", "hi", in)
	default:
		return q.references(p, modifier, alts, in)
	}
}

func badModifier(name, modifier, expected string) *Error {
	return invalid("Unknown modifier \":%s\" on search parameter %q (expected %s)", modifier, name, expected)
}

// missing is name:missing=true (no value indexed) or false (some value indexed).
func (q *query) missing(name, value string) *Error {
	if name == "_id" || name == "_lastUpdated" {
		return badModifier(name, "missing", "none: every resource has one")
	}
	p, ok := lookupParam(q.rtype, name)
	if !ok {
		return invalid("Unknown search parameter %q for resource type %q. Valid search parameters for this search are: [%s]",
			name, q.rtype, strings.Join(paramNames(q.rtype), ", "))
	}
	if value != "true" && value != "false" {
		return invalid("%s:missing must be true or false, got %q", name, value)
	}
	sql := fmt.Sprintf("SELECT rid FROM %s WHERE type = ? AND param = ?", indexTables[p.kind])
	if value == "false" {
		q.sub(sql, q.rtype, p.name)
	} else {
		q.add("r.rid NOT IN ("+sql+")", q.rtype, p.name)
	}
	return nil
}

// strings: starts-with, case- and accent-insensitive (fold.go); :exact compares as sent;
// :contains anywhere, insensitive.
func (q *query) strings(p searchParam, modifier string, alts []string, in func(string, []any)) *Error {
	var conds []string
	var args []any
	for _, a := range alts {
		v := unescape(a)
		switch modifier {
		case "":
			f := fold(v)
			conds = append(conds, "(norm >= ? AND norm < ?)")
			args = append(args, f, prefixEnd(f))
		case "exact":
			conds = append(conds, "raw = ?")
			args = append(args, v)
		case "contains":
			conds = append(conds, "instr(norm, ?) > 0")
			args = append(args, fold(v))
		default:
			return badModifier(p.name, modifier, ":exact, :contains, :missing")
		}
	}
	in(strings.Join(conds, " OR "), args)
	return nil
}

// tokens: system|code, |code (no system), system| (any code of the system) or code (any
// system).
func (q *query) tokens(alts []string, in func(string, []any)) *Error {
	var conds []string
	var args []any
	for _, a := range alts {
		parts := splitEscaped(a, '|')
		switch {
		case len(parts) == 1:
			conds = append(conds, "code = ?")
			args = append(args, unescape(parts[0]))
		case len(parts) == 2 && parts[1] == "":
			conds = append(conds, "system = ?")
			args = append(args, unescape(parts[0]))
		case len(parts) == 2:
			conds = append(conds, "(code = ? AND system = ?)")
			args = append(args, unescape(parts[1]), unescape(parts[0]))
		default:
			return invalid("token %q has more than one '|' (expected system|code, |code, system| or code)", a)
		}
	}
	in(strings.Join(conds, " OR "), args)
	return nil
}

// dates compares the ranges [loCol, hiCol) with each value's range [plo, phi), by its
// prefix as FHIR defines them (eq: the value's range contains the resource's; gt: the
// resource's range reaches past the value's; ...).
func (q *query) dates(name string, alts []string, loCol, hiCol string, in func(string, []any)) *Error {
	var conds []string
	var args []any
	for _, a := range alts {
		// A '+' of a zone sent unescaped in a URL arrives as a space.
		v := strings.Replace(unescape(a), " ", "+", 1)
		prefix := "eq"
		if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
			prefix, v = v[:2], v[2:]
		}
		plo, phi, err := dateRange(v)
		if err != nil {
			return invalid("search parameter %s: %v", name, err)
		}
		var c string
		var cargs []any
		switch prefix {
		case "eq":
			c, cargs = "(%[1]s >= ? AND %[2]s <= ?)", []any{plo, phi}
		case "ne":
			c, cargs = "NOT (%[1]s >= ? AND %[2]s <= ?)", []any{plo, phi}
		case "gt":
			c, cargs = "%[2]s > ?", []any{phi}
		case "lt":
			c, cargs = "%[1]s < ?", []any{plo}
		case "ge":
			c, cargs = "(%[2]s > ? OR %[1]s >= ?)", []any{phi, plo}
		case "le":
			c, cargs = "(%[1]s < ? OR %[2]s <= ?)", []any{plo, phi}
		case "sa":
			c, cargs = "%[1]s >= ?", []any{phi}
		case "eb":
			c, cargs = "%[2]s <= ?", []any{plo}
		default:
			return invalid("search parameter %s: prefix %q is not supported (expected eq, ne, gt, ge, lt, le, sa or eb)", name, prefix)
		}
		conds = append(conds, fmt.Sprintf(c, loCol, hiCol))
		args = append(args, cargs...)
	}
	in(strings.Join(conds, " OR "), args)
	return nil
}

// references: Type/id, id alone (any type; for patient= only Patient), or an absolute URL
// ending in Type/id. A type modifier (subject:Patient=123) sets the type.
func (q *query) references(p searchParam, modifier string, alts []string, in func(string, []any)) *Error {
	wantType := p.target
	if modifier != "" {
		if !isResourceType(modifier) {
			return badModifier(p.name, modifier, "a resource type such as :Patient, or :missing")
		}
		wantType = modifier
	}
	var conds []string
	var args []any
	for _, a := range alts {
		v := unescape(a)
		t, id := wantType, v
		if strings.Contains(v, "/") {
			var ok bool
			if t, id, ok = parseReference(v); !ok {
				return invalid("search parameter %s: %q is not a reference (expected Type/id, an id, or a URL ending in Type/id)", p.name, v)
			}
		}
		if t == "" {
			conds = append(conds, "ref_id = ?")
			args = append(args, id)
			continue
		}
		conds = append(conds, "(ref_id = ? AND ref_type = ?)")
		args = append(args, id, t)
	}
	in(strings.Join(conds, " OR "), args)
	return nil
}

// sort reads _sort=a,-b: _id, _lastUpdated, or a string, token or date parameter (by its
// smallest value). Ties keep the order resources were first stored in.
func (q *query) sort(value string) *Error {
	var keys []string
	q.orderArgs = nil
	for _, item := range strings.Split(value, ",") {
		dir := ""
		if strings.HasPrefix(item, "-") {
			dir, item = " DESC", item[1:]
		}
		switch item {
		case "_id":
			keys = append(keys, "r.id"+dir)
			continue
		case "_lastUpdated":
			keys = append(keys, "r.updated"+dir)
			continue
		}
		p, ok := lookupParam(q.rtype, item)
		col := map[kind]string{kindString: "norm", kindToken: "code", kindDate: "lo"}[p.kind]
		if !ok || col == "" {
			return invalid("_sort: cannot sort %s by %q (expected _id, _lastUpdated or a string, token or date parameter of %s: %s)",
				q.rtype, item, q.rtype, strings.Join(sortable(q.rtype), ", "))
		}
		keys = append(keys, fmt.Sprintf("(SELECT min(%s) FROM %s WHERE rid = r.rid AND param = ?)%s", col, indexTables[p.kind], dir))
		q.orderArgs = append(q.orderArgs, p.name)
	}
	q.order = strings.Join(append(keys, "r.rid"), ", ")
	return nil
}

func sortable(rtype string) []string {
	var names []string
	for _, p := range paramsOf(rtype) {
		if p.kind != kindReference {
			names = append(names, p.name)
		}
	}
	return names
}

// splitEscaped splits s at each sep not escaped with a backslash, keeping the escapes (FHIR
// search values escape , | $ and \ as \, \| \$ \\).
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
