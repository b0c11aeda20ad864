package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestLimiter is the default limiter (5 per minute) on a settable clock.
func newTestLimiter() (*LoginLimiter, *clock) {
	clk := newClock()
	l := NewLoginLimiter(0, 0)
	l.now = clk.now
	return l, clk
}

// fail makes one failed attempt, failing the test if it is refused or held back.
func fail(t *testing.T, l *LoginLimiter, addr, user string) {
	t.Helper()
	res, refused := l.Reserve(addr, user)
	if refused != nil {
		t.Fatalf("%s from %s refused: %v", user, addr, refused)
	}
	if res.Delay != 0 {
		t.Fatalf("%s from %s held back %s", user, addr, res.Delay)
	}
	res.Failed()
}

func TestFailuresAreLimitedPerAccountAndAddressThenAgeOut(t *testing.T) {
	l, clk := newTestLimiter()
	for range 5 {
		fail(t, l, "10.0.0.1", "alice")
		clk.advance(time.Second)
	}
	_, refused := l.Reserve("10.0.0.1", "ALICE")
	if refused == nil || refused.Status != 429 || refused.RetryAfter != 55*time.Second {
		t.Fatalf("after 5 failures (the name in other case): %+v, expected 429 in 55s", refused)
	}
	// Another name from the address, and the name from another address, are still let in.
	fail(t, l, "10.0.0.1", "bob")
	fail(t, l, "10.0.0.2", "alice")
	// The first failure leaves the window: one more attempt is let in.
	clk.advance(55 * time.Second)
	fail(t, l, "10.0.0.1", "alice")
	if _, refused := l.Reserve("10.0.0.1", "alice"); refused == nil || refused.RetryAfter != time.Second {
		t.Errorf("failing again: %+v, expected 429 in 1s", refused)
	}
	clk.advance(time.Hour)
	fail(t, l, "10.0.0.1", "alice")
	l.mu.Lock()
	l.prune(clk.now().Add(time.Hour))
	n := len(l.counts)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d keys kept after every failure aged out", n)
	}
}

func TestOneAddressTryingManyAccountsIsLimitedToTwiceThePerAccountLimit(t *testing.T) {
	l, _ := newTestLimiter()
	for i := range 10 {
		fail(t, l, "10.0.0.1", fmt.Sprint("user", i))
	}
	if _, refused := l.Reserve("10.0.0.1", "someone-else"); refused == nil || refused.Status != 429 {
		t.Errorf("the eleventh account from one address: %+v, expected 429", refused)
	}
	fail(t, l, "10.0.0.2", "someone-else")
}

func TestAnAttackersFailuresDoNotKeepTheOwnerOutFromAnotherAddress(t *testing.T) {
	l, _ := newTestLimiter()
	for range 5 {
		fail(t, l, "10.6.6.6", "alice")
	}
	if _, refused := l.Reserve("10.6.6.6", "alice"); refused == nil {
		t.Fatal("the attacker's sixth attempt was let in")
	}
	res, refused := l.Reserve("192.168.1.20", "alice")
	if refused != nil || res.Delay != 0 {
		t.Fatalf("the owner from her address: %+v, held back %v", refused, res)
	}
	res.Succeeded()
	if _, refused := l.Reserve("10.6.6.6", "alice"); refused == nil {
		t.Error("the owner's login forgave the attacker's failures")
	}
}

func TestASuccessForgivesItsAddressesFailuresAndACancelledAttemptIsNotCounted(t *testing.T) {
	l, _ := newTestLimiter()
	for range 4 {
		fail(t, l, "10.0.0.1", "alice")
	}
	res, _ := l.Reserve("10.0.0.1", "alice")
	res.Succeeded()
	for range 5 {
		fail(t, l, "10.0.0.1", "alice") // a fresh allowance
	}
	for range 10 {
		res, refused := l.Reserve("10.0.0.2", "bob")
		if refused != nil {
			t.Fatalf("cancelled attempts counted: %v", refused)
		}
		res.Cancel()
		res.Cancel() // twice does no harm
	}
}

