package auth

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// PasswordSlots caps the password checks running at once. An argon2id check holds 19 MiB
// and a core for tens of milliseconds; unbounded, a
// flood of logins takes memory in proportion to its concurrency (150 at once took the
// process from 1 GB to 2.9 GB). A check that cannot start within Wait is refused, so the
// waiting does not grow without end either. Safe for concurrent use.
type PasswordSlots struct {
	Wait time.Duration // longest wait for a slot; set before first use

	slots chan struct{}
	busy  atomic.Int64
	peak  atomic.Int64
}

// NewPasswordSlots allows n checks at once (n ≤ 0: the cores, at least 2 and at most 4),
// each waiting at most wait for its turn (wait ≤ 0: 2 s).
func NewPasswordSlots(n int, wait time.Duration) *PasswordSlots {
	if n <= 0 {
		n = min(max(runtime.GOMAXPROCS(0), 2), 4)
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return &PasswordSlots{Wait: wait, slots: make(chan struct{}, n)}
}

// Cap is the most checks allowed at once.
func (p *PasswordSlots) Cap() int { return cap(p.slots) }

// Peak is the most slots held at once so far: the most password checks that ran at once.
func (p *PasswordSlots) Peak() int { return int(p.peak.Load()) }

// Acquire takes a slot, waiting at most Wait; release gives it back (calling it again does
// nothing). The error is a *Refusal (503, try again in a second) when no slot came free in
// time, ctx's error when ctx ended first.
func (p *PasswordSlots) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(p.Wait)
		defer t.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			return nil, &Refusal{Status: http.StatusServiceUnavailable, RetryAfter: time.Second}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	n := p.busy.Add(1)
	for old := p.peak.Load(); n > old && !p.peak.CompareAndSwap(old, n); old = p.peak.Load() {
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.busy.Add(-1)
			<-p.slots
		})
	}, nil
}
