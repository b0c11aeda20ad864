package auth

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// LoginLimiter throttles password guessing on the admin listener, so that an attacker
// slows himself down rather than locking the account's owner out (OWASP: throttle by
// address, delay by account, no lockout). An attempt is counted before its password is
// checked, in one step with the check of the limits, so concurrent guesses cannot all
// slip past it; a right password forgives its attempt. Counted, over sliding windows:
//
//   - per account and address: PairMax attempts within Window, then 429 until the oldest
//     is Window old;
//   - per address, whatever the account (password spraying): AddrMax within Window;
//   - per account, from every address: once AccountFree attempts fell within
//     AccountWindow, attempts on the account start one at a time, SpacingMin apart,
//     doubling every PairMax further failures up to SpacingMax. Nothing is locked: an
//     attempt waits its turn (Reservation.Delay), and only one that would wait longer than
//     MaxWait is refused (429). Each address holds at most one place in that line, so a
//     few attacking addresses cannot fill it, and an address the account logged in from
//     within TrustFor (this process's memory) skips it.
//
// Password checks themselves run at most Slots.Cap() at once (PasswordSlots).
// Attempt does all of it. Set the fields before first use. Safe for concurrent use.
type LoginLimiter struct {
	PairMax, AddrMax int
	Window           time.Duration

	AccountFree            int
	AccountWindow          time.Duration
	SpacingMin, SpacingMax time.Duration
	MaxWait                time.Duration
	TrustFor               time.Duration

	Slots *PasswordSlots

	now     func() time.Time
	mu      sync.Mutex
	counts  map[string]*counted  // "pair:…", "addr:…" and "user:…" → attempts counted
	trusted map[string]time.Time // account + "\x00" + address → trusted until
	pruneAt int
}

// counted is one key's attempts within its window, oldest first: failures, and attempts
// whose password is being checked.
type counted struct {
	times []time.Time
	next  time.Time            // accounts: when the next attempt in line may start
	line  map[string]time.Time // accounts: address → start of its place in line, while ahead
}

const (
	minPruneAt = 10000 // keys kept before stale ones are dropped
	maxTrusted = 10000 // trusted (account, address) pairs remembered
	maxNameKey = 65    // bytes of a user name kept in a key: one more than a name may have
)

// NewLoginLimiter makes a limiter with max failed logins per account and address within
// window (zero values: 5 per minute) and the other limits derived from them: 2×max per
// address; 4×max per account within 15×window before its attempts are spaced out, 500 ms
// doubling up to 4 s apart; 30 s longest wait; addresses trusted for 30 days; password
// checks at most 2 to 4 at once (the cores, within those bounds), waiting at most 2 s for
// a turn.
func NewLoginLimiter(max int, window time.Duration) *LoginLimiter {
	if max <= 0 {
		max = 5
	}
	if window <= 0 {
		window = time.Minute
	}
	return &LoginLimiter{
		PairMax: max, AddrMax: 2 * max, Window: window,
		AccountFree: 4 * max, AccountWindow: 15 * window,
		SpacingMin: 500 * time.Millisecond, SpacingMax: 4 * time.Second, MaxWait: 30 * time.Second,
		TrustFor: 30 * 24 * time.Hour,
		Slots:    NewPasswordSlots(0, 0),
		now:      time.Now, counts: map[string]*counted{}, trusted: map[string]time.Time{}, pruneAt: minPruneAt,
	}
}

// Refusal says why a login attempt's password was not checked, and when to try again.
type Refusal struct {
	Status     int // 429: too many attempts; 503: too many password checks at once
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (r *Refusal) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(r.RetryAfter.Seconds())))
}

func (r *Refusal) Error() string {
	if r.Status == http.StatusServiceUnavailable {
		return fmt.Sprintf("too many logins are being checked at once: try again in %d seconds", r.RetryAfterSeconds())
	}
	return fmt.Sprintf("too many failed logins: try again in %d seconds", r.RetryAfterSeconds())
}

