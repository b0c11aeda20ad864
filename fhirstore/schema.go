package fhirstore

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is the version this build writes into PRAGMA user_version.
const schemaVersion = 1

// versionBits: a version row's key is rid<<versionBits | version, so all the versions of
// one resource are one rowid range (History is a range scan, the current version a rowid
// lookup) and the table needs no second index. It allows 16,777,215 versions a resource.
const (
	versionBits = 24
	maxVersion  = 1<<versionBits - 1
)

// migrations[i] moves a database from user_version i to i+1, in one transaction.
//
//   - resource: one row per Type/id, pointing at its current version; deleted marks a
//     resource whose current version is a deletion. hash is the SHA-256 of the current
//     content (json.go, contentHash), so an identical update is found without reading it.
//     updated is the current version's lastUpdated in Unix milliseconds.
//   - version: every version's JSON as stored (meta.versionId and meta.lastUpdated set);
//     json is NULL for a deletion. Rows are large, so this is a rowid table.
//   - idx_*: the search index of the current versions, one table per parameter type,
//     rewritten on every write in the same transaction. Their primary key starts with rid
//     (replacing a resource's rows is a range delete) and each has a lookup index starting
//     with (type, param). Rows are small, hence WITHOUT ROWID.
var migrations = []string{
	// 0 -> 1
	`
CREATE TABLE resource (
	rid     INTEGER PRIMARY KEY,
	type    TEXT NOT NULL,
	id      TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	deleted INTEGER NOT NULL DEFAULT 0,
	hash    BLOB,
	UNIQUE (type, id)
);
CREATE INDEX resource_type ON resource (type);             -- (type, rid): searches page in rid order
CREATE INDEX resource_updated ON resource (type, updated); -- _lastUpdated

CREATE TABLE version (
	vid     INTEGER PRIMARY KEY, -- rid<<24 | version
	updated INTEGER NOT NULL,    -- Unix milliseconds
	method  TEXT NOT NULL,       -- PUT, POST or DELETE
	json    BLOB                 -- NULL for a deletion
);

CREATE TABLE idx_string (
	rid   INTEGER NOT NULL,
	type  TEXT NOT NULL,
	param TEXT NOT NULL,
	norm  TEXT NOT NULL, -- lower case, accents removed (fold.go): starts-with and :contains
	raw   TEXT NOT NULL, -- as sent: :exact
	PRIMARY KEY (rid, param, raw)
) WITHOUT ROWID;
CREATE INDEX idx_string_lookup ON idx_string (type, param, norm);

CREATE TABLE idx_token (
	rid    INTEGER NOT NULL,
	type   TEXT NOT NULL,
	param  TEXT NOT NULL,
	system TEXT NOT NULL, -- '' when the value has none
	code   TEXT NOT NULL,
	PRIMARY KEY (rid, param, system, code)
) WITHOUT ROWID;
CREATE INDEX idx_token_lookup ON idx_token (type, param, code, system);

CREATE TABLE idx_date (
	rid   INTEGER NOT NULL,
	type  TEXT NOT NULL,
	param TEXT NOT NULL,
	lo    INTEGER NOT NULL, -- [lo, hi) in Unix milliseconds (dates.go)
	hi    INTEGER NOT NULL,
	PRIMARY KEY (rid, param, lo, hi)
) WITHOUT ROWID;
CREATE INDEX idx_date_lo ON idx_date (type, param, lo);
CREATE INDEX idx_date_hi ON idx_date (type, param, hi);

CREATE TABLE idx_reference (
	rid      INTEGER NOT NULL,
	type     TEXT NOT NULL,
	param    TEXT NOT NULL,
	ref_type TEXT NOT NULL,
	ref_id   TEXT NOT NULL,
	PRIMARY KEY (rid, param, ref_type, ref_id)
) WITHOUT ROWID;
CREATE INDEX idx_reference_lookup ON idx_reference (type, param, ref_id, ref_type);
`,
}

// migrate brings the schema up to schemaVersion. A file written by a newer build is
// refused rather than misread.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("the file has schema version %d, newer than this build's %d: upgrade Junction", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating the schema from version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
