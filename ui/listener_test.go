package ui

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/auth"
)

// The admin listener's limits (issue 11, point 5), on a real listener on loopback with
// short timeouts; production takes DefaultLimits.

// serveAdmin serves h as the admin listener with limits and returns its address.
func serveAdmin(t *testing.T, h http.Handler, limits Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h, limits, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// shortLimits cut a client off fast, so the tests need not wait long.
var shortLimits = Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond,
	WriteTimeout: 5 * time.Second, MaxConcurrent: 8}

// trickle sends head, then one byte of more every 20 ms, and never stops on its own; it
// returns once the server closes the connection, with what the server answered. It fails
// the test if the connection is still open after 30 s.
func trickle(t *testing.T, addr, head string, more byte) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte{more}); err != nil {
					return
				}
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	answer, err := io.ReadAll(conn)
	close(stop)
	wg.Wait()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after 30 s; answered so far: %q", answer)
	}
	return string(answer)
}

func TestASlowLoginBodyIsCutOffOnTheAdminListener(t *testing.T) {
	h := newAuthHarness(t)
	users, err := auth.LoadUsers(h.eng.Admin.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveAdmin(t, New(h.eng, WithUsers(users)), shortLimits)
	answer := trickle(t, addr, "POST /api/login HTTP/1.1\r\nHost: admin\r\nContent-Type: application/json\r\n"+
		"X-Requested-By: test\r\nContent-Length: 1000000\r\n\r\n{\"username\": \"otto\", \"password\": \"", 'x')
	if strings.HasPrefix(answer, "HTTP/1.1 200") {
		t.Errorf("a body never finished was answered 200: %q", answer)
	}
}

func TestSlowHeadersAreCutOffOnTheAdminListener(t *testing.T) {
	addr := serveAdmin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request whose headers never ended was served")
	}), shortLimits)
	answer := trickle(t, addr, "GET / HTTP/1.1\r\nHost: admin\r\nX-Slow: ", 'x')
	if strings.HasPrefix(answer, "HTTP/1.1 200") {
		t.Errorf("answered %q", answer)
	}
}

func TestRequestsBeyondTheAdminListenersCapGet503WithRetryAfter(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	limits := shortLimits
	limits.MaxConcurrent = 2
	addr := serveAdmin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}), limits)
	base := "http://" + addr
	held := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(base + "/hold")
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			held <- resp.StatusCode
		}()
	}
	<-entered
	<-entered
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), "limit 2") {
		t.Errorf("a third request at once: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	once.Do(func() { close(release) })
	if a, b := <-held, <-held; a != 200 || b != 200 {
		t.Errorf("the held requests: %d %d", a, b)
	}
	resp, err = http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("once the others finished: %d", resp.StatusCode)
	}
}

func TestTheAdminListenerTakesTheSendersLimitsByDefault(t *testing.T) {
	for _, limits := range []Limits{DefaultLimits, {}} {
		srv := NewHTTPServer(http.NotFoundHandler(), limits, nil)
		if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != time.Minute || srv.WriteTimeout != time.Minute ||
			srv.IdleTimeout != 2*time.Minute || srv.MaxHeaderBytes != 64<<10 {
			t.Errorf("with %+v: header %s, read %s, write %s, idle %s, header bytes %d", limits,
				srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
		}
	}
}
