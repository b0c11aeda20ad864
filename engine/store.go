package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Status is the state of a message or of one destination's copy of it, as Mirth names them.
type Status string

const (
	StatusReceived    Status = "RECEIVED"
	StatusFiltered    Status = "FILTERED"
	StatusTransformed Status = "TRANSFORMED"
	StatusQueued      Status = "QUEUED"
	StatusSent        Status = "SENT"
	StatusError       Status = "ERROR"
)

// ValidStatus reports whether s is one of the statuses above.
func ValidStatus(s string) bool {
	switch Status(s) {
	case StatusReceived, StatusFiltered, StatusTransformed, StatusQueued, StatusSent, StatusError:
		return true
	}
	return false
}

// ErrNotFound is returned by Store reads for an unknown message.
var ErrNotFound = errors.New("not found")

// ErrStoreClosed is returned once Close has been called.
var ErrStoreClosed = errors.New("store closed")

// NewMessage is everything the source side knows about a message when it is committed.
// Accept stores it, its content stages and one outbox row per destination in ONE transaction.
type NewMessage struct {
	Channel      string
	ReceivedAt   time.Time
	Status       Status // FILTERED, ERROR, or TRANSFORMED (then Destinations get QUEUED rows)
	DataType     string // Hl7v2, FHIR, CSV
	ControlID    string // MSH-10 for HL7v2, the resource id for FHIR, "" otherwise
	SourceDomain string
	OrgCode      string
	Meta         map[string]string // request headers and source facts
	// Raw and Transformed are handed over to the store, not copied: it may still read
	// them after Accept returns early (ctx ended), so they must not be modified.
	Raw         []byte
	Transformed []byte // nil when the transform left the content unchanged (or never ran)
	Error       string // why the message is ERROR (or which filter rejected it)
	// Warnings are the values toFHIR() could not convert: the message went on without
	// them (its status is what it would be without them). Nil when none.
	Warnings     []Warning
	Destinations []string
	// Skipped are the destinations (of a TRANSFORMED message) that do not get it: their
	// filter said no (FILTERED) or failed (ERROR). Each is stored as a final delivery
	// with its reason, never queued; names differ from Destinations'.
	Skipped    []SkippedDestination
	OriginalID int64 // for a reprocessed message: the message it came from (0 if none)
	// DedupKey, when set, must be unique across the store: a second Accept with the same key
	// fails with ErrDuplicate and stores nothing. Used by the FHIR Bundle gateway (Bundle/<id>).
	DedupKey string
	// Columns are the channel's custom metadata column values (name → value; empty values
	// left out), stored with the message. Nil when none.
	Columns map[string]string
}

// SkippedDestination is a destination a message is not sent to, decided when it is
// routed: its filter said no (Status FILTERED) or failed (Status ERROR).
type SkippedDestination struct {
	Name   string
	Status Status
	Reason string // the filter with its FILE:LINE, or its error
}

// ErrDuplicate is returned by Accept when NewMessage.DedupKey is already taken.
var ErrDuplicate = errors.New("duplicate")

// ErrBadFilter is wrapped by ListMessages errors about the filter itself (e.g. a text
// query with nothing to search for).
var ErrBadFilter = errors.New("bad filter")

// ErrNoDeliveries is returned by Resend for a message that was never routed.
var ErrNoDeliveries = errors.New("the message has no deliveries")

// Delivery is one queued destination row handed to a destination worker. Its Content and
// MetaJSON may be shared with the store and other destinations: read them, never modify.
type Delivery struct {
	MessageID   int64
	Channel     string
	Destination string
	Attempts    int       // attempts made so far
	NextAttempt time.Time // not before this time
	Content     []byte    // what to send: transformed content, or raw when not transformed
	ControlID   string
	DataType    string
	// MetaJSON is the message's source metadata as a JSON object (nil when none); most
	// destinations never look at it, so it is decoded only on demand by Meta.
	MetaJSON []byte
}

