package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"junction/engine"
)

// Delivery results. Each queue worker hands its results over as its sends return, in
// one Record call at a time (see engine/dispatch.go), so a transaction holds a small
// Record request per busy worker beside the messages being accepted, and sometimes more
// than one of a worker. The writer applies them together: one range query reads the
// deliveries of every message they name, one statement per status sets the messages'
// statuses; each request still succeeds or fails on its own.

// recordOp stores the results of one Record call. The writer applies every recordOp of a
// transaction together (recordAll), not through apply.
type recordOp struct {
	results []recordReq
	// finished: messages whose deliveries are all final once committed (the answer).
	finished []int64
}

// apply is never called: recordAll applies a transaction's results together.
func (*recordOp) apply(*writer) (itemErr, fatal error) {
	return errors.New("sqlite: delivery results are applied by recordAll"), nil
}

type recordReq struct {
	messageID   int64
	destination string
	status      string
	attempts    int
	nextAttempt int64
	errText     string
	encoded     any // nil or []byte
	sent        any
	response    any
	at          int64
}

// Record implements engine.Store. The results of one call are applied atomically: if
// one of them names an unknown delivery none is stored and the error wraps
// engine.ErrNotFound. Recording a result again that was already stored changes nothing
// (statuses and attempts are set, not added to), so a caller that does not know whether a
// Record committed (ctx ended) may send it again.
func (s *Store) Record(ctx context.Context, results []engine.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	rs := make([]recordReq, len(results))
	for i, res := range results {
		switch res.Status {
		case engine.StatusSent, engine.StatusQueued, engine.StatusError:
		default:
			return fmt.Errorf("sqlite: Record: status %q, want SENT, QUEUED or ERROR", res.Status)
		}
		at := nanos(res.At)
		if at == 0 {
			at = time.Now().UnixNano()
		}
		rs[i] = recordReq{
			messageID:   res.MessageID,
			destination: res.Destination,
			status:      string(res.Status),
			attempts:    res.Attempts,
			nextAttempt: nanos(res.NextAttempt),
			errText:     res.Error,
			encoded:     blobArg(res.Encoded),
			sent:        blobArg(res.Sent),
			response:    blobArg(res.Response),
			at:          at,
		}
	}
	return s.submit(ctx, &request{op: &recordOp{results: rs}})
}

// blobArg copies b for binding: nil stays NULL.
func blobArg(b []byte) any {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// recDel is one delivery row as Record sees it; recMsg a message's deliveries.
type recDel struct {
	id, queue int64
	status    string
	dest      string
}

type recMsg struct {
	dels     []recDel
	touched  bool // a result of a request that applied names it
	finished bool // listed in a request's finished
}

// recordAll applies every Record request of live (the transaction's requests), in their
// order. First every lookup, so a request naming an unknown delivery fails (in its err)
// before anything of it is written; then the updates, the messages' statuses, computed
// from each message's full set of deliveries, and the counters. A returned error left
// the transaction unusable; culprit is the index in live of the request it is blamed on.
func (w *writer) recordAll(live []*request) (culprit int, err error) {
	var reqs []int // indexes in live
	for i, r := range live {
		if isRecord(r) && r.err == nil {
			reqs = append(reqs, i)
		}
	}
	if len(reqs) == 0 {
		return -1, nil
	}
	msgs, err := w.loadRecordDels(live, reqs)
	if err != nil {
		err = fmt.Errorf("sqlite: Record: %w", err)
		if !w.inTx() {
			return reqs[0], err
		}
		for _, i := range reqs {
			live[i].err = err
		}
		return -1, nil
	}
	applied := reqs[:0:0]
	for _, i := range reqs {
		r := live[i]
		if r.err = findDeliveries(r.op.(*recordOp), msgs); r.err != nil {
			continue
		}
		if err := w.updateDeliveries(r.op.(*recordOp), msgs); err != nil {
			return i, err
		}
		applied = append(applied, i)
	}
	if len(applied) == 0 {
		return -1, nil
	}
	if err := w.setMessageStatuses(msgs); err != nil {
		return applied[0], err
	}
	for _, i := range applied {
		rec := live[i].op.(*recordOp)
		rec.finished = finishedOf(rec, msgs)
		if w.hook != nil {
			if err := w.hook(rec, "applied"); err != nil {
				return i, err
			}
		}
	}
	return -1, nil
}

// finishedOf lists the messages of r whose deliveries are all final (SENT, ERROR or
// FILTERED).
func finishedOf(r *recordOp, msgs map[int64]*recMsg) []int64 {
	out := r.finished[:0]
	for _, res := range r.results {
		m := msgs[res.messageID]
		if m.finished {
			continue // listed already
		}
		if !slices.ContainsFunc(m.dels, func(d recDel) bool { return d.status == string(engine.StatusQueued) }) {
			m.finished = true
			out = append(out, res.messageID)
		}
	}
	return out
}

// loadRecordDels reads the deliveries of every message the requests name. A queue's
// results are for nearby messages: one range query reads each run of ids lying close
// together (at most 16 apart, so a range reads few rows nobody asked for).
func (w *writer) loadRecordDels(live []*request, reqs []int) (map[int64]*recMsg, error) {
	msgs := map[int64]*recMsg{}
	var ids []int64
	for _, i := range reqs {
		for _, res := range live[i].op.(*recordOp).results {
			if _, ok := msgs[res.messageID]; !ok {
				msgs[res.messageID] = &recMsg{}
				ids = append(ids, res.messageID)
			}
		}
	}
	slices.Sort(ids)
	for lo := 0; lo < len(ids); {
		hi := lo
		for hi+1 < len(ids) && ids[hi+1]-ids[hi] <= 16 {
			hi++
		}
		if err := w.loadDelsRange(msgs, ids[lo], ids[hi]); err != nil {
			return nil, err
		}
		lo = hi + 1
	}
	return msgs, nil
}

// loadDelsRange adds the deliveries of the wanted messages with ids from..to to msgs.
func (w *writer) loadDelsRange(msgs map[int64]*recMsg, from, to int64) error {
	rows, err := w.loadDels.Query(from<<8, to<<8|0xff)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d recDel
		if err := rows.Scan(&d.id, &d.queue, &d.status, &d.dest); err != nil {
			return err
		}
		if m := msgs[d.id>>8]; m != nil {
			m.dels = append(m.dels, d)
		}
	}
	return rows.Err()
}

