package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/auth"
)

// Login limiting against a real admin server on loopback (issue 11, point 4): attempts are
// counted before the hash, password checks are capped, and an attacker's failures throttle
// his address, not the account.

// limitedServer serves the harness's engine and users with l as the login limiter, and
// returns a copy of the harness whose base is that server.
func limitedServer(t *testing.T, h *harness, l *auth.LoginLimiter) *harness {
	t.Helper()
	users, err := auth.LoadUsers(h.eng.Admin.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	s := New(h.eng, WithUsers(users))
	s.limiter = l
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	lh := *h
	lh.base = srv.URL
	return &lh
}

// httpFrom is an HTTP client whose connections come from the loopback address ip; the
// test is skipped where that address cannot be bound (only 127.0.0.1 is loopback there).
func httpFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("cannot connect from %s: %v", ip, err)
	}
	conn.Close()
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// postLogin posts a login with hc; it may run on any goroutine.
func postLogin(hc *http.Client, base, user, password string) (int, http.Header, string, error) {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/login", bytes.NewReader(b))
	req.Header.Set("X-Requested-By", "test")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body), nil
}

// loginsAtOnce posts n logins at once, the i-th from client(i) as user(i), and counts the
// answers by status. Every 429 and 503 must say when to try again.
func loginsAtOnce(t *testing.T, base string, n int, client func(int) *http.Client, user func(int) string, password string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, hdr, body, err := postLogin(client(i), base, user(i), password)
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			if (status == 429 || status == 503) && hdr.Get("Retry-After") == "" {
				t.Errorf("login %d: %d without Retry-After: %s", i, status, body)
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

func TestFiftyConcurrentWrongPasswordsFromOneAddressGetAtMostTheLimitOf401s(t *testing.T) {
	l := auth.NewLoginLimiter(0, 0)
	l.Slots = auth.NewPasswordSlots(0, time.Minute) // a slow machine: no 503s here
	h := limitedServer(t, newAuthHarness(t), l)
	one := func(int) *http.Client { return http.DefaultClient }
	counts := loginsAtOnce(t, h.base, 50, one, func(int) string { return "otto" }, "guess")
	if counts[401] < 1 || counts[401] > l.PairMax || counts[401]+counts[429] != 50 {
		t.Errorf("answers by status %v: expected at most %d 401s, the rest 429", counts, l.PairMax)
	}
	// Spraying many accounts from the address is limited too.
	counts = loginsAtOnce(t, h.base, 50, one, func(i int) string { return fmt.Sprint("guess-", i) }, "guess")
	if counts[401] > l.AddrMax || counts[401]+counts[429] != 50 {
		t.Errorf("spraying, answers by status %v: expected at most %d 401s in all, the rest 429", counts, l.AddrMax)
	}
}

func TestTheRightPasswordFromAnotherAddressSucceedsAfterAnAttackersFailures(t *testing.T) {
	h := newAuthHarness(t)
	owner := httpFrom(t, "127.0.0.2")
	attacker := http.DefaultClient // from 127.0.0.1
	counts := loginsAtOnce(t, h.base, 20, func(int) *http.Client { return attacker }, func(int) string { return "otto" }, "guess")
	if counts[429] == 0 {
		t.Fatalf("the attacker was never refused: %v", counts)
	}
	if status, _, _, _ := postLogin(attacker, h.base, "otto", "otto-secret"); status != 429 {
		t.Errorf("the right password from the attacker's address: %d, want 429", status)
	}
	status, _, body, err := postLogin(owner, h.base, "otto", "otto-secret")
	if err != nil || status != 200 || !strings.Contains(body, "csrf_token") {
		t.Fatalf("the owner from her own address: %d %s %v", status, body, err)
	}
	if status, _, _, _ := postLogin(attacker, h.base, "otto", "guess"); status != 429 {
		t.Errorf("the owner's login let the attacker in again: %d", status)
	}
}

func TestConcurrentLoginsFromManyAddressesNeverHashMoreThanTheCapAtOnce(t *testing.T) {
	l := auth.NewLoginLimiter(0, 0)
	l.Slots = auth.NewPasswordSlots(2, time.Minute)
	h := limitedServer(t, newAuthHarness(t), l)
	httpFrom(t, "127.0.0.10") // skips where other loopback addresses are not there
	clients := make([]*http.Client, 30)
	for i := range clients {
		clients[i] = httpFrom(t, fmt.Sprint("127.0.0.", 10+i))
	}
	counts := loginsAtOnce(t, h.base, 30, func(i int) *http.Client { return clients[i] },
		func(i int) string { return fmt.Sprint("intruder-", i) }, "guess")
	if counts[401] != 30 {
		t.Errorf("answers by status %v: every password should have been checked", counts)
	}
	if p := l.Slots.Peak(); p < 1 || p > 2 {
		t.Errorf("%d password hashes ran at once, the cap is 2", p)
	}
}

func TestALoginBodyLargerThan16KiBIsRefused(t *testing.T) {
	h := newAuthHarness(t)
	status, _, body, err := postLogin(http.DefaultClient, h.base, "otto", strings.Repeat("x", 20<<10))
	if err != nil || status != 400 || !strings.Contains(body, "too large") {
		t.Errorf("a 20 KiB password: %d %s %v", status, body, err)
	}
}
