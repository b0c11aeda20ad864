package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"junction/engine"
)

// Retention (engine.Pruner): removing content and messages past their channel's ages.
//
// A pass walks each channel's messages oldest first through messages_channel on the read
// pool, and hands the ones that have expired to the writer in batches of pruneBatch, each
// one short transaction (taken when the writer is idle, else after pruneStarve as
// ordinary work, as the indexer's are), which checks every message again before it
// removes anything: what a pass decided on stale reads is never removed. Two walks:
//
//   - messages: from the channel's first message to the messages age (or max): the
//     expired ones go with their content, deliveries and index entry; those still QUEUED
//     or in ERROR stay until resolved, or until max, when they go all the same. A message
//     in ERROR at its source (no deliveries) that an operator reprocessed (a "reprocess"
//     or "reprocess-edited" event on it, logged by engine.Reprocess) counts as resolved:
//     the new message carries on, and the old one goes by the ordinary ages.
//   - content: from the channel's first message still holding content that the last
//     pass kept (held, or too young; kept in memory, pruneState) to the content age:
//     the contents row goes, and each delivery's encoded, sent, response and edited
//     content; the message row and its deliveries' statuses and errors stay.
//
// Removed content leaves the full-text index: FTS4 deletes a document from a contentless
// index (content="") by reading its text back from the table named "" (schema.go), so
// the batch puts the message's indexed text there (indexBody, as the indexer made it),
// deletes the document and empties the table again. Only indexed messages are pruned
// (id <= search_state.indexed_to): a message the indexer has read but not yet committed
// would otherwise come back into the index after its content went.
//
// Lifetime counters (channels, queues) are kept: a pruned message was received and sent
// all the same. Only a queued delivery removed at max leaves the queue's depth.
//
// Space: new stores are created with auto_vacuum=INCREMENTAL, and a pass ends with
// PRAGMA incremental_vacuum steps (pruneVacuumPages each, one writer request each) that
// give the freed pages back to the file system. A store created before has
// auto_vacuum=NONE: freed pages are reused by new messages but the file does not shrink
// until a one-off VACUUM (README, Retention).

// Prune tuning.
var (
	pruneBatch = 200 // messages per write transaction, at most
	// pruneBatchTime bounds the writer time of one prune transaction: the messages of a
	// batch left when it is up go in the next (large messages take longer to unindex).
	pruneBatchTime   = 10 * time.Millisecond
	pruneWalk        = 1024 // rows per read of a walk
	pruneVacuumPages = 256  // pages per incremental_vacuum step (1 MiB with 4 KiB pages)
	// pruneStarve: how long a batch waits for the writer to be idle before it goes as
	// ordinary work. Under a load that never leaves the writer idle, a pass then takes at
	// most pruneBatchTime of every pruneStarve of the writer's time, and still removes a
	// few hundred messages a second (BenchmarkAcceptDuringPrune).
	pruneStarve = 100 * time.Millisecond
)

// pruneState is what passes remember between them (in this process only): for each
// channel, the id below which no message holds content a pass could remove.
type pruneState struct {
	mu          sync.Mutex
	contentFrom map[string]int64
}

func (p *pruneState) from(channel string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.contentFrom[channel]
}

func (p *pruneState) set(channel string, id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.contentFrom == nil {
		p.contentFrom = map[string]int64{}
	}
	p.contentFrom[channel] = id
}

// pruneRule is one channel's retention as cut-offs: a message received before a cut-off
// (unix nanoseconds) is past that age; 0: never.
type pruneRule struct {
	channel                string
	content, messages, max int64
}

func newPruneRule(channel string, r engine.Retention, now time.Time) pruneRule {
	cut := func(d time.Duration) int64 {
		if d <= 0 {
			return 0
		}
		return now.Add(-d).UnixNano()
	}
	return pruneRule{channel: channel, content: cut(r.Content), messages: cut(r.Messages), max: cut(r.Max)}
}

// held reports whether a message of this status is kept until resolved (or max):
// QUEUED, or ERROR unless resolved by a reprocess (reprocessed: see resolvedSQL).
func held(status string, reprocessed bool) bool {
	return status == string(engine.StatusQueued) || status == string(engine.StatusError) && !reprocessed
}

// resolvedSQL is true for message m in ERROR at its source (it has no deliveries) that
// was reprocessed: engine.Reprocess logs "reprocess" or "reprocess-edited" on it (the
// events_message index finds it; messages.original_id has no index). CASE, so that the
// subqueries run for messages in ERROR only.
const resolvedSQL = `(CASE WHEN m.status = 'ERROR' THEN
	NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id BETWEEN m.id << 8 AND (m.id << 8) | 255)
	AND EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.id AND e.kind IN ('reprocess', 'reprocess-edited'))
	ELSE 0 END)`

// removes reports whether the message goes altogether.
func (p pruneRule) removes(status string, reprocessed bool, recv int64) bool {
	if held(status, reprocessed) {
		return p.max != 0 && recv < p.max
	}
	return p.messages != 0 && recv < p.messages
}

// strips reports whether the message loses its content (and stays).
func (p pruneRule) strips(status string, reprocessed bool, recv int64) bool {
	return !held(status, reprocessed) && p.content != 0 && recv < p.content && !p.removes(status, reprocessed, recv)
}

