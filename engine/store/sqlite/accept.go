package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// maxDestinations bounds NewMessage.Destinations: the ordinal lives in the low 8 bits of
// deliveries.id.
const maxDestinations = 256

// acceptOp stores one accepted message (Accept): its row, content, custom columns and
// deliveries (routes.go). Its answer is the message's id.
type acceptOp struct {
	channel      string
	status       string // as stored: QUEUED when TRANSFORMED with destinations
	srcStatus    engine.Status
	receivedAt   int64
	dataType     string
	controlID    string
	sourceDomain string
	orgCode      string
	originalID   any // nil or int64
	dedupKey     any // nil or string
	errText      string
	meta         any // nil or string (JSON)
	raw          []byte
	transformed  any // nil or []byte
	warnings     int // how many; their JSON (nil or string) in warnText
	warnText     any
	destinations []string
	skipped      []engine.SkippedDestination // stored after destinations, never queued
	columns      map[string]string           // custom metadata column values (columns.go)

	id int64 // the answer
}

// Accept implements engine.Store.
func (s *Store) Accept(ctx context.Context, m *engine.NewMessage) (int64, error) {
	if m == nil {
		return 0, errors.New("sqlite: Accept: nil message")
	}
	a := &acceptOp{
		channel:      m.Channel,
		status:       string(m.Status),
		srcStatus:    m.Status,
		receivedAt:   nanos(m.ReceivedAt),
		dataType:     m.DataType,
		controlID:    m.ControlID,
		sourceDomain: m.SourceDomain,
		orgCode:      m.OrgCode,
		errText:      m.Error,
		raw:          m.Raw, // not copied: the caller hands the buffers over (NewMessage)
		columns:      m.Columns,
	}
	if a.channel == "" {
		return 0, errors.New("sqlite: Accept: empty channel")
	}
	switch m.Status {
	case engine.StatusFiltered, engine.StatusError:
	case engine.StatusTransformed:
		if err := acceptRoutes(a, m); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("sqlite: Accept: status %q, want FILTERED, ERROR or TRANSFORMED", m.Status)
	}
	if a.receivedAt == 0 {
		a.receivedAt = time.Now().UnixNano()
	}
	if m.OriginalID != 0 {
		a.originalID = m.OriginalID
	}
	if m.DedupKey != "" {
		a.dedupKey = m.DedupKey
	}
	if len(m.Meta) > 0 {
		a.meta = metaJSON(m.Meta)
	}
	a.warnings, a.warnText = len(m.Warnings), warningsJSON(m.Warnings)
	// Transformed is stored only when it differs from raw.
	if m.Transformed != nil && string(m.Transformed) != string(m.Raw) {
		a.transformed = m.Transformed
	}
	if err := s.submit(ctx, &request{op: a}); err != nil {
		return 0, err
	}
	return a.id, nil
}

// apply inserts one message and its deliveries. It isolates itself (see apply):
// a failed message insert (e.g. duplicate DedupKey) has written nothing; a failure after
// it is undone by deleting what this request inserted.
func (a *acceptOp) apply(w *writer) (itemErr, fatal error) {
	res, err := w.insMsg.Exec(a.channel, a.status, a.receivedAt, a.dataType, a.controlID,
		a.sourceDomain, a.orgCode, a.originalID, a.dedupKey, a.errText, a.meta, a.warnings)
	if err != nil {
		if a.dedupKey != nil && isUnique(err) {
			return engine.ErrDuplicate, nil
		}
		return fmt.Errorf("sqlite: insert message: %w", err), nil
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	if _, err := w.insContent.Exec(id, a.raw, a.transformed, a.warnText); err != nil {
		// Undo the message row; if that fails too, the batch is retried without it.
		if _, e := w.delMsg.Exec(id); e != nil {
			return nil, errors.Join(err, e)
		}
		return fmt.Errorf("sqlite: insert content: %w", err), nil
	}
	if itemErr, fatal := w.insertColumns(a, id); itemErr != nil || fatal != nil { // columns.go
		return itemErr, fatal
	}
	if itemErr, fatal := w.insertDeliveries(a, id); itemErr != nil || fatal != nil {
		return itemErr, fatal
	}
	// Counters are applied at the end of the transaction, only for requests that succeeded.
	c := w.chanDelta[a.channel]
	if c == nil {
		c = &channelCounts{}
		w.chanDelta[a.channel] = c
	}
	c.received++
	switch {
	case a.status == string(engine.StatusFiltered): // by the channel's filters, or every destination's
		c.filtered++
	case a.srcStatus == engine.StatusError:
		c.errored++
	}
	for _, d := range a.destinations {
		w.qCounts(w.queueID(queueKey{a.channel, d})).queued++
	}
	for _, sk := range a.skipped {
		w.qCounts(w.queueID(queueKey{a.channel, sk.Name})).add(string(sk.Status), 1)
	}
	a.id = id
	return nil, nil
}

// recentOf is what the queue workers will read of an accepted message (see Pending).
func recentOf(a *acceptOp) *recentEntry {
	e := &recentEntry{controlID: a.controlID, dataType: a.dataType, content: a.raw}
	if t, ok := a.transformed.([]byte); ok {
		e.content = t
	}
	if m, ok := a.meta.(string); ok {
		e.meta = []byte(m)
	}
	return e
}
