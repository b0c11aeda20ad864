package engine

import (
	"context"
	"fmt"
	"math"
	"net/http"
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
// of the listener's largest max_body (see ListenerLimits.MemoryBudget).
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

// memoryWait is how long a request waits for its share of the budget before it is
// answered 503.
const memoryWait = MemoryWait

// MemoryBudget is the budget of a listener whose sources take bodies up to maxBody.
func (l ListenerLimits) MemoryBudget(maxBody int64) int64 {
	if l.MaxMemory > 0 {
		return l.MaxMemory
	}
	return max(DefaultMaxMemory, MemoryFactor*maxBody)
}

// RefuseFunc answers a request that a listener turns away before its routes see it: 503
// (too many requests at once, or no room in the memory budget; Retry-After is set) or
// 413 (larger than the whole budget). Sources set it to answer in their protocol's shape.
type RefuseFunc func(w http.ResponseWriter, r *http.Request, status int, reason string)

func plainRefuse(w http.ResponseWriter, _ *http.Request, status int, reason string) {
	http.Error(w, reason, status)
}

// MemoryStats describe a listener's memory budget (all zero before Start).
type MemoryStats struct {
	Budget  int64 // bytes
	InUse   int64 // charged to the requests being served
	Peak    int64 // the most ever charged at once
	Refused int64 // requests answered 503 or 413 for want of room
}

// Memory reports the listener's memory budget.
func (l *Listener) Memory() MemoryStats {
	if l.budget == nil {
		return MemoryStats{}
	}
	return l.budget.stats()
}

// A Budget is a memory budget for a listener the engine does not serve itself (an MLLP
// listener): the same budget as an HTTP listener's, charged by its source. The zero
// value is not usable: make one with NewBudget.
type Budget struct{ b *budget }

// NewBudget returns a budget of capacity bytes.
func NewBudget(capacity int64) *Budget { return &Budget{b: newBudget(capacity)} }

// Acquire charges n bytes, waiting for room until ctx is done; waiters are served in
// order. It reports whether the charge was granted: if so, Release it once done (a
// charge larger than the whole budget waits until ctx is done, and is refused).
func (b *Budget) Acquire(ctx context.Context, n int64) bool { return b.b.acquire(ctx, n) }

// Release gives back a charge Acquire granted.
func (b *Budget) Release(n int64) { b.b.release(n) }

// Capacity is the budget's size in bytes.
func (b *Budget) Capacity() int64 { return b.b.capacity }

// Stats describe the budget: its size, what is charged now, the most ever charged at
// once, and the charges refused.
func (b *Budget) Stats() MemoryStats { return b.b.stats() }

// budget is a weighted semaphore over bytes. Waiters are served in order, so a large
// request at the head of the queue is not overtaken forever by small ones.
type budget struct {
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

func newBudget(capacity int64) *budget { return &budget{capacity: capacity} }

// acquire charges n bytes, waiting until ctx is done for room. It reports whether the
// charge was granted; the caller then releases it.
func (b *budget) acquire(ctx context.Context, n int64) bool {
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

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// take charges n; b.mu is held.
func (b *budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant admits waiters in order while they fit; b.mu is held.
func (b *budget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.capacity {
		w := b.waiters[0]
		b.waiters = slices.Delete(b.waiters, 0, 1)
		b.take(w.n)
		close(w.ready)
	}
}

func (b *budget) refuse() {
	b.mu.Lock()
	b.refused++
	b.mu.Unlock()
}

func (b *budget) stats() MemoryStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return MemoryStats{Budget: b.capacity, InUse: b.used, Peak: b.peak, Refused: b.refused}
}

// charge is what a request costs: MemoryFactor times its body, counted as maxBody when
// the sender did not say its length (chunked) and never above maxBody (the routes read no
// more than that before answering 413). A request without a body costs nothing.
func charge(r *http.Request, maxBody int64) int64 {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	size := r.ContentLength
	if size == 0 || r.Body == nil || r.Body == http.NoBody {
		return 0
	}
	if size < 0 || size > maxBody {
		size = maxBody
	}
	return MemoryFactor * size
}

// limitMemory serves a request once its charge fits in b, and gives the charge back when
// the answer is written. A request that finds no room within memoryWait gets 503 with
// Retry-After; one whose charge exceeds the whole budget, 413: it could never be served.
func limitMemory(h http.Handler, b *budget, maxBody int64, refuse RefuseFunc, wait time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := charge(r, maxBody)
		switch {
		case n == 0:
			h.ServeHTTP(w, r)
			return
		case n > b.capacity:
			b.refuse()
			refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body (%s) is too large for this listener's memory budget of %s (each request is charged %d times its body): it can never be taken",
				sizeText(n/MemoryFactor), sizeText(b.capacity), MemoryFactor))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		ok := b.acquire(ctx, n)
		cancel()
		if !ok {
			w.Header().Set("Retry-After", "1")
			refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("this listener's memory budget of %s is taken by the requests in progress: send again shortly", sizeText(b.capacity)))
			return
		}
		defer b.release(n)
		h.ServeHTTP(w, r)
	})
}

// admit runs a listener's Admit before h (h alone without one).
func admit(h http.Handler, admit func(http.ResponseWriter, *http.Request) (*http.Request, bool)) http.Handler {
	if admit == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := admit(w, r); ok {
			h.ServeHTTP(w, r)
		}
	})
}

// sizeText writes a byte count as people read it: 10 MB, 1.5 MB, 512 KB, 900 bytes.
func sizeText(n int64) string {
	for _, u := range [...]struct {
		unit string
		size int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		switch {
		case n >= u.size && n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		case n >= u.size:
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
