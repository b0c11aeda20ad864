package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is the version this build writes into PRAGMA user_version: one per
// migration, so a new migration is only appended to the list.
var schemaVersion = len(migrations)

// migrations[i] moves a database from user_version i to i+1. Each runs in one transaction
// together with the user_version bump.
//
// Layout notes (all internal to this package):
//
//   - messages.status is the message's overall status: FILTERED, ERROR or TRANSFORMED as
//     accepted when there are no deliveries; otherwise the aggregate of its deliveries
//     (ERROR if any is ERROR, else QUEUED if any is QUEUED, else FILTERED if all are
//     FILTERED, else SENT), kept up to date by
//     Record in the same transaction. Accept of a TRANSFORMED message with destinations
//     therefore stores QUEUED.
//   - messages.transformed is NULL when equal to raw; meta is a JSON object or NULL when
//     empty; original_id and dedup_key are NULL when unset.
//   - deliveries.id is message_id<<8 | ordinal (the index of the destination in
//     NewMessage.Destinations). This keeps deliveries an ordinary rowid table (rows grow
//     large once encoded/sent/response are stored, which WITHOUT ROWID handles badly) and
//     still makes "all deliveries of message m" a rowid range scan, with no second index.
//   - queues interns (channel, destination) as a small integer, holds the queue lease
//     (lease_owner ” = free) and the lifetime per-status delivery counters for Stats.
//   - channels holds the lifetime received/filtered/errored counters for Stats. Counters
//     are updated in the same transaction as the rows they count, so they cannot drift.
//   - deliveries_outbox is a partial index: only QUEUED rows are in it, so Pending is an
//     index range scan and the index stays as small as the backlog.
//   - messages_status is partial too: SENT (the bulk) is left out; listing SENT messages
//     walks the primary key newest-first, where SENT rows are the common case.
var migrations = []string{
	// 0 -> 1
	`
CREATE TABLE queues (
	id          INTEGER PRIMARY KEY,
	channel     TEXT NOT NULL,
	destination TEXT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0,
	queued      INTEGER NOT NULL DEFAULT 0,
	sent        INTEGER NOT NULL DEFAULT 0,
	error       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (channel, destination)
);

CREATE TABLE channels (
	name     TEXT PRIMARY KEY,
	received INTEGER NOT NULL DEFAULT 0,
	filtered INTEGER NOT NULL DEFAULT 0,
	errored  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE messages (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	channel       TEXT NOT NULL,
	status        TEXT NOT NULL,
	received_at   INTEGER NOT NULL,
	data_type     TEXT NOT NULL,
	control_id    TEXT NOT NULL,
	source_domain TEXT NOT NULL,
	org_code      TEXT NOT NULL,
	original_id   INTEGER,
	dedup_key     TEXT,
	error         TEXT NOT NULL,
	meta          TEXT
);
-- Content lives apart from the small, often-updated message rows: a status change then
-- rewrites a page of many message rows, not a page holding a message's whole content.
CREATE TABLE contents (
	message_id  INTEGER PRIMARY KEY,
	raw         BLOB NOT NULL,
	transformed BLOB
);
CREATE INDEX messages_channel ON messages (channel, id);
-- SENT and QUEUED, the statuses every routed message passes through, are left out so
-- delivering a message does not touch this index; QUEUED messages are found through the
-- deliveries' outbox index instead.
CREATE INDEX messages_status ON messages (status, id) WHERE status NOT IN ('SENT', 'QUEUED');
CREATE UNIQUE INDEX messages_dedup ON messages (dedup_key) WHERE dedup_key IS NOT NULL;

CREATE TABLE deliveries (
	id           INTEGER PRIMARY KEY,
	queue_id     INTEGER NOT NULL REFERENCES queues (id),
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	updated_at   INTEGER NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	encoded      BLOB,
	sent         BLOB,
	response     BLOB
);
CREATE INDEX deliveries_outbox ON deliveries (queue_id, id) WHERE status = 'QUEUED';
`,
	// 1 -> 2: operator features (the admin UI).
	//
	//   - queues.paused: an operator paused the queue; workers on every node stop taking
	//     work from it. queues.last_error*: the queue's most recent failed attempt, kept by
	//     Record (only batches with errors write it).
	//   - deliveries.content: content an operator edited for a resend; NULL = the
	//     message's own (transformed, else raw). Pending sends it when set.
	//   - events: the audit trail of operator actions (resend, edited resend, reprocess,
	//     pause, resume), shown with the message or channel they touched.
	//   - search: the full-text index of message content, FTS4 (compiled into
	//     mattn/go-sqlite3 without build tags) and contentless (docid = message id; the text
	//     lives in contents already). It is filled in the background by the indexer, never
	//     on the Accept path; search_state.indexed_to is its persisted cursor: every message
	//     with id <= indexed_to is indexed. automerge keeps segment merges incremental, so
	//     no index write ever stalls the writer on one big merge.
	`
ALTER TABLE queues ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE queues ADD COLUMN last_error_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN last_error_message INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN content BLOB;

CREATE TABLE events (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	message_id  INTEGER NOT NULL DEFAULT 0,
	channel     TEXT NOT NULL DEFAULT '',
	destination TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL,
	detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_message ON events (message_id, id);

CREATE VIRTUAL TABLE search USING fts4(body, content="", tokenize=unicode61);
INSERT INTO search (search) VALUES ('automerge=8');
CREATE TABLE search_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	indexed_to INTEGER NOT NULL
);
INSERT INTO search_state (id, indexed_to) VALUES (1, 0);
`,
	// 2 -> 3: API tokens of the admin API. Only the SHA-256 of a token's secret (256
	// random bits) is kept; last_used is 0 until the token is first used (nanoseconds).
	`
CREATE TABLE api_tokens (
	name       TEXT PRIMARY KEY,
	role       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	last_used  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_kind ON events (kind, id);
`,
	// 3 -> 4: conversion warnings (values toFHIR() could not convert; the message went on
	// without them). messages.warnings counts them, for listings and the "has warnings"
	// filter (the partial index holds only messages that have some, so it costs the
	// Accept path nothing otherwise); contents.warnings holds them as a JSON array of
	// engine.Warning, NULL when none, written once with the content. Adding columns
	// rewrites no row: an existing store is upgraded at once, its messages without
	// warnings.
	`
ALTER TABLE messages ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contents ADD COLUMN warnings TEXT;
CREATE INDEX messages_warnings ON messages (id) WHERE warnings > 0;
`,
	// 4 -> 5: channel states an operator set (stop, pause, start: engine.ChannelStateStore).
	// A channel without a row is started; the row of a started channel is kept (state
	// 'started'). changed_at is in nanoseconds. A new table: existing data is untouched.
	`
CREATE TABLE channel_state (
	channel    TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	changed_at INTEGER NOT NULL,
	changed_by TEXT NOT NULL DEFAULT ''
);
`,
	// 5 -> 6: destination filters. A destination whose filter leaves a message out gets
	// a deliveries row with status FILTERED and the filter (FILE:LINE) in last_error,
	// never queued (so never in deliveries_outbox); queues.filtered counts them beside
	// queued, sent and error. A filter that fails gives an ERROR row (attempts 0). The
	// message's status ignores FILTERED rows, and is FILTERED when all of them are.
	// Adding a column rewrites no row: an existing store is upgraded at once.
	`
ALTER TABLE queues ADD COLUMN filtered INTEGER NOT NULL DEFAULT 0;
`,
	// alert state (alerts.go, engine.AlertStore, package alerts). One row per alert and
	// subject ("channel/destination", "channel" or "" for all channels) while its
	// condition holds: since is when it began, active_since when the alert fired (0:
	// pending, not notified), notified_at its last notification (nanoseconds). A restart
	// reads them, so an active alert neither fires again nor is forgotten. A new table:
	// existing data is untouched.
	`
CREATE TABLE alert_state (
	alert        TEXT NOT NULL,
	subject      TEXT NOT NULL,
	channel      TEXT NOT NULL DEFAULT '',
	destination  TEXT NOT NULL DEFAULT '',
	since        INTEGER NOT NULL,
	active_since INTEGER NOT NULL DEFAULT 0,
	notified_at  INTEGER NOT NULL DEFAULT 0,
	detail       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (alert, subject)
) WITHOUT ROWID;
`,
	// retention (prune.go): deleting a message's words from the full-text index. The
	// index is a contentless FTS4 table (content=""), and FTS4 deletes a document by
	// reading its text back, by docid, from its content table: for content="" a table
	// whose name is the empty string. That table is this one, and it stays empty:
	// pruning puts a message's indexed text in it for the moment it deletes the message
	// from the index (unindex), in the same transaction. The index itself is untouched (no
	// rebuild), and PRAGMA integrity_check still checks it as a contentless one. A new
	// table: existing data is untouched.
	`
CREATE TABLE "" (docid INTEGER PRIMARY KEY, body TEXT NOT NULL);
`,
	// login sessions (sessions.go, engine.SessionKeeper): the operator UI's sessions
	// survive a restart and can be revoked. hash is the SHA-256 of the session id (the
	// cookie), never the id; stamp fingerprints the account at login, so a changed or
	// removed account ends its sessions; times in nanoseconds. A new table: existing data
	// is untouched.
	`
CREATE TABLE sessions (
	hash      BLOB PRIMARY KEY,
	user      TEXT NOT NULL,
	role      TEXT NOT NULL,
	stamp     TEXT NOT NULL DEFAULT '',
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	expires   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user);
`,
	// custom metadata columns (engine/columns.go): one row per message and non-empty
	// value. message_columns_value answers a filter on a column (exact or prefix), in
	// message id order for an exact value. The values are taken from the content, so
	// they go with it: the trigger removes them whenever a message's contents row is
	// deleted (RemoveMessage, retention stripping content or removing the message, an
	// Accept undone).
	`
CREATE TABLE message_columns (
	message_id INTEGER NOT NULL,
	name       TEXT NOT NULL,
	value      TEXT NOT NULL,
	PRIMARY KEY (message_id, name)
) WITHOUT ROWID;
CREATE INDEX message_columns_value ON message_columns (name, value, message_id);
CREATE TRIGGER message_columns_gone AFTER DELETE ON contents BEGIN
	DELETE FROM message_columns WHERE message_id = old.message_id;
END;
`,
}

// migrate brings the schema to schemaVersion and marks the file as a Junction message
// store (ApplicationID; a store of an earlier Junction is marked here too). conn is the
// writer connection; Open has checked the file is one (checkIdentity).
func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := func() error {
		var v int
		if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this build supports (%d)", v, schemaVersion)
		}
		for ; v < schemaVersion; v++ {
			if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrating schema %d -> %d: %w", v, v+1, err)
			}
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
			return fmt.Errorf("marking the file as a Junction message store: %w", err)
		}
		_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	}()
	if err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