// findDeliveries checks that every result of r names a known delivery.
func findDeliveries(r *recordOp, msgs map[int64]*recMsg) error {
	for _, res := range r.results {
		if msgs[res.messageID].delivery(res.destination) == nil {
			if len(msgs[res.messageID].dels) == 0 {
				return fmt.Errorf("sqlite: Record: message %d: %w", res.messageID, engine.ErrNotFound)
			}
			return fmt.Errorf("sqlite: Record: message %d destination %q: %w", res.messageID, res.destination, engine.ErrNotFound)
		}
	}
	return nil
}

func (m *recMsg) delivery(dest string) *recDel {
	for i := range m.dels {
		if m.dels[i].dest == dest {
			return &m.dels[i]
		}
	}
	return nil
}

// updateDeliveries writes r's results and notes the counter changes and failed attempts.
func (w *writer) updateDeliveries(r *recordOp, msgs map[int64]*recMsg) error {
	for _, res := range r.results {
		m := msgs[res.messageID]
		d := m.delivery(res.destination)
		if _, err := w.updDel.Exec(res.status, res.attempts, res.nextAttempt, res.errText,
			res.encoded, res.sent, res.response, res.at, d.id); err != nil {
			return fmt.Errorf("sqlite: Record: update delivery: %w", err)
		}
		m.touched = true
		if d.status != res.status {
			c := w.qCounts(d.queue)
			c.add(d.status, -1)
			c.add(res.status, 1)
			d.status = res.status
		}
		if res.errText != "" {
			if prev, ok := w.lastErr[d.queue]; !ok || res.at >= prev.at {
				w.lastErr[d.queue] = lastError{text: res.errText, at: res.at, msg: res.messageID}
			}
		}
	}
	return nil
}

// setMessageStatuses sets the status of every touched message from its deliveries: one
// statement per status (most often all SENT) rather than one per message.
func (w *writer) setMessageStatuses(msgs map[int64]*recMsg) error {
	byStatus := map[string][]int64{}
	for id, m := range msgs {
		if m.touched {
			st := aggregate(m.dels, func(d recDel) string { return d.status })
			byStatus[st] = append(byStatus[st], id)
		}
	}
	for st, ids := range byStatus {
		var err error
		if len(ids) == 1 {
			_, err = w.setStatus.Exec(st, ids[0])
		} else {
			slices.Sort(ids)
			_, err = w.setStatuses.Exec(st, int64List(ids))
		}
		if err != nil {
			return fmt.Errorf("sqlite: Record: message status: %w", err)
		}
	}
	return nil
}

// setStatusesSQL sets the status of the messages listed in a JSON array.
const setStatusesSQL = `UPDATE messages SET status = ?1
	WHERE id IN (SELECT value FROM json_each(?2)) AND status <> ?1`

// int64List is ids as a JSON array, for json_each.
func int64List(ids []int64) string {
	b := make([]byte, 0, 1+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// aggregate is a message's status from its deliveries' statuses: ERROR if any is ERROR,
// else QUEUED if any is QUEUED, else FILTERED if every one is FILTERED (their filters
// left the message out: nothing was sent), else SENT. A FILTERED delivery is done: it
// counts for nothing beside the others.
func aggregate[T any](dels []T, status func(T) string) string {
	queued, filtered := false, 0
	for _, d := range dels {
		switch status(d) {
		case string(engine.StatusError):
			return string(engine.StatusError)
		case string(engine.StatusQueued):
			queued = true
		case string(engine.StatusFiltered):
			filtered++
		}
	}
	if queued {
		return string(engine.StatusQueued)
	}
	if filtered > 0 && filtered == len(dels) {
		return string(engine.StatusFiltered)
	}
	return string(engine.StatusSent)
}
