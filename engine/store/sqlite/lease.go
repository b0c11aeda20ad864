package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// leaseOp takes, renews, takes over or gives up a queue's lease (AcquireQueue,
// TakeQueue, ReleaseQueue). Its answer, ok, tells whether the owner holds it now.
type leaseOp struct {
	kind                        leaseKind
	channel, destination, owner string
	ttl                         time.Duration
	from                        string // leaseTake: the dead holder

	ok bool // the answer
}

type leaseKind uint8

const (
	leaseAcquire leaseKind = iota
	leaseTake
	leaseRelease
)

// AcquireQueue implements engine.Store.
func (s *Store) AcquireQueue(ctx context.Context, channel, destination, owner string, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, errors.New("sqlite: AcquireQueue: empty owner")
	}
	if ttl <= 0 {
		return false, errors.New("sqlite: AcquireQueue: ttl must be positive")
	}
	l := &leaseOp{kind: leaseAcquire, channel: channel, destination: destination, owner: owner, ttl: ttl}
	if err := s.submit(ctx, &request{op: l}); err != nil {
		return false, err
	}
	return l.ok, nil
}

// TakeQueue implements engine.Store.
func (s *Store) TakeQueue(ctx context.Context, channel, destination, deadOwner, owner string, ttl time.Duration) (bool, error) {
	if owner == "" || deadOwner == "" {
		return false, errors.New("sqlite: TakeQueue: empty owner")
	}
	if ttl <= 0 {
		return false, errors.New("sqlite: TakeQueue: ttl must be positive")
	}
	l := &leaseOp{kind: leaseTake, channel: channel, destination: destination, owner: owner, ttl: ttl, from: deadOwner}
	if err := s.submit(ctx, &request{op: l}); err != nil {
		return false, err
	}
	return l.ok, nil
}

// ReleaseQueue implements engine.Store. Releasing a lease one does not hold is a no-op.
func (s *Store) ReleaseQueue(ctx context.Context, channel, destination, owner string) error {
	if owner == "" {
		return errors.New("sqlite: ReleaseQueue: empty owner")
	}
	return s.submit(ctx, &request{op: &leaseOp{kind: leaseRelease, channel: channel, destination: destination, owner: owner}})
}

// apply runs the lease change: one statement, so it fails before writing or not at all.
func (l *leaseOp) apply(w *writer) (itemErr, fatal error) {
	now := time.Now().UnixNano()
	var res sql.Result
	var err error
	switch l.kind {
	case leaseAcquire:
		res, err = w.acquire.Exec(l.channel, l.destination, l.owner, now+int64(l.ttl), now)
	case leaseTake:
		res, err = w.take.Exec(l.owner, now+int64(l.ttl), l.channel, l.destination, l.from)
	case leaseRelease:
		_, err = w.release.Exec(l.channel, l.destination, l.owner)
	}
	if err == nil && res != nil {
		var n int64
		n, err = res.RowsAffected()
		l.ok = n == 1
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", [...]string{"AcquireQueue", "TakeQueue", "ReleaseQueue"}[l.kind], err), nil
	}
	return nil, nil
}