func TestManyAddressesFailingOnOneAccountSpaceItsAttemptsOutWithoutLockingIt(t *testing.T) {
	l, clk := newTestLimiter()
	// The owner logged in from her address earlier: it is trusted.
	res, _ := l.Reserve("192.168.1.20", "alice")
	res.Succeeded()
	// 20 failures (4 × 5) from 20 addresses are free.
	for i := range 20 {
		fail(t, l, fmt.Sprint("10.0.0.", i), "alice")
	}
	var delays []time.Duration
	for i := range 6 {
		res, refused := l.Reserve(fmt.Sprint("10.0.1.", i), "alice")
		if refused != nil {
			t.Fatalf("attempt %d refused: %v", i, refused)
		}
		delays = append(delays, res.Delay)
		res.Failed()
	}
	// 500 ms apart, doubling every 5 failures beyond the free 20.
	want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second, 2500 * time.Millisecond}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", delays, want)
	}
	// An address waiting in line cannot queue a second attempt.
	if _, refused := l.Reserve("10.0.1.5", "alice"); refused == nil || refused.RetryAfter != 2500*time.Millisecond {
		t.Errorf("a second place in line: %+v", refused)
	}
	// The owner's trusted address is not held back; her right password is let in at once.
	res, refused := l.Reserve("192.168.1.20", "alice")
	if refused != nil || res.Delay != 0 {
		t.Fatalf("the owner's trusted address: %+v %+v", refused, res)
	}
	res.Succeeded()
	// A new address waits its turn: the line is slow, never shut.
	res, refused = l.Reserve("172.16.0.9", "alice")
	if refused != nil || res.Delay != 3500*time.Millisecond {
		t.Fatalf("a new address: %+v %+v, expected a 3.5s wait", refused, res)
	}
	// The spacing grows to 4 s; an attempt that would wait beyond 30 s is refused.
	var last time.Duration
	var refusal *Refusal
	for i := 0; refusal == nil && i < 100; i++ {
		var res *Reservation
		res, refusal = l.Reserve(fmt.Sprint("10.0.2.", i), "alice")
		if refusal == nil {
			last = res.Delay
		}
	}
	if refusal == nil || refusal.Status != 429 || last > l.MaxWait || last < l.MaxWait-l.SpacingMax {
		t.Fatalf("a long line: last wait %s, then %+v", last, refusal)
	}
	// Once the line has moved on, new addresses get in again.
	clk.advance(time.Minute)
	if res, refused := l.Reserve("10.0.3.1", "alice"); refused != nil || res.Delay != 0 {
		t.Errorf("after the line moved on: %+v %+v", refused, res)
	}
	// The account's failures age out and its attempts are free again.
	clk.advance(15 * time.Minute)
	for range 5 {
		fail(t, l, "10.0.3.2", "alice")
	}
}

func TestConcurrentAttemptsFromOneAddressCannotPassTheLimitTogether(t *testing.T) {
	l := NewLoginLimiter(0, 0)
	l.Slots = NewPasswordSlots(0, time.Minute) // a slow machine: no 503s in this test
	var checked, refused atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := l.Attempt(context.Background(), "10.0.0.1", "alice", func() bool {
				checkPassword(dummyHash(), "guess")
				checked.Add(1)
				return false
			})
			var r *Refusal
			switch {
			case ok:
				t.Error("a wrong password passed")
			case errors.As(err, &r) && r.Status == 429:
				refused.Add(1)
			case err != nil:
				t.Errorf("attempt: %v", err)
			}
		}()
	}
	wg.Wait()
	if checked.Load() != 5 || refused.Load() != 45 {
		t.Errorf("%d passwords checked, %d refused; expected 5 and 45", checked.Load(), refused.Load())
	}
}

