package fhirstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"junction/fhir"
)

// Apply applies a transaction or batch Bundle in one SQLite transaction and returns the
// transaction-response (or batch-response) Bundle: per entry its status (201 Created,
// 200 OK, 204 No Content), location Type/id/_history/N, etag and lastModified.
//
// Entries are PUT Type/id (create or update), POST Type (create with a new UUID id) or
// DELETE Type/id. References to an entry's fullUrl (urn:uuid:…) are rewritten to the
// entry's Type/id. Every change makes a new version with meta.versionId and
// meta.lastUpdated set; a PUT identical to the current version changes nothing (200 OK,
// same version). Any other resource with an id is PUT to its Type/id.
//
// A transaction is all or nothing: an entry that cannot be applied refuses the Bundle with
// an *Error (Status 4xx), and the response is an OperationOutcome. In a batch such entries
// get a 4xx response of their own and the others are applied. Other errors (the disk, a
// cancelled ctx) leave the store unchanged and are worth retrying.
func (s *Store) Apply(ctx context.Context, content []byte) (response []byte, err error) {
	v, perr := parseJSON(content)
	if perr != nil {
		e := invalid("%v", perr)
		return e.Outcome(), e
	}
	root, ok := v.(*object)
	if !ok {
		e := invalid("expected a JSON object (a FHIR resource), got %s", jsonKind(v))
		return e.Outcome(), e
	}
	req, ferr := readRequest(root)
	if ferr != nil {
		return ferr.Outcome(), ferr
	}
	if err := s.write(ctx, req); err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return fe.Outcome(), fe
		}
		return nil, fmt.Errorf("fhirstore: applying the %s: %w", describeRequest(req), err)
	}
	return req.response(), nil
}

// describeRequest names a request in errors, e.g. "transaction of 19 entries".
func describeRequest(r *request) string {
	kind := "batch"
	if r.transaction {
		kind = "transaction"
	}
	return fmt.Sprintf("%s of %d entries", kind, len(r.entries))
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a text"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return "a number"
}

// writeOrder is FHIR's order of processing a transaction: deletes, then creates, then
// updates. Responses keep the Bundle's order.
var writeOrder = []string{"DELETE", "POST", "PUT"}

// write applies the request's entries in one transaction on the writer connection.
func (s *Store) write(ctx context.Context, req *request) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	now := s.nextStamp()
	w := s.txStmts(ctx, tx)
	for _, method := range writeOrder {
		for _, e := range req.entries {
			if e.err != nil || e.method != method {
				continue
			}
			err := w.apply(ctx, e, now)
			var fe *Error
			if errors.As(err, &fe) && !req.transaction {
				e.err = fe // nothing of the entry was written: see apply
				continue
			}
			if err != nil {
				if fe != nil {
					fe.Msg = fmt.Sprintf("Bundle.entry[%d] (%s): %s", e.index, e.ref(), fe.Msg)
				}
				return err
			}
		}
	}
	return tx.Commit()
}

// nextStamp is the lastUpdated of a new transaction: the clock in milliseconds, but
// always after the previous transaction's. Taken once the transaction holds the writer,
// stamps follow commit order, so a client syncing with _lastUpdated=gt<last seen> never
// misses a change made in the same millisecond as the last one it saw.
func (s *Store) nextStamp() int64 {
	for {
		last := s.lastStamp.Load()
		now := max(time.Now().UnixMilli(), last+1)
		if s.lastStamp.CompareAndSwap(last, now) {
			return now
		}
	}
}

// txWriter is the writer's prepared statements bound to one transaction.
type txWriter struct {
	current, insResource, updResource, insVersion *sql.Stmt
	delIndex, insIndex                            [4]*sql.Stmt // by kind
}

func (s *Store) txStmts(ctx context.Context, tx *sql.Tx) *txWriter {
	w := &txWriter{
		current:     tx.StmtContext(ctx, s.w.current),
		insResource: tx.StmtContext(ctx, s.w.insResource),
		updResource: tx.StmtContext(ctx, s.w.updResource),
		insVersion:  tx.StmtContext(ctx, s.w.insVersion),
	}
	for k := range indexTables {
		w.delIndex[k] = tx.StmtContext(ctx, s.w.delIndex[k])
		w.insIndex[k] = tx.StmtContext(ctx, s.w.insIndex[k])
	}
	return w
}

func versionKey(rid int64, version int) int64 { return rid<<versionBits | int64(version) }