// Prune implements engine.Pruner.
func (s *Store) Prune(ctx context.Context, o engine.PruneOptions) (engine.PruneReport, error) {
	rep := engine.PruneReport{Channels: map[string]engine.PruneCounts{}}
	if s.shut.Load() {
		return rep, engine.ErrStoreClosed
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	batch := o.Batch
	if batch <= 0 {
		batch = pruneBatch
	}
	names, err := s.channelNames(ctx)
	if err != nil {
		return rep, err
	}
	for _, ch := range names {
		r, ok := o.Channels[ch]
		if !ok {
			r = o.Default
		}
		if r.IsZero() {
			continue
		}
		c, err := s.pruneChannel(ctx, newPruneRule(ch, r, now), o.DryRun, batch)
		if c != (engine.PruneCounts{}) {
			rep.Channels[ch] = c
		}
		if err != nil {
			return rep, fmt.Errorf("sqlite: prune channel %s: %w", ch, err)
		}
	}
	if !o.DryRun {
		freed, err := s.vacuum(ctx)
		rep.FreedBytes = freed
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// channelNames lists the channels that ever had messages in the store.
func (s *Store) channelNames(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT name FROM channels ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prune: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *Store) indexedThrough(ctx context.Context) (int64, error) {
	var at int64
	err := s.rdb.QueryRowContext(ctx, `SELECT indexed_to FROM search_state WHERE id = 1`).Scan(&at)
	return at, err
}

// walkRow is one message as a walk reads it.
type walkRow struct {
	id, recv    int64
	status      string
	reprocessed bool // in ERROR at its source, and reprocessed (resolvedSQL)
}

// walk reads the channel's messages after id in id order, pruneWalk at a time, and
// hands each to f until f returns false or the rows end. withContent: only messages
// still holding content.
func (s *Store) walk(ctx context.Context, channel string, after int64, withContent bool, f func(walkRow) (bool, error)) error {
	q := `SELECT m.id, m.status, m.received_at, ` + resolvedSQL + ` FROM messages m
			WHERE m.channel = ? AND m.id > ? ORDER BY m.id LIMIT ?`
	if withContent {
		q = `SELECT m.id, m.status, m.received_at, ` + resolvedSQL + ` FROM messages m JOIN contents c ON c.message_id = m.id
			WHERE m.channel = ? AND m.id > ? ORDER BY m.id LIMIT ?`
	}
	for {
		rows, err := s.rdb.QueryContext(ctx, q, channel, after, pruneWalk)
		if err != nil {
			return err
		}
		var page []walkRow
		for rows.Next() {
			var r walkRow
			if err := rows.Scan(&r.id, &r.status, &r.recv, &r.reprocessed); err != nil {
				rows.Close()
				return err
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range page {
			more, err := f(r)
			if err != nil || !more {
				return err
			}
			after = r.id
		}
		if len(page) < pruneWalk {
			return nil
		}
	}
}

// pruneChannel runs both walks over one channel.
func (s *Store) pruneChannel(ctx context.Context, p pruneRule, dry bool, batch int) (engine.PruneCounts, error) {
	var c engine.PruneCounts
	indexed, err := s.indexedThrough(ctx)
	if err != nil {
		return c, err
	}
	keepFrom := int64(-1) // the first message of the content walk that keeps its content
	keep := func(id int64) {
		if keepFrom < 0 || id < keepFrom {
			keepFrom = id
		}
	}
	var ids []int64
	flush := func(remove bool) error {
		if len(ids) == 0 {
			return nil
		}
		defer func() { ids = ids[:0] }()
		n := int64(len(ids))
		if !dry {
			done, err := s.pruneBatch(ctx, p, ids, remove)
			if err != nil {
				return err
			}
			n = int64(len(done))
			if !remove && len(done) < len(ids) {
				// Changed since it was read (resent, say): the next pass looks again.
				changed := make(map[int64]bool, len(done))
				for _, id := range done {
					changed[id] = true
				}
				for _, id := range ids {
					if !changed[id] {
						keep(id)
					}
				}
			}
		}
		if remove {
			c.Messages += n
		} else {
			c.Content += n
		}
		return nil
	}
	// The walks end past the latest cut-off they apply, give or take idSlack: ids follow
	// receipt times to within it.
	if end := max(p.messages, p.max); end != 0 {
		err := s.walk(ctx, p.channel, 0, false, func(r walkRow) (bool, error) {
			if r.recv >= end+int64(idSlack) {
				return false, nil
			}
			switch {
			case r.id > indexed:
				// Not indexed yet: wait for the indexer.
			case p.removes(r.status, r.reprocessed, r.recv):
				if ids = append(ids, r.id); len(ids) >= batch {
					return true, flush(true)
				}
			case held(r.status, r.reprocessed) && p.messages != 0 && r.recv < p.messages:
				c.Held++
			}
			return true, nil
		})
		if err == nil {
			err = flush(true)
		}
		if err != nil {
			return c, err
		}
	}
	if p.content == 0 {
		return c, nil
	}
	start := s.prune.from(p.channel)
	last := start
	err = s.walk(ctx, p.channel, start, true, func(r walkRow) (bool, error) {
		if r.recv >= p.content+int64(idSlack) {
			return false, nil
		}
		last = r.id
		switch {
		case r.id > indexed:
		case p.removes(r.status, r.reprocessed, r.recv):
			return true, nil // the first walk's
		case p.strips(r.status, r.reprocessed, r.recv):
			if ids = append(ids, r.id); len(ids) >= batch {
				return true, flush(false)
			}
			return true, nil
		case held(r.status, r.reprocessed) && r.recv < p.content && (p.messages == 0 || r.recv >= p.messages):
			c.Held++ // (older ones the first walk counted)
		}
		keep(r.id)
		return true, nil
	})
	if err == nil {
		err = flush(false)
	}
	if err == nil && !dry {
		if keepFrom >= 0 {
			last = keepFrom - 1
		}
		s.prune.set(p.channel, last)
	}
	return c, err
}
