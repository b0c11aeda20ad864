package fhirstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resource is one version of a resource.
type Resource struct {
	Type, ID    string
	Version     int
	LastUpdated time.Time
	Method      string // how the version was made: PUT, POST or DELETE
	JSON        []byte // as stored, with meta.versionId and meta.lastUpdated; nil for a deletion
}

// Deleted reports whether this version is a deletion.
func (r *Resource) Deleted() bool { return r.JSON == nil }

// Page is one page of search or history results.
type Page struct {
	Total     int // matches in all, on every page
	Offset    int // of the first resource here
	Count     int // the page size asked for (0: the total only); Resources may be fewer
	Resources []Resource
}

// Next is the offset of the next page, or -1 on the last page.
func (p *Page) Next() int {
	if p.Count <= 0 || p.Offset+p.Count >= p.Total {
		return -1
	}
	return p.Offset + p.Count
}

// checkType refuses a type that is not an R4 resource type, as a FHIR server does.
func checkType(rtype string) *Error {
	if !isResourceType(rtype) {
		return notFound("Unknown resource type %q: not a FHIR R4 resource type", rtype)
	}
	return nil
}

// Read returns the current version of rtype/id: an *Error with Status 404 when there is
// none, 410 when it was deleted.
func (s *Store) Read(ctx context.Context, rtype, id string) (*Resource, error) {
	if err := checkType(rtype); err != nil {
		return nil, err
	}
	r := &Resource{Type: rtype, ID: id}
	var updated int64
	err := s.rdb.QueryRowContext(ctx, fmt.Sprintf(`
		SELECT r.version, v.updated, v.method, v.json
		FROM resource r JOIN version v ON v.vid = r.rid << %d | r.version
		WHERE r.type = ? AND r.id = ?`, versionBits), rtype, id).Scan(&r.Version, &updated, &r.Method, &r.JSON)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Resource %s/%s is not known", rtype, id)
	}
	if err != nil {
		return nil, fmt.Errorf("fhirstore: reading %s/%s: %w", rtype, id, err)
	}
	r.LastUpdated = time.UnixMilli(updated).UTC()
	if r.Deleted() {
		return r, gone("Resource %s/%s was deleted at %s (version %d)", rtype, id, instant(updated), r.Version)
	}
	return r, nil
}

// VRead returns version of rtype/id: an *Error with Status 404 when there is no such
// version, 410 when that version is a deletion.
func (s *Store) VRead(ctx context.Context, rtype, id string, version int) (*Resource, error) {
	if err := checkType(rtype); err != nil {
		return nil, err
	}
	r := &Resource{Type: rtype, ID: id, Version: version}
	var (
		current int
		updated sql.NullInt64
		method  sql.NullString
	)
	err := s.rdb.QueryRowContext(ctx, fmt.Sprintf(`
		SELECT r.version, v.updated, v.method, v.json
		FROM resource r LEFT JOIN version v ON v.vid = r.rid << %d | ? AND ? BETWEEN 1 AND r.version
		WHERE r.type = ? AND r.id = ?`, versionBits), version, version, rtype, id).Scan(&current, &updated, &method, &r.JSON)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("Resource %s/%s is not known", rtype, id)
	case err != nil:
		return nil, fmt.Errorf("fhirstore: reading %s/%s version %d: %w", rtype, id, version, err)
	case !updated.Valid:
		return nil, notFound("Version %d of resource %s/%s is not known (it has versions 1 to %d)", version, rtype, id, current)
	}
	r.Method, r.LastUpdated = method.String, time.UnixMilli(updated.Int64).UTC()
	if r.Deleted() {
		return r, gone("Version %d of resource %s/%s is its deletion, at %s", version, rtype, id, instant(updated.Int64))
	}
	return r, nil
}

// History returns the versions of rtype/id, newest first: count of them from offset
// (count < 0: all). Deletions are versions too, with no JSON.
func (s *Store) History(ctx context.Context, rtype, id string, offset, count int) (*Page, error) {
	if err := checkType(rtype); err != nil {
		return nil, err
	}
	tx, err := s.rdb.BeginTx(ctx, nil) // one snapshot for both queries
	if err != nil {
		return nil, fmt.Errorf("fhirstore: history of %s/%s: %w", rtype, id, err)
	}
	defer tx.Rollback()
	var rid int64
	page := &Page{Offset: offset, Count: count}
	err = tx.QueryRowContext(ctx, `SELECT rid, version FROM resource WHERE type = ? AND id = ?`, rtype, id).Scan(&rid, &page.Total)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Resource %s/%s is not known", rtype, id)
	}
	if err != nil {
		return nil, fmt.Errorf("fhirstore: history of %s/%s: %w", rtype, id, err)
	}
	// SQLite takes LIMIT -1 as no limit.
	rows, err := tx.QueryContext(ctx, `
		SELECT vid, updated, method, json FROM version
		WHERE vid BETWEEN ? AND ? ORDER BY vid DESC LIMIT ? OFFSET ?`,
		versionKey(rid, 1), versionKey(rid, maxVersion), count, offset)
	if err != nil {
		return nil, fmt.Errorf("fhirstore: history of %s/%s: %w", rtype, id, err)
	}
	defer rows.Close()
	for rows.Next() {
		r := Resource{Type: rtype, ID: id}
		var vid, updated int64
		if err := rows.Scan(&vid, &updated, &r.Method, &r.JSON); err != nil {
			return nil, fmt.Errorf("fhirstore: history of %s/%s: %w", rtype, id, err)
		}
		r.Version, r.LastUpdated = int(vid&maxVersion), time.UnixMilli(updated).UTC()
		page.Resources = append(page.Resources, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fhirstore: history of %s/%s: %w", rtype, id, err)
	}
	return page, nil
}