// apply writes one entry. It returns an *Error only before writing anything, so a batch
// can skip the entry and go on.
func (w *txWriter) apply(ctx context.Context, e *entry, now int64) error {
	var (
		rid     int64
		version int
		updated int64
		deleted bool
		hash    []byte
	)
	err := w.current.QueryRowContext(ctx, e.rtype, e.id).Scan(&rid, &version, &updated, &deleted, &hash)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if e.method == "DELETE" {
		e.status = "204 No Content"
		if !exists || deleted {
			e.version, e.updated = version, updated // nothing to delete: no new version
			return nil
		}
		if version >= maxVersion {
			return tooManyVersions(e)
		}
		e.version, e.updated = version+1, now
		if _, err := w.insVersion.ExecContext(ctx, versionKey(rid, e.version), now, "DELETE", nil); err != nil {
			return err
		}
		if _, err := w.updResource.ExecContext(ctx, e.version, now, true, nil, rid); err != nil {
			return err
		}
		return w.clearIndex(ctx, rid)
	}

	h := contentHash(e.res)
	if exists && !deleted && bytes.Equal(h, hash) {
		e.status, e.version, e.updated = "200 OK", version, updated
		return nil
	}
	if exists && version >= maxVersion {
		return tooManyVersions(e)
	}
	e.status, e.version, e.updated = "201 Created", 1, now
	if exists {
		e.version = version + 1
		if !deleted {
			e.status = "200 OK"
		}
	}
	stored := appendJSON(make([]byte, 0, 2048), stamp(e.res, e.version, now))
	if exists {
		if _, err := w.updResource.ExecContext(ctx, e.version, now, false, h, rid); err != nil {
			return err
		}
		if err := w.clearIndex(ctx, rid); err != nil {
			return err
		}
	} else if err := w.insResource.QueryRowContext(ctx, e.rtype, e.id, now, h).Scan(&rid); err != nil {
		return err
	}
	if _, err := w.insVersion.ExecContext(ctx, versionKey(rid, e.version), now, e.method, stored); err != nil {
		return err
	}
	return w.index(ctx, rid, e.rtype, extractIndex(e.rtype, e.res))
}

func tooManyVersions(e *entry) *Error {
	return &Error{Status: http.StatusConflict, Code: fhir.CodeBusinessRule, Msg: fmt.Sprintf("%s has %d versions, the most this store keeps", e.ref(), maxVersion)}
}

func (w *txWriter) clearIndex(ctx context.Context, rid int64) error {
	for _, st := range w.delIndex {
		if _, err := st.ExecContext(ctx, rid); err != nil {
			return err
		}
	}
	return nil
}

// index inserts the resource's index rows, one prepared statement per row: measured,
// that beats multi-row INSERTs, whose parsing costs more than the statements saved.
func (w *txWriter) index(ctx context.Context, rid int64, rtype string, rows indexRows) error {
	for _, r := range rows.strings {
		if _, err := w.insIndex[kindString].ExecContext(ctx, rid, rtype, r.param, r.norm, r.raw); err != nil {
			return err
		}
	}
	for _, r := range rows.tokens {
		if _, err := w.insIndex[kindToken].ExecContext(ctx, rid, rtype, r.param, r.system, r.code); err != nil {
			return err
		}
	}
	for _, r := range rows.dates {
		if _, err := w.insIndex[kindDate].ExecContext(ctx, rid, rtype, r.param, r.lo, r.hi); err != nil {
			return err
		}
	}
	for _, r := range rows.refs {
		if _, err := w.insIndex[kindReference].ExecContext(ctx, rid, rtype, r.param, r.refType, r.refID); err != nil {
			return err
		}
	}
	return nil
}

// stamp sets meta.versionId and meta.lastUpdated and returns the resource with
// resourceType, id and meta first, then its other elements in the order sent.
func stamp(res *object, version int, now int64) *object {
	meta := &object{}
	meta.set("versionId", strconv.Itoa(version))
	meta.set("lastUpdated", instant(now))
	if old := res.obj("meta"); old != nil {
		for i, k := range old.keys {
			if k != "versionId" && k != "lastUpdated" {
				meta.set(k, old.vals[i])
			}
		}
	}
	out := &object{keys: make([]string, 0, len(res.keys)+1), vals: make([]any, 0, len(res.keys)+1)}
	out.set("resourceType", res.get("resourceType"))
	out.set("id", res.get("id"))
	out.set("meta", meta)
	for i, k := range res.keys {
		if k != "resourceType" && k != "id" && k != "meta" {
			out.set(k, res.vals[i])
		}
	}
	return out
}

// instant renders Unix milliseconds as a FHIR instant in UTC.
func instant(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(instantLayout)
}

func etag(version int) string { return `W/"` + strconv.Itoa(version) + `"` }

// response renders the transaction-response or batch-response Bundle.
func (r *request) response() []byte {
	typ := "batch-response"
	if r.transaction {
		typ = "transaction-response"
	}
	entries := make([]any, 0, len(r.entries))
	for _, e := range r.entries {
		var rs *object
		switch {
		case e.err != nil:
			outcome, _ := parseJSON(e.err.Outcome())
			rs = obj("status", fmt.Sprintf("%d %s", e.err.Status, http.StatusText(e.err.Status)), "outcome", outcome)
		case e.version > 0:
			rs = obj("status", e.status, "location", fmt.Sprintf("%s/_history/%d", e.ref(), e.version),
				"etag", etag(e.version), "lastModified", instant(e.updated))
		default: // a DELETE of nothing
			rs = obj("status", e.status)
		}
		entries = append(entries, obj("response", rs))
	}
	b := obj("resourceType", "Bundle", "id", uuid.NewString(), "type", typ)
	if len(entries) > 0 { // FHIR JSON has no empty lists
		b.set("entry", entries)
	}
	return appendJSON(nil, b)
}
