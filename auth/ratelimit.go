package auth

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LoginLimiter refuses logins after too many failures: Max failures within Window from one
// remote address, or for one user name, block further attempts from that address, or for
// that name, until the oldest of them is Window old. Safe for concurrent use.
type LoginLimiter struct {
	Max    int
	Window time.Duration

	now   func() time.Time
	mu    sync.Mutex
	fails map[string][]time.Time // "addr:…" and "user:…" → failure times, oldest first
}

// NewLoginLimiter makes a limiter; zero values are 5 failures per minute.
func NewLoginLimiter(max int, window time.Duration) *LoginLimiter {
	if max <= 0 {
		max = 5
	}
	if window <= 0 {
		window = time.Minute
	}
	return &LoginLimiter{Max: max, Window: window, now: time.Now, fails: map[string][]time.Time{}}
}

func limiterKeys(addr, user string) [2]string {
	return [2]string{"addr:" + addr, "user:" + strings.ToLower(user)}
}

// Allow says whether a login attempt from addr for user may be checked; when not, how long
// until it may.
func (l *LoginLimiter) Allow(addr, user string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limiterKeys(addr, user) {
		times := l.recent(k, now)
		if len(times) >= l.Max {
			if wait := times[len(times)-l.Max].Add(l.Window).Sub(now); wait > retryAfter {
				retryAfter = wait
			}
		}
	}
	return retryAfter == 0, retryAfter
}

// Fail records a failed login from addr for user.
func (l *LoginLimiter) Fail(addr, user string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limiterKeys(addr, user) {
		times := append(l.recent(k, now), now)
		if len(times) > l.Max { // only the last Max matter
			times = times[len(times)-l.Max:]
		}
		l.fails[k] = times
	}
	if len(l.fails) > 10000 {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
}

// recent drops k's failures older than Window and returns the rest.
func (l *LoginLimiter) recent(k string, now time.Time) []time.Time {
	times := l.fails[k]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.Window {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.fails, k)
		return nil
	}
	l.fails[k] = times
	return times
}

// RemoteHost is the address part of r.RemoteAddr, the key for the limiter. Forwarded headers
// are not trusted: anyone can send them.
func RemoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// TooManyAttempts answers 429 with Retry-After in whole seconds, rounded up.
func TooManyAttempts(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int(math.Ceil(retryAfter.Seconds()))
	w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
	http.Error(w, fmt.Sprintf("too many failed logins: try again in %d seconds", max(secs, 1)), http.StatusTooManyRequests)
}
