// Package fhirstore is Junction's own FHIR R4 resource store: versioned resources in a
// SQLite file, written by applying transaction or batch Bundles (such as the ones
// hl7tofhir makes from HL7v2 messages) and read back through a FHIR REST API subset
// (read, vread, instance history, search), as the Healthcare Exchange's FHIR facade
// serves them.
//
//	st, err := fhirstore.Open("data/fhir.db")
//	resp, err := st.Apply(ctx, bundle)             // transaction-response Bundle
//	p, err := st.Read(ctx, "Patient", "0000000000")
//	page, err := st.Search(ctx, "Patient", url.Values{"family": {"fern"}})
//
// # A file of its own
//
// The store is a separate SQLite file (data/fhir.db next to the message store's
// data/junction.db), not tables in the message store. The two have different lifecycles
// and write patterns: the message log is an append-mostly journal with queues, written by
// the ingest path and the queue workers with group commit; the resource store is current
// state that lives as long as the patients it describes, updated in place (plus versions)
// by one destination worker and read by API clients. Apart, each can be backed up, restored,
// moved or rebuilt (by replaying messages) on its own, a burst of searches never holds
// the message log's WAL back from checkpointing, and neither's schema migrations touch
// the other.
//
// # Writes
//
// Apply runs a whole Bundle in one SQLite transaction on the one writer connection (BEGIN
// IMMEDIATE, synchronous=FULL, WAL): a transaction is all or nothing and is on disk when
// Apply returns. PUT Type/id creates or updates, POST creates with a new UUID, DELETE
// deletes; urn:uuid: references between entries are rewritten to Type/id. Each change is
// a new version (meta.versionId, meta.lastUpdated); a PUT whose content equals the
// current version's (compared by a SHA-256 of the content with members sorted and the
// server's meta left out) makes none, as HAPI does, so re-applying a message is harmless.
// The search index rows of the resource are replaced in the same transaction. Each
// transaction's lastUpdated is later than the previous one's, even within a millisecond,
// so polling with _lastUpdated=gt<last seen> misses nothing.
//
// # Reads
//
// Reads and searches use a separate pool of read-only connections and never wait for the
// writer. Search parameters (params.go) are indexed per type in four tables, one per
// parameter type: string (case- and accent-insensitive starts-with, :exact, :contains),
// token (system|code), date (ranges with eq, ne, gt, ge, lt, le, sa, eb) and reference.
// _id and _lastUpdated are columns of the resource table. Results page with _count and
// _offset; _sort takes _id, _lastUpdated and string, token or date parameters.
//
// # Schema
//
// See schema.go: resource (one row per Type/id, its current version and content hash),
// version (every version's JSON, keyed rid<<24|version so a resource's history is one
// rowid range) and the idx_string, idx_token, idx_date and idx_reference tables.
//
// # Not supported
//
// Conditional create, update and delete (ifNoneExist, ifMatch, Type?params URLs), PATCH,
// GET entries in Bundles, chained and reverse-chained search, _include, _revinclude,
// _elements, type- and system-level history, and XML. Each is refused with an
// OperationOutcome naming it rather than ignored (an Accept header asking for XML still
// gets JSON; _format=xml gets 406).
package fhirstore
