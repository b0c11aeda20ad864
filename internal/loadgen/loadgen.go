// Package loadgen is a closed-loop HTTP load generator used by `junction bench`.
//
// Run starts `concurrency` workers; each sends one request, waits for the whole response
// body, records the latency and immediately sends the next one, until the duration elapses.
// Every worker keeps its own keep-alive connection, so the offered load is exactly
// `concurrency` requests in flight. RunMLLP does the same over MLLP (mllp.go): one
// persistent connection per worker, each message sent as soon as the previous one's ACK is
// back.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request describes the request every worker sends repeatedly.
type Request struct {
	Method string // default POST when Body is non-empty, GET otherwise
	URL    string
	Header http.Header
	Body   []byte
	// Check, when set, is called with the status and full body of every 2xx response (the
	// body slice is only valid during the call). A non-nil return counts the request as an
	// error. Non-2xx responses are errors already and are not passed to Check.
	// It runs on the worker goroutine, inside the measured latency, so keep it cheap.
	Check func(status int, body []byte) error
	// Vary, when set, gives each request its own URL path and body: worker is the worker's
	// index, n its request count so far (e.g. to PUT resources under unique ids).
	Vary func(worker, n int) (path string, body []byte)
}

// Result is the outcome of one Run.
type Result struct {
	Concurrency int
	Duration    time.Duration // wall time from the first request to the last response
	Requests    int64         // completed requests, including errors
	Errors      int64         // transport errors + non-2xx responses + failed body checks
	Status      map[int]int64 // responses per HTTP status code (transport errors have none)
	PerSecond   float64       // successful (non-error) requests per second
	// Latency percentiles (nearest rank) over the successful requests.
	P50, P90, P99, Max time.Duration
	// FirstError describes the first error seen (nil when Errors == 0), to help diagnose.
	FirstError error
}

// Option adjusts a Run.
type Option func(*options)

type options struct {
	check func(status int, body []byte) error
	grace time.Duration
	count int64
}

func makeOptions(opts []Option) options {
	o := options{grace: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// budget is what is left of a Count (nil: no limit), shared by the workers of a Run.
func (o options) budget() *atomic.Int64 {
	if o.count <= 0 {
		return nil
	}
	b := new(atomic.Int64)
	b.Store(o.count)
	return b
}

// take reports whether one more request may start.
func take(b *atomic.Int64) bool {
	return b == nil || b.Add(-1) >= 0
}

// CheckBody verifies every 2xx response (status and full body); a non-nil return from fn counts
// the request as an error. Equivalent to setting Request.Check (Request.Check runs first
// when both are set).
func CheckBody(fn func(status int, body []byte) error) Option {
	return func(o *options) { o.check = fn }
}

// Grace sets how long requests still in flight when the duration elapses may take before
// they are cancelled (and counted as errors). Default 10s.
func Grace(g time.Duration) Option {
	return func(o *options) { o.grace = g }
}

// Count stops a Run after n requests (all workers together), or when the duration
// elapses if that comes first: for tests that want to know how many were sent. 0: no limit.
func Count(n int64) Option {
	return func(o *options) { o.count = n }
}

// ErrCheck wraps the error returned by a body check.
var ErrCheck = errors.New("response check failed")

// StatusError is recorded for a non-2xx response.
type StatusError struct{ Code int }

func (e StatusError) Error() string { return fmt.Sprintf("HTTP status %d", e.Code) }

// Run drives req at the given concurrency for duration d (closed loop) and returns the
// aggregated result. No new request is started once d has elapsed; requests in flight are
// allowed to finish (see Grace). If ctx is cancelled, Run stops early and returns the
// partial result together with ctx.Err().
func Run(ctx context.Context, req Request, concurrency int, d time.Duration, opts ...Option) (Result, error) {
	o := makeOptions(opts)
	if err := checkArgs(concurrency, d); err != nil {
		return Result{}, err
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: bad URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Result{}, fmt.Errorf("loadgen: unsupported URL scheme %q", u.Scheme)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
		if len(req.Body) > 0 {
			method = http.MethodPost
		}
	}

	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // no Accept-Encoding: gzip, no transparent decompression
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
		WriteBufferSize:     max(4096, min(len(req.Body)+1024, 64<<10)),
		ReadBufferSize:      4096,
	}
	defer tr.CloseIdleConnections()

	// reqCtx bounds in-flight requests: cancelled with ctx, or at d+grace.
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	tmpl, err := http.NewRequestWithContext(reqCtx, method, req.URL, nil)
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: %w", err)
	}
	tmpl.Header = req.Header.Clone()
	if tmpl.Header == nil {
		tmpl.Header = http.Header{}
	}
	tmpl.ContentLength = int64(len(req.Body))

	checks := make([]func(int, []byte) error, 0, 2)
	if req.Check != nil {
		checks = append(checks, req.Check)
	}
	if o.check != nil {
		checks = append(checks, o.check)
	}

	budget := o.budget()
	workers := make([]*worker, concurrency)
	tallies := make([]*tally, concurrency)
	for i := range workers {
		workers[i] = &worker{
			index:  i,
			vary:   req.Vary,
			tr:     tr,
			tmpl:   tmpl,
			body:   req.Body,
			checks: checks,
			budget: budget,
			tally:  newTally(),
		}
		tallies[i] = &workers[i].tally
	}

	return drive(ctx, cancel, d+o.grace, d, tallies, func(i int, deadline time.Time) {
		workers[i].run(ctx, deadline)
	}), ctx.Err()
}