// Meta decodes the message's source metadata.
func (d *Delivery) Meta() (map[string]string, error) {
	if len(d.MetaJSON) == 0 {
		return map[string]string{}, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal(d.MetaJSON, &m); err != nil {
		return nil, fmt.Errorf("message %d: stored metadata: %w", d.MessageID, err)
	}
	return m, nil
}

// AttemptResult records one delivery attempt.
type AttemptResult struct {
	MessageID   int64
	Destination string
	Status      Status    // SENT, QUEUED (will retry) or ERROR (gave up)
	Attempts    int       // total attempts so far, including this one
	NextAttempt time.Time // for QUEUED: when to retry
	Error       string    // last error, "" on success
	Encoded     []byte    // nil when equal to the content handed over
	Sent        []byte    // what went on the wire (e.g. request line + headers + body); nil when equal to Encoded
	Response    []byte
	At          time.Time
}

// MessageFilter selects messages for listing. Zero values mean "any"; set fields combine
// with AND.
type MessageFilter struct {
	Channel string
	Status  Status // the message's own status
	// DestinationStatus: at least one delivery has this status (QUEUED, SENT, ERROR or FILTERED);
	// with Destination, that destination's delivery.
	DestinationStatus Status
	Destination       string // with DestinationStatus; alone: messages routed to it
	// Retrying: at least one delivery (with Destination, that destination's) is QUEUED
	// after a failed attempt (attempts > 0): its destination is retrying it. With
	// DestinationStatus, only QUEUED agrees with it.
	Retrying     bool
	Since, Until time.Time // received at >= Since and < Until
	// Text is free text over message content, answered from the full-text index (which
	// may lag ingestion by a moment): every whitespace-separated word must occur, words
	// are matched whole and case- and accent-insensitively, "quoted words" as a phrase,
	// and a trailing * matches a prefix (smi*).
	Text         string
	ControlID    string // exact; found through the full-text index too
	OrgCode      string // exact
	SourceDomain string // exact
	Warnings     bool   // only messages with conversion warnings
	// Columns: custom metadata column name → value, each matched exactly, or as a prefix
	// when the value ends in * ("SMITH*"; "*" alone: any value).
	Columns  map[string]string
	BeforeID int64 // cursor: only messages with id < BeforeID
	Limit    int   // default 100, max 1000
}

// MessageSummary is one row of a message listing.
type MessageSummary struct {
	ID           int64               `json:"id"`
	Channel      string              `json:"channel"`
	Status       Status              `json:"status"`
	ControlID    string              `json:"control_id"`
	DataType     string              `json:"data_type"`
	SourceDomain string              `json:"source_domain,omitempty"`
	OrgCode      string              `json:"organisation_code,omitempty"`
	ReceivedAt   time.Time           `json:"received_at"`
	Error        string              `json:"error,omitempty"`
	WarningCount int                 `json:"warning_count,omitempty"` // len of MessageDetail.Warnings
	Destinations []DestinationStatus `json:"destinations"`
	// Columns are the message's custom metadata column values (omitted when none).
	Columns map[string]string `json:"columns,omitempty"`
}

// DestinationStatus is a destination's state for one message.
type DestinationStatus struct {
	Name      string `json:"name"`
	Status    Status `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// Reason, for a FILTERED destination, names the filter that left it out (FILE:LINE).
	Reason      string     `json:"reason,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
	// Stages, filled only by GetMessage. Nil means "not stored" (e.g. not yet sent).
	Encoded  *string `json:"encoded,omitempty"`
	Sent     *string `json:"sent,omitempty"`
	Response *string `json:"response,omitempty"`
	// Edited is content an operator edited for a resend, which this delivery sends
	// instead of the message's own (GetMessage only; nil when not edited).
	Edited *string `json:"edited,omitempty"`
}

// Event is one entry of the audit trail of operator actions.
type Event struct {
	At          time.Time `json:"at"`
	MessageID   int64     `json:"message_id,omitempty"`
	Channel     string    `json:"channel,omitempty"`
	Destination string    `json:"destination,omitempty"`
	Kind        string    `json:"kind"` // resend, resend-edited, reprocess, reprocessed-from, pause, resume, channel-stopped, channel-paused, channel-started
	Detail      string    `json:"detail,omitempty"`
}

// ResendRequest queues a message's deliveries again.
type ResendRequest struct {
	MessageID    int64
	Destinations []string // empty: every destination of the message
	// Content, when not nil, is sent instead of the message's content (an operator's
	// edit); it is stored on the delivery and the resend is logged as edited. When nil, a
	// delivery sends the message's own content again (dropping an earlier edit).
	Content []byte
	Detail  string // logged with the event (e.g. who or which job)
}

// QueueInfo is the state of one destination queue as the store holds it.
type QueueInfo struct {
	Channel     string            `json:"channel"`
	Destination string            `json:"destination"`
	Counts      DestinationCounts `json:"counts"`
	Paused      bool              `json:"paused"`
	Holder      string            `json:"lease_holder,omitempty"`
	HolderUntil *time.Time        `json:"lease_until,omitempty"`
	// The most recent failed attempt (retried or final), if any.
	LastError        string     `json:"last_error,omitempty"`
	LastErrorAt      *time.Time `json:"last_error_at,omitempty"`
	LastErrorMessage int64      `json:"last_error_message,omitempty"`
}

// SearchStatus tells how far the background full-text indexer has come.
type SearchStatus struct {
	IndexedThrough int64 `json:"indexed_through"` // every message with id <= this is searchable
	LatestID       int64 `json:"latest_id"`       // the newest message id
}

// MessageDetail is a message with every stored stage.
type MessageDetail struct {
	MessageSummary
	Meta        map[string]string `json:"meta"`
	OriginalID  int64             `json:"original_id,omitempty"`
	Raw         string            `json:"raw"`
	Transformed *string           `json:"transformed,omitempty"` // nil when unchanged from raw
	Warnings    []Warning         `json:"warnings,omitempty"`    // what toFHIR() could not convert
	// ContentRemoved: retention removed its content (raw, transformed, what was sent and
	// answered); Raw is then empty. See retention.go.
	ContentRemoved bool    `json:"content_removed,omitempty"`
	Events         []Event `json:"events,omitempty"` // operator actions on it, oldest first
}

// DestinationCounts are per-status counts of one destination's rows.
type DestinationCounts struct {
	Queued int64 `json:"queued"`
	Sent   int64 `json:"sent"`
	Error  int64 `json:"error"`
	// Filtered counts the messages this destination's filter left out.
	Filtered int64 `json:"filtered"`
}

// ChannelStats are lifetime counts for one channel.
type ChannelStats struct {
	Received     int64                        `json:"received"`
	Filtered     int64                        `json:"filtered"` // messages FILTERED: by the channel's filters, or by every destination's
	Errored      int64                        `json:"errored"`  // messages that failed at the source (parse/transform)
	Destinations map[string]DestinationCounts `json:"destinations"`
}

// The store's interfaces follow their consumers: Outbox is what the engine's sources and
// destination queues use, MessageLog what the operator UI and API read, Operations what
// operators do, Accounts the admin API's tokens and the UI's sessions; AlertStore
// (alertstore.go) serves package alerts, Pruner retention (retention.go). Store is all of
// them: the embedded SQLite store and the shared PostgreSQL one both implement it whole,
// so nothing asks a store whether it has a part.
type Store interface {
	Outbox
	MessageLog
	Operations
	Accounts
	AlertStore
	Pruner
	// Close flushes pending writes and closes the database.
	Close() error
}

// Outbox is the message log's write side and the destination queues: what sources and
// queue workers use. Queue ownership is a lease kept in the store, never in memory, so
// several nodes sharing a store deliver each queue once.
type Outbox interface {
	// Accept durably commits a message, its stages and (when Status is TRANSFORMED) one QUEUED
	// outbox row per destination, in one transaction shared with concurrent callers (group
	// commit). When it returns nil the message survives a crash. Returns the message id.
	Accept(ctx context.Context, m *NewMessage) (int64, error)
	// MessageByKey finds the message accepted with a DedupKey (e.g. "Bundle/<id>"), or
	// returns ErrNotFound.
	MessageByKey(ctx context.Context, key string) (int64, error)

	// AcquireQueue takes or renews the lease on one destination queue for owner until now+ttl.
	// It returns false when another live owner holds it. In-order delivery needs exactly one
	// worker per queue across all nodes.
	AcquireQueue(ctx context.Context, channel, destination, owner string, ttl time.Duration) (bool, error)
	// QueueHolder tells who holds a queue's lease and until when ("" when nobody does).
	QueueHolder(ctx context.Context, channel, destination string) (owner string, until time.Time, err error)
	// TakeQueue takes over a lease from a holder known to be dead (e.g. a crashed process on
	// this host), rather than waiting for the lease to expire. It succeeds only while
	// deadOwner still holds the lease.
	TakeQueue(ctx context.Context, channel, destination, deadOwner, owner string, ttl time.Duration) (bool, error)
	// ReleaseQueue gives a lease up (on shutdown) so another node need not wait for expiry.
	ReleaseQueue(ctx context.Context, channel, destination, owner string) error
	// QueuePaused tells whether a queue is paused.
	QueuePaused(ctx context.Context, channel, destination string) (bool, error)

	// Pending returns up to limit QUEUED rows of one destination queue in message order
	// (ascending id), starting after afterID.
	Pending(ctx context.Context, channel, destination string, afterID int64, limit int) ([]Delivery, error)

	// Record stores attempt results (group-committed like Accept) and updates each message's
	// overall status. Storing a result again that is stored already must change nothing:
	// a worker whose Record failed, or did not answer, records the same result again.
	Record(ctx context.Context, results []AttemptResult) error
}

// MessageLog is what the operator UI and API read.
type MessageLog interface {
	// ListMessages returns summaries, newest first.
	ListMessages(ctx context.Context, f MessageFilter) ([]MessageSummary, error)
	// GetMessage returns a message with all its stages, or ErrNotFound.
	GetMessage(ctx context.Context, id int64) (*MessageDetail, error)
	// DeliveryStates returns the deliveries of each of the messages (in the order of their
	// destinations); a message without deliveries, or that does not exist (any more), is
	// absent from the map.
	DeliveryStates(ctx context.Context, ids []int64) (map[int64][]DestinationStatus, error)
	// Stats returns lifetime counts per channel.
	Stats(ctx context.Context) (map[string]ChannelStats, error)
	// Queues returns the state of every queue the store knows.
	Queues(ctx context.Context) ([]QueueInfo, error)
	// OldestQueued lists, for every queue holding QUEUED deliveries, when the oldest of
	// their messages was received; queues holding none are left out.
	OldestQueued(ctx context.Context) ([]QueueAge, error)
	// SearchStatus tells how far full-text indexing has come.
	SearchStatus(ctx context.Context) (SearchStatus, error)
	// Events lists a channel's audit events, newest first, at most limit ("" channel:
	// every channel's).
	Events(ctx context.Context, channel string, limit int) ([]Event, error)
	// LastEvent is the newest event of kind, or wraps ErrNotFound.
	LastEvent(ctx context.Context, kind string) (Event, error)
	// Size is the store's size in bytes on disk (for SQLite: the file and its WAL).
	Size(ctx context.Context) (int64, error)
}

// Operations are what operators do to messages, queues and channels; each is an audit
// event too.
type Operations interface {
	// Resend puts deliveries of a message back on their queues: status QUEUED, attempts
	// kept, next attempt now, counters and the message's status adjusted, and an event
	// logged, in one transaction. It returns the destinations queued again. Unknown
	// messages or destinations wrap ErrNotFound; a message without deliveries (FILTERED,
	// or failed at the source) wraps ErrNoDeliveries. A delivery its destination's filter
	// kept from it (FILTERED, or ERROR with no attempt: the filter failed) is never queued
	// again, even when named: it is left out of the answer (and ErrNoDeliveries when
	// nothing else is chosen); reprocess the message to run the filters again.
	Resend(ctx context.Context, r ResendRequest) ([]string, error)
	// RemoveMessage deletes a message with its content, its deliveries (adjusting the
	// queue counters) and its full-text index entry, and logs a "remove" event with
	// detail, in one transaction. Unknown ids wrap ErrNotFound; a message with a QUEUED
	// delivery wraps ErrQueuedDeliveries unless force is set. Lifetime channel counters
	// (received, filtered, errored) are kept: the message was received all the same.
	RemoveMessage(ctx context.Context, id int64, force bool, detail string) error
	// AddEvent appends to the audit trail.
	AddEvent(ctx context.Context, ev Event) error
	// SetQueuePaused pauses or resumes a destination queue (and logs it). Workers on
	// every node sharing the store stop taking work from a paused queue.
	SetQueuePaused(ctx context.Context, channel, destination string, paused bool, detail string) error
	ChannelStateStore
}

// Accounts are the admin API's tokens and the operator UI's sessions.
type Accounts interface {
	TokenStore
	SessionKeeper
}

// ErrContentRemoved is wrapped by Resend for a message whose content retention removed
// (a pass may strip it between the caller's look at the message and the resend). Such an
// error wraps ErrNoDeliveries too, the sentinel for "nothing to resend", so callers that
// know only that one (the admin API: 409) still tell the operator; its text is the
// reason. Stores make it with ContentRemoved.
var ErrContentRemoved = errors.New("content removed by retention")

// ContentRemoved is the error Resend returns for message id whose content retention
// removed.
func ContentRemoved(id int64) error { return contentRemovedError(id) }

type contentRemovedError int64 // the message id

func (e contentRemovedError) Error() string {
	return fmt.Sprintf("message %d: its content was removed by the channel's retention; it cannot be resent (reprocess it with edited content instead)", int64(e))
}

func (e contentRemovedError) Unwrap() []error { return []error{ErrContentRemoved, ErrNoDeliveries} }

// ErrQueuedDeliveries is returned by RemoveMessage for a message with a delivery still
// QUEUED, unless forced.
var ErrQueuedDeliveries = errors.New("the message has deliveries still queued")

// APIToken is a named API token: only the SHA-256 of its secret is stored.
type APIToken struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// TokenStore keeps the admin API's tokens.
type TokenStore interface {
	// CreateToken stores a token; a name already taken wraps ErrDuplicate. The creation
	// is logged as an event with detail.
	CreateToken(ctx context.Context, t APIToken, hash [32]byte, detail string) error
	// DeleteToken removes a token (logged with detail); an unknown name wraps ErrNotFound.
	DeleteToken(ctx context.Context, name, detail string) error
	// Tokens lists the tokens by name, without hashes.
	Tokens(ctx context.Context) ([]APIToken, error)
	// TokenByHash finds the token whose secret has this SHA-256, or wraps ErrNotFound.
	TokenByHash(ctx context.Context, hash [32]byte) (APIToken, error)
	// TouchToken sets a token's last use.
	TouchToken(ctx context.Context, name string, at time.Time) error
}