// A Reservation is one login attempt, counted as a failure until it is forgiven.
type Reservation struct {
	l         *LoginLimiter
	account   string
	addr      string
	keys      [3]string // pair, address, account
	at        time.Time
	Delay     time.Duration // wait this long before checking the password: the account's line
	uncounted bool
}

// Attempt checks a login from addr as user within the limits: it counts the attempt, waits
// its turn, takes a password-check slot and calls check, which says whether the password
// is right. A *Refusal, when check was not called because of the limits (429) or because
// every slot stayed busy (503); ctx's error when the client went away while waiting.
func (l *LoginLimiter) Attempt(ctx context.Context, addr, user string, check func() bool) (bool, error) {
	res, refused := l.Reserve(addr, user)
	if refused != nil {
		return false, refused
	}
	if res.Delay > 0 {
		t := time.NewTimer(res.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			res.Cancel()
			return false, ctx.Err()
		}
	}
	release, err := l.Slots.Acquire(ctx)
	if err != nil {
		res.Cancel()
		return false, err
	}
	ok := check()
	release()
	if ok {
		res.Succeeded()
	} else {
		res.Failed()
	}
	return ok, nil
}

// Reserve counts an attempt from addr as user if the limits allow it, else says when they
// will. The reservation counts as a failure until Succeeded or Cancel.
func (l *LoginLimiter) Reserve(addr, user string) (*Reservation, *Refusal) {
	account := strings.ToLower(user)
	if len(account) > maxNameKey { // no account has a longer name: these need not differ
		account = account[:maxNameKey]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	pair, byAddr, acct := "pair:"+account+"\x00"+addr, "addr:"+addr, "user:"+account
	wait := max(l.full(pair, now, l.Window, l.PairMax), l.full(byAddr, now, l.Window, l.AddrMax))
	if wait > 0 {
		return nil, &Refusal{Status: http.StatusTooManyRequests, RetryAfter: wait}
	}
	res := &Reservation{l: l, account: account, addr: addr, keys: [3]string{pair, byAddr, acct}, at: now}
	if until, ok := l.trusted[account+"\x00"+addr]; !ok || !now.Before(until) {
		delay, refused := l.takeTurn(acct, addr, now)
		if refused != nil {
			return nil, refused
		}
		res.Delay = delay
	}
	l.add(pair, now, l.PairMax)
	l.add(byAddr, now, l.AddrMax)
	l.add(acct, now, l.AccountFree+8*l.PairMax) // enough to reach SpacingMax
	if len(l.counts) > l.pruneAt {
		l.prune(now)
	}
	return res, nil
}

// takeTurn gives an attempt from addr its place in the account's line, when its recent
// failures call for one: how long to wait for it, or a refusal when that is too long or
// the address already waits.
func (l *LoginLimiter) takeTurn(acct, addr string, now time.Time) (time.Duration, *Refusal) {
	n := len(l.recent(acct, now, l.AccountWindow))
	if n < l.AccountFree {
		return 0, nil
	}
	c := l.counts[acct]
	if c == nil { // AccountFree 0
		c = &counted{}
		l.counts[acct] = c
	}
	for a, start := range c.line {
		if !start.After(now) {
			delete(c.line, a)
		}
	}
	if start, ok := c.line[addr]; ok {
		return 0, &Refusal{Status: http.StatusTooManyRequests, RetryAfter: start.Sub(now)}
	}
	start := now
	if c.next.After(now) {
		start = c.next
	}
	wait := start.Sub(now)
	if wait > l.MaxWait {
		return 0, &Refusal{Status: http.StatusTooManyRequests, RetryAfter: wait - l.MaxWait}
	}
	spacing := l.SpacingMax
	if doublings := (n - l.AccountFree) / max(l.PairMax, 1); doublings < 16 {
		spacing = min(spacing, l.SpacingMin<<doublings)
	}
	c.next = start.Add(spacing)
	if wait > 0 {
		if c.line == nil {
			c.line = map[string]time.Time{}
		}
		c.line[addr] = start
	}
	return wait, nil
}

// Failed leaves the attempt counted: the password was wrong.
func (r *Reservation) Failed() {}

// Succeeded forgives the attempt and the earlier failures of its account from its address,
// and trusts the address for the account: the account's line no longer holds it up.
func (r *Reservation) Succeeded() {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	r.uncount()
	delete(l.counts, r.keys[0])
	key := r.account + "\x00" + r.addr
	if _, ok := l.trusted[key]; !ok && len(l.trusted) >= maxTrusted {
		now := l.now()
		for k, until := range l.trusted {
			if !now.Before(until) {
				delete(l.trusted, k)
			}
		}
		if len(l.trusted) >= maxTrusted {
			return
		}
	}
	l.trusted[key] = r.at.Add(l.TrustFor)
}

// Cancel forgives the attempt: its password was not checked.
func (r *Reservation) Cancel() {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	r.uncount()
}

// uncount removes the reservation's entries (if they have not aged out), once.
func (r *Reservation) uncount() {
	if r.uncounted {
		return
	}
	r.uncounted = true
	for _, k := range r.keys {
		c := r.l.counts[k]
		if c == nil {
			continue
		}
		for i, t := range c.times {
			if t.Equal(r.at) {
				c.times = append(c.times[:i], c.times[i+1:]...)
				break
			}
		}
	}
}

// full is how long until k has fewer than limit attempts within window; 0 when it has.
func (l *LoginLimiter) full(k string, now time.Time, window time.Duration, limit int) time.Duration {
	times := l.recent(k, now, window)
	if len(times) < limit {
		return 0
	}
	return max(times[len(times)-limit].Add(window).Sub(now), time.Nanosecond)
}

// add counts an attempt at now for k, keeping the newest keep.
func (l *LoginLimiter) add(k string, now time.Time, keep int) {
	c := l.counts[k]
	if c == nil {
		c = &counted{}
		l.counts[k] = c
	}
	c.times = append(c.times, now)
	if len(c.times) > keep {
		c.times = append(c.times[:0], c.times[len(c.times)-keep:]...)
	}
}

// recent drops k's attempts older than window and returns the rest; a key with none, and
// nobody in its line, is dropped.
func (l *LoginLimiter) recent(k string, now time.Time, window time.Duration) []time.Time {
	c := l.counts[k]
	if c == nil {
		return nil
	}
	i := 0
	for i < len(c.times) && now.Sub(c.times[i]) >= window {
		i++
	}
	c.times = c.times[i:]
	if len(c.times) == 0 && !c.next.After(now) {
		delete(l.counts, k)
		return nil
	}
	return c.times
}

// prune drops stale keys; it runs again once the keys have doubled, so a flood of names
// or addresses costs amortised constant time per attempt.
func (l *LoginLimiter) prune(now time.Time) {
	for k := range l.counts {
		window := l.Window
		if strings.HasPrefix(k, "user:") {
			window = l.AccountWindow
		}
		l.recent(k, now, window)
	}
	l.pruneAt = max(minPruneAt, 2*len(l.counts))
}

// RemoteHost is the key for the limiter: the address part of r.RemoteAddr, an IPv6 address
// as its /64 (one host commonly has a whole /64, so each of its addresses is one key).
// Forwarded headers are not trusted: anyone can send them.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() && !ip.IsLoopback() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return host
}

// TooManyAttempts answers 429 with Retry-After in whole seconds, rounded up.
func TooManyAttempts(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int(math.Ceil(retryAfter.Seconds()))
	w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
	http.Error(w, fmt.Sprintf("too many failed logins: try again in %d seconds", max(secs, 1)), http.StatusTooManyRequests)
}
