package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// The small operations: an audit event, a queue's pause, a checkpoint, and funcOp, a
// function run in the batch's transaction (admin.go, sessions.go, alerts.go, …).

// eventOp appends one event to the audit trail (AddEvent).
type eventOp struct{ ev engine.Event }

func (o *eventOp) apply(w *writer) (itemErr, fatal error) {
	ev := o.ev
	if _, err := w.insEvent.Exec(ev.At.UnixNano(), ev.MessageID, ev.Channel, ev.Destination, ev.Kind, ev.Detail); err != nil {
		return fmt.Errorf("sqlite: AddEvent: %w", err), nil
	}
	return nil, nil
}

// AddEvent implements engine.Store.
func (s *Store) AddEvent(ctx context.Context, ev engine.Event) error {
	if ev.Kind == "" {
		return errors.New("sqlite: AddEvent: empty kind")
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	return s.submit(ctx, &request{op: &eventOp{ev: ev}})
}

// pauseOp pauses or resumes a queue (SetQueuePaused).
type pauseOp struct {
	channel, destination string
	paused               bool
	detail               string
	at                   int64
}

// SetQueuePaused implements engine.Store.
func (s *Store) SetQueuePaused(ctx context.Context, channel, destination string, paused bool, detail string) error {
	if channel == "" || destination == "" {
		return errors.New("sqlite: SetQueuePaused: empty channel or destination")
	}
	return s.submit(ctx, &request{op: &pauseOp{channel: channel, destination: destination,
		paused: paused, detail: detail, at: time.Now().UnixNano()}})
}

// apply sets a queue's paused flag (creating the queue row if it is new) and logs it.
func (p *pauseOp) apply(w *writer) (itemErr, fatal error) {
	if _, err := w.pause.Exec(p.channel, p.destination, p.paused); err != nil {
		return fmt.Errorf("sqlite: SetQueuePaused: %w", err), nil
	}
	kind := "resume"
	if p.paused {
		kind = "pause"
	}
	if _, err := w.insEvent.Exec(p.at, 0, p.channel, p.destination, kind, p.detail); err != nil {
		return nil, fmt.Errorf("sqlite: SetQueuePaused: event: %w", err)
	}
	// A queue row created here is committed with this transaction; forget nothing cached:
	// resolveQueues looks rows up by name when it meets a new queue.
	return nil, nil
}

// checkpointOp runs PRAGMA wal_checkpoint(mode) between two transactions (Checkpoint).
type checkpointOp struct{ mode string }

// apply is never called: the writer runs a checkpoint outside any transaction (process).
func (*checkpointOp) apply(*writer) (itemErr, fatal error) {
	return errors.New("sqlite: a checkpoint cannot run in a transaction"), nil
}

// Checkpoint asks the writer to run PRAGMA wal_checkpoint(mode) between two transactions.
// mode is PASSIVE, FULL, RESTART or TRUNCATE.
func (s *Store) Checkpoint(ctx context.Context, mode string) error {
	switch mode {
	case "PASSIVE", "FULL", "RESTART", "TRUNCATE":
	default:
		return fmt.Errorf("sqlite: Checkpoint: bad mode %q", mode)
	}
	return s.submit(ctx, &request{op: &checkpointOp{mode: mode}})
}

// funcOp is a function run by the writer in the batch's transaction. Like every
// operation it must fail before writing (itemErr) or report a failure after a write as
// fatal.
type funcOp func(w *writer) (itemErr, fatal error)

func (f funcOp) apply(w *writer) (itemErr, fatal error) { return f(w) }
