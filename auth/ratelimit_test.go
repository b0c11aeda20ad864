package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoginLimiter(t *testing.T) {
	clk := newClock()
	l := NewLoginLimiter(5, time.Minute)
	l.now = clk.now

	for i := range 5 {
		if ok, _ := l.Allow("10.0.0.1", "alice"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.Fail("10.0.0.1", "alice")
		clk.advance(time.Second)
	}
	ok, wait := l.Allow("10.0.0.1", "alice")
	if ok || wait != 55*time.Second {
		t.Fatalf("after 5 failures: ok %v, retry after %s, expected 55s", ok, wait)
	}
	// The address is blocked for every name, and the name from every address.
	if ok, _ := l.Allow("10.0.0.1", "bob"); ok {
		t.Error("another name from the blocked address was allowed")
	}
	if ok, _ := l.Allow("10.0.0.2", "ALICE"); ok {
		t.Error("the blocked name (in other case) from another address was allowed")
	}
	if ok, _ := l.Allow("10.0.0.2", "bob"); !ok {
		t.Error("an unrelated address and name were refused")
	}
	// The first failure leaves the window: one more attempt is allowed.
	clk.advance(55 * time.Second)
	if ok, wait := l.Allow("10.0.0.1", "alice"); !ok {
		t.Errorf("after the window: refused, retry after %s", wait)
	}
	l.Fail("10.0.0.1", "alice")
	if ok, wait := l.Allow("10.0.0.1", "alice"); ok || wait != time.Second {
		t.Errorf("failing again: ok %v, retry after %s, expected 1s", ok, wait)
	}
	clk.advance(2 * time.Minute)
	if ok, _ := l.Allow("10.0.0.1", "alice"); !ok {
		t.Error("still refused two minutes on")
	}
	l.mu.Lock()
	n := len(l.fails)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d keys kept after every failure aged out", n)
	}

	rec := httptest.NewRecorder()
	TooManyAttempts(rec, 1500*time.Millisecond)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" || !strings.Contains(rec.Body.String(), "try again in 2 seconds") {
		t.Errorf("429: %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	req := httptest.NewRequest("POST", "/login", nil)
	req.RemoteAddr = "[::1]:5555"
	if h := RemoteHost(req); h != "::1" {
		t.Errorf("RemoteHost %q", h)
	}
}