// drive runs run(i, deadline) for every worker i at once until d has passed, cancels
// the requests still in flight at hard (cancel), and sums the workers' tallies.
func drive(ctx context.Context, cancel context.CancelFunc, hard, d time.Duration, tallies []*tally, run func(i int, deadline time.Time)) Result {
	start := time.Now()
	deadline := start.Add(d)
	timer := time.AfterFunc(hard, cancel)
	defer timer.Stop()
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { run(i, deadline) })
	}
	wg.Wait()
	return summarize(len(tallies), time.Since(start), tallies)
}

func checkArgs(concurrency int, d time.Duration) error {
	if concurrency < 1 {
		return fmt.Errorf("loadgen: concurrency must be >= 1, got %d", concurrency)
	}
	if d <= 0 {
		return fmt.Errorf("loadgen: duration must be > 0, got %v", d)
	}
	return nil
}

// tally is what one worker counted.
type tally struct {
	requests, errors int64
	status           map[int]int64
	lat              []time.Duration
	firstErr         error
}

func newTally() tally {
	return tally{lat: make([]time.Duration, 0, 1<<14), status: make(map[int]int64, 4)}
}

func (t *tally) fail(err error) {
	t.errors++
	if t.firstErr == nil {
		t.firstErr = err
	}
}

// summarize adds up the workers' tallies of a run that took elapsed.
func summarize(concurrency int, elapsed time.Duration, tallies []*tally) Result {
	res := Result{Concurrency: concurrency, Duration: elapsed, Status: map[int]int64{}}
	n := 0
	for _, t := range tallies {
		res.Requests += t.requests
		res.Errors += t.errors
		for k, v := range t.status {
			res.Status[k] += v
		}
		if res.FirstError == nil && t.firstErr != nil {
			res.FirstError = t.firstErr
		}
		n += len(t.lat)
	}
	lat := make([]time.Duration, 0, n)
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		t.lat = nil
	}
	slices.Sort(lat)
	res.P50 = percentile(lat, 0.50)
	res.P90 = percentile(lat, 0.90)
	res.P99 = percentile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	if elapsed > 0 {
		res.PerSecond = float64(res.Requests-res.Errors) / elapsed.Seconds()
	}
	return res
}

// percentile returns the nearest-rank p-quantile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// String renders one line, e.g. "c=64 12345 msg/s p50=1.2ms p99=8.0ms errors=0".
func (r Result) String() string {
	return fmt.Sprintf("c=%d %.0f msg/s p50=%s p99=%s errors=%d", r.Concurrency, r.PerSecond, ms(r.P50), ms(r.P99), r.Errors)
}

// ms formats a duration in milliseconds: one decimal from 1ms up, two below.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	if f >= 1 || f == 0 {
		return fmt.Sprintf("%.1fms", f)
	}
	return fmt.Sprintf("%.2fms", f)
}

type worker struct {
	index  int
	vary   func(worker, n int) (string, []byte)
	tr     *http.Transport
	tmpl   *http.Request
	body   []byte
	checks []func(int, []byte) error
	budget *atomic.Int64
	buf    bytes.Buffer // response body, reused
	tally
}

// reqBody is a request body. One small allocation per request (reader and closer in one):
// a bytes.Reader cannot safely be reused for the next request, because the Transport may
// still close (and, on the rare slow-write path, read) the previous body in its write
// goroutine after RoundTrip has returned.
type reqBody struct{ bytes.Reader }

func (*reqBody) Close() error { return nil }

func (w *worker) run(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(deadline) || !take(w.budget) {
			return
		}
		r := new(http.Request)
		*r = *w.tmpl // shallow copy: Header, URL and context are shared read-only
		body := w.body
		if w.vary != nil {
			var path string
			path, body = w.vary(w.index, int(w.requests))
			u := *w.tmpl.URL
			u.Path = path
			r.URL = &u
			r.ContentLength = int64(len(body))
		}
		if len(body) > 0 {
			rb := new(reqBody)
			rb.Reset(body)
			r.Body = rb
		}
		resp, err := w.tr.RoundTrip(r)
		if err != nil {
			if ctx.Err() != nil {
				return // cancelled by the caller: not the server's fault
			}
			w.requests++
			w.fail(err)
			continue
		}
		w.buf.Reset()
		_, err = w.buf.ReadFrom(resp.Body)
		resp.Body.Close()
		t1 := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.requests++
			w.fail(err)
			continue
		}
		w.requests++
		w.status[resp.StatusCode]++
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			w.fail(StatusError{resp.StatusCode})
			continue
		}
		failed := false
		for _, c := range w.checks {
			if cerr := c(resp.StatusCode, w.buf.Bytes()); cerr != nil {
				w.fail(fmt.Errorf("%w: %w", ErrCheck, cerr))
				failed = true
				break
			}
		}
		if failed {
			continue
		}
		w.lat = append(w.lat, t1.Sub(t0))
	}
}