func TestPasswordChecksNeverRunMoreThanTheSlotsAtOnce(t *testing.T) {
	l := NewLoginLimiter(0, 0)
	l.Slots = NewPasswordSlots(2, time.Minute)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := l.Attempt(context.Background(), fmt.Sprint("10.0.0.", i), fmt.Sprint("user", i), func() bool {
				n := running.Add(1)
				defer running.Add(-1)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				match, _ := checkPassword(dummyHash(), "guess") // a real argon2id hash: 19 MiB
				return match
			})
			if ok || err != nil {
				t.Errorf("attempt %d: %v %v", i, ok, err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p < 1 || p > 2 || l.Slots.Peak() != int(p) {
		t.Errorf("%d checks ran at once (the slots saw %d), expected at most 2", p, l.Slots.Peak())
	}
}

func TestAnAttemptThatFindsEverySlotBusyIsRefusedWith503AndNotCounted(t *testing.T) {
	l := NewLoginLimiter(0, 0)
	l.Slots = NewPasswordSlots(1, 10*time.Millisecond)
	release, err := l.Slots.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // more than the limit: none is counted
		ok, err := l.Attempt(context.Background(), "10.0.0.1", "alice", func() bool { t.Error("checked"); return true })
		var r *Refusal
		if ok || !errors.As(err, &r) || r.Status != 503 || r.RetryAfterSeconds() != 1 || !strings.Contains(r.Error(), "at once") {
			t.Fatalf("with every slot busy: %v %v", ok, err)
		}
	}
	release()
	release() // twice does no harm
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Slots.Acquire(ctx); err != nil {
		t.Errorf("a free slot with an ended context: %v", err)
	}
	// The slot is taken now: an ended context gives up at once.
	if _, err := l.Slots.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting with an ended context: %v", err)
	}
}

func TestLongNamesShareOneKey(t *testing.T) {
	l, _ := newTestLimiter()
	long := strings.Repeat("x", 100)
	for i := range 5 {
		fail(t, l, "10.0.0.1", long+fmt.Sprint(i))
	}
	if _, refused := l.Reserve("10.0.0.1", long+"z"); refused == nil {
		t.Error("names past 64 characters were told apart")
	}
}

func TestRefusalsAndRemoteHostReadAsDocumented(t *testing.T) {
	rec := httptest.NewRecorder()
	TooManyAttempts(rec, 1500*time.Millisecond)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" || !strings.Contains(rec.Body.String(), "try again in 2 seconds") {
		t.Errorf("429: %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	r := &Refusal{Status: 429, RetryAfter: 1500 * time.Millisecond}
	if r.RetryAfterSeconds() != 2 || r.Error() != "too many failed logins: try again in 2 seconds" {
		t.Errorf("refusal %d %q", r.RetryAfterSeconds(), r.Error())
	}
	req := httptest.NewRequest("POST", "/login", nil)
	req.RemoteAddr = "[::1]:5555"
	if h := RemoteHost(req); h != "::1" {
		t.Errorf("RemoteHost %q", h)
	}
}

// The addresses of one IPv6 /64 are one key: a host cannot walk around the limits by
// taking a fresh address of its own network for each attempt.
func TestTheAddressesOfOneIPv6NetworkShareTheirLimits(t *testing.T) {
	key := func(remote string) string { return RemoteHost(&http.Request{RemoteAddr: remote}) }
	a, b := key("[2001:db8:1:2::1]:4000"), key("[2001:db8:1:2:ffff::9]:5000")
	if a != b || a != "2001:db8:1:2::/64" {
		t.Errorf("keys %q and %q, want both 2001:db8:1:2::/64", a, b)
	}
	if other := key("[2001:db8:1:3::1]:4000"); other == a {
		t.Errorf("another /64 has the same key %q", other)
	}
	if v4 := key("192.0.2.7:4000"); v4 != "192.0.2.7" {
		t.Errorf("IPv4 key %q", v4)
	}
}
