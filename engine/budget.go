package engine

import (
	"context"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// MemoryFactor is what a request is charged against its listener's memory budget, per
// byte of its body: the body as read, its parsed form, the transformed content (a FHIR
// Bundle from toFHIR() is several times the HL7v2 it comes from), the copies the store
// makes while it commits, and garbage not yet collected.
const MemoryFactor = 16

// DefaultMaxBody is the largest request body a source takes unless it says otherwise.
const DefaultMaxBody = 10 << 20

// DefaultMaxMemory is a listener's memory budget unless its sources set limits.max_memory:
// a quarter of GOMEMLIMIT when that is set, else 512 MB; and always enough for one request
// of the listener's largest max_body (see MemoryBudget).
var DefaultMaxMemory = defaultMaxMemory()

func defaultMaxMemory() int64 {
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		return lim / 4
	}
	return 512 << 20
}

// MemoryWait is how long a request (an HTTP request, an MLLP frame) waits for its share
// of its listener's budget before it is turned away as busy.
const MemoryWait = time.Second

// MemoryBudget is the budget of a listener whose sources take bodies up to maxBody and
// whose configuration asks for maxMemory (0: the default).
func MemoryBudget(maxMemory, maxBody int64) int64 {
	if maxMemory > 0 {
		return maxMemory
	}
	return max(DefaultMaxMemory, MemoryFactor*maxBody)
}

// MemoryStats describe a listener's memory budget (all zero before Start).
type MemoryStats struct {
	Budget  int64 // bytes
	InUse   int64 // charged to the requests being served
	Peak    int64 // the most ever charged at once
	Refused int64 // requests answered 503 or 413 for want of room
	Waiting int   // requests waiting for room now
}

// A Budget is a listener's memory budget, charged by its sources with what each request
// (an HTTP request, an MLLP frame) in progress costs: a weighted semaphore over bytes.
// Waiters are served in order, so a large request at the head of the queue is not
// overtaken forever by small ones. Make one with NewBudget.
type Budget struct {
	capacity int64

	mu      sync.Mutex
	used    int64
	peak    int64
	refused int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the charge is granted
}

// NewBudget returns a budget of capacity bytes.
func NewBudget(capacity int64) *Budget { return &Budget{capacity: capacity} }

// Acquire charges n bytes, waiting for room until ctx is done; waiters are served in
// order. It reports whether the charge was granted: if so, Release it once done (a
// charge larger than the whole budget waits until ctx is done, and is refused).
func (b *Budget) Acquire(ctx context.Context, n int64) bool {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.capacity {
		b.take(n)
		b.mu.Unlock()
		return true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		return true // granted as the wait ended: keep it
	default:
	}
	if i := slices.Index(b.waiters, w); i >= 0 {
		b.waiters = slices.Delete(b.waiters, i, i+1)
	}
	b.grant() // the head may have left: those behind it may fit now
	b.refused++
	return false
}

// Release gives back a charge Acquire granted.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// take charges n; b.mu is held.
func (b *Budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant admits waiters in order while they fit; b.mu is held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.capacity {
		w := b.waiters[0]
		b.waiters = slices.Delete(b.waiters, 0, 1)
		b.take(w.n)
		close(w.ready)
	}
}

// Refuse counts a request turned away without waiting (larger than the whole budget).
func (b *Budget) Refuse() {
	b.mu.Lock()
	b.refused++
	b.mu.Unlock()
}

// Capacity is the budget's size in bytes.
func (b *Budget) Capacity() int64 { return b.capacity }

// Stats describe the budget: its size, what is charged now, the most ever charged at
// once, and the charges refused.
func (b *Budget) Stats() MemoryStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return MemoryStats{Budget: b.capacity, InUse: b.used, Peak: b.peak, Refused: b.refused, Waiting: len(b.waiters)}
}
