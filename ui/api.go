// Package ui serves the admin listener: the operators' REST API and the web UI, which is
// its client. Pages are Go templates rendered on the server with a little JavaScript
// (static files, so a strict Content-Security-Policy holds); every action a page offers
// is a call of the API. Everything is embedded, so `go build` makes the whole binary.
package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
)

// Server is the admin HTTP handler.
type Server struct {
	eng    *engine.Engine
	router chi.Router
	jobs   *jobManager
	pages  *pages

	// Login (auth.go): users is nil when it is off.
	users    *auth.Users
	sessions *auth.SessionStore
	limiter  *auth.LoginLimiter
	acct     loginState // sessions kept in the store, the users file read again (sessions.go)

	metrics http.Handler // GET /metrics (metrics.go); nil: off
}

// New builds the admin handler for a started engine. Without WithUsers the UI and API
// are open to anyone who can reach them.
func New(eng *engine.Engine, opts ...Option) *Server {
	s := &Server{eng: eng, router: chi.NewRouter(),
		sessions: auth.NewSessionStore(0, 0), limiter: auth.NewLoginLimiter(0, 0)}
	for _, o := range opts {
		o(s)
	}
	s.jobs = newJobManager(s)
	s.pages = newPages()
	r := s.router
	r.Use(guard, s.authenticate)
	op, admin := auth.RoleOperator, auth.RoleAdmin
	r.Post("/api/login", s.login)
	r.Post("/api/logout", s.logout)
	r.Get("/api/audit", s.need(admin, s.getAudit))
	r.Post("/api/reload", s.need(admin, s.reload))
	r.Get("/api/channels", s.listChannels)
	r.Get("/api/channels/{name}", s.getChannel)
	r.Post("/api/channels/{name}/destinations/{dest}/pause", s.need(op, s.pauseDestination(true)))
	r.Post("/api/channels/{name}/destinations/{dest}/resume", s.need(op, s.pauseDestination(false)))
	for _, a := range channelStates {
		r.Post("/api/channels/{name}/"+a.action, s.need(op, s.setChannelState(a.state)))
	}
	r.Get("/api/throughput", s.throughput)
	r.Get("/api/alerts", s.listAlerts) // api_alerts.go
	r.Get("/api/messages", s.listMessages)
	r.Get("/api/messages/{id}", s.getMessage)
	r.Delete("/api/messages/{id}", s.need(admin, s.removeMessage))
	r.Post("/api/messages/{id}/resend", s.need(op, s.resend))
	r.Post("/api/messages/{id}/reprocess", s.need(op, s.reprocess))
	r.Get("/api/jobs", s.listJobs)
	r.Post("/api/jobs", s.need(op, s.startJob))
	r.Get("/api/jobs/{id}", s.getJob)
	r.Post("/api/jobs/{id}/cancel", s.need(op, s.cancelJob))
	r.Get("/api/tokens", s.need(admin, s.listTokens))
	r.Post("/api/tokens", s.need(admin, s.createToken))
	r.Delete("/api/tokens/{name}", s.need(admin, s.deleteToken))
	s.routeAccess(r) // sessions, the access page, message counts (access.go)
	r.Get("/openapi.json", s.openapi)
	r.Get("/metrics", s.serveMetrics)
	s.routePages(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			s.pages.notFound(w, r, "There is nothing at "+r.URL.Path+".")
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path)
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	s.router.ServeHTTP(w, r)
}

// csp allows scripts, styles and fetches from this origin only: no inline script or
// style, no eval, nothing from elsewhere. Message content is hostile input; even if a
// template forgot to escape something, nothing in it would run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// csrfHeader must accompany every mutating request. A cross-site page cannot send a
// custom header without a CORS preflight, which this server never grants.
const csrfHeader = "X-Requested-By"

// guard refuses mutating requests that may come from another site: they must carry
// csrfHeader, and a browser's Sec-Fetch-Site / Origin, when sent, must say same origin.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, "cross-site request refused (Sec-Fetch-Site: "+site+")")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			if !sameOrigin(o, r) {
				writeError(w, http.StatusForbidden, "cross-site request refused: Origin "+o+" is not this server")
				return
			}
		} else if o == "null" {
			writeError(w, http.StatusForbidden, "cross-site request refused: opaque Origin")
			return
		}
		if _, ok := bearer(r); !ok && r.Header.Get(csrfHeader) == "" {
			// A bearer token (no cookie) cannot be sent by another site's page without a
			// CORS preflight, which is never granted: X-Requested-By is not needed with it.
			writeError(w, http.StatusForbidden, "send the header "+csrfHeader+" (any value) with "+r.Method+" requests: it shows the request does not come from another site")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sameOrigin(origin string, r *http.Request) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(origin, "https://")
	}
	return ok && strings.EqualFold(rest, r.Host)
}

// ---------------------------------------------------------------------------------------
// Channels

type channelView struct {
	Name         string              `json:"name"`
	Description  string              `json:"description,omitempty"`
	Enabled      bool                `json:"enabled"`
	State        string              `json:"state"` // started, paused or stopped (by an operator)
	Source       string              `json:"source"`
	DataTypes    []string            `json:"data_types"`
	Destinations []destinationView   `json:"destinations"`
	Stats        engine.ChannelStats `json:"stats"`            // lifetime
	SinceStart   countsView          `json:"since_start"`      // since this process started
	Health       *channelHealth      `json:"health,omitempty"` // outages.go: silent source
	// Channel page only.
	Section string         `json:"section,omitempty"`
	Events  []engine.Event `json:"events,omitempty"`
}

type countsView struct {
	Received int64 `json:"received"`
	Filtered int64 `json:"filtered"`
	Errored  int64 `json:"errored"`
}

type destinationView struct {
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Retry      retryView                `json:"retry"`
	Counts     engine.DestinationCounts `json:"counts"` // deliveries by status now: queued is the queue depth; a resent one leaves error
	SinceStart sentView                 `json:"since_start"`
	Queue      queueView                `json:"queue"`
	Health     *destHealth              `json:"health,omitempty"` // outages.go: failing, growing, old
}

type sentView struct {
	Sent  int64 `json:"sent"`
	Error int64 `json:"error"`
}

type queueView struct {
	Depth            int64      `json:"depth"`
	Paused           bool       `json:"paused"`
	LeaseHolder      string     `json:"lease_holder,omitempty"`
	LeaseUntil       *time.Time `json:"lease_until,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	LastErrorAt      *time.Time `json:"last_error_at,omitempty"`
	LastErrorMessage int64      `json:"last_error_message,omitempty"`
}

type retryView struct {
	Attempts   int    `json:"attempts"`
	Backoff    string `json:"backoff"`
	MaxBackoff string `json:"max_backoff"`
}

// channelViews reads statistics and queue states for every configured channel.
func (s *Server) channelViews(ctx context.Context) ([]channelView, error) {
	st := s.eng.Store()
	stats, err := st.Stats(ctx)
	if err != nil {
		return nil, err
	}
	queues, err := st.Queues(ctx)
	if err != nil {
		return nil, err
	}
	qs := map[[2]string]engine.QueueInfo{}
	for _, q := range queues {
		qs[[2]string{q.Channel, q.Destination}] = q
	}
	base := s.eng.Baseline().Stats
	out := make([]channelView, 0, len(s.eng.Channels()))
	for _, ch := range s.eng.Channels() {
		cs, b := stats[ch.Name], base[ch.Name]
		v := channelView{Name: ch.Name, Description: ch.Description, Enabled: ch.Enabled, State: s.eng.ChannelState(ch.Name), Source: ch.SourceInfo,
			DataTypes: ch.DataTypes, Stats: cs, Destinations: []destinationView{},
			SinceStart: countsView{Received: cs.Received - b.Received, Filtered: cs.Filtered - b.Filtered, Errored: cs.Errored - b.Errored}}
		if v.Stats.Destinations == nil {
			v.Stats.Destinations = map[string]engine.DestinationCounts{}
		}
		for _, d := range ch.Destinations {
			c, bc := cs.Destinations[d.Name], b.Destinations[d.Name]
			q := qs[[2]string{ch.Name, d.Name}]
			v.Destinations = append(v.Destinations, destinationView{
				Name: d.Name, Type: d.Type, Counts: c,
				// Delivery counts are of rows by status: a resend moves a row back to
				// QUEUED, so they can shrink; growth since start is never shown below 0.
				SinceStart: sentView{Sent: max(0, c.Sent-bc.Sent), Error: max(0, c.Error-bc.Error)},
				Retry:      retryView{Attempts: d.Retry.Attempts, Backoff: d.Retry.Backoff.String(), MaxBackoff: d.Retry.MaxBackoff.String()},
				Queue: queueView{Depth: c.Queued, Paused: q.Paused, LeaseHolder: q.Holder, LeaseUntil: q.HolderUntil,
					LastError: q.LastError, LastErrorAt: q.LastErrorAt, LastErrorMessage: q.LastErrorMessage},
			})
		}
		out = append(out, v)
	}
	s.markOutages(ctx, out)
	return out, nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) {
	views, err := s.channelViews(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read statistics: "+err.Error())
		return
	}
	resp := map[string]any{"channels": views, "started_at": s.eng.StartedAt().UTC().Format(time.RFC3339)}
	if ss, err := s.eng.Store().SearchStatus(r.Context()); err == nil {
		resp["search"] = ss
	}
	writeJSON(w, http.StatusOK, resp)
}

// channelView reads one channel with its routes.yaml section and recent events.
func (s *Server) channelView(ctx context.Context, name string) (*channelView, error) {
	ch := s.eng.Channel(name)
	if ch == nil {
		return nil, &paramError{"channel", "no channel is named " + strconv.Quote(name)}
	}
	views, err := s.channelViews(ctx)
	if err != nil {
		return nil, err
	}
	for i := range views {
		if views[i].Name == name {
			v := views[i]
			v.Section = ch.Section
			v.Events, _ = s.eng.Store().Events(ctx, name, 50)
			return &v, nil
		}
	}
	return nil, errors.New("channel vanished")
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) {
	v, err := s.channelView(r.Context(), chi.URLParam(r, "name"))
	var pe *paramError
	if errors.As(err, &pe) {
		writeError(w, http.StatusNotFound, pe.msg)
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read statistics: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) pauseDestination(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, dest := chi.URLParam(r, "name"), chi.URLParam(r, "dest")
		err := s.eng.SetPaused(r.Context(), name, dest, paused, actor(r))
		if errors.Is(err, engine.ErrNotFound) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "cannot change the queue: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"channel": name, "destination": dest, "paused": paused})
	}
}

// actor describes who asked for an operator action, for the audit trail: "by NAME (role)
// from HOST via CLIENT" when login is on, "from HOST via CLIENT" when it is off.
func actor(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	by := r.Header.Get(csrfHeader)
	if len(by) > 40 {
		by = by[:40]
	}
	if _, ok := bearer(r); ok && by == "" {
		by = "API token"
	}
	who := ""
	if sess, ok := sessionOf(r); ok {
		who = "by " + sess.User + " (" + string(sess.Role) + ") "
	}
	return who + "from " + host + " via " + by
}

// ---------------------------------------------------------------------------------------
// Throughput

type throughputPoint struct {
	At       time.Time `json:"at"` // the bucket's start
	Received int64     `json:"received"`
	Filtered int64     `json:"filtered"`
	Sent     int64     `json:"sent"`
	Errored  int64     `json:"errored"` // source errors and failed deliveries
}

type throughputView struct {
	Channel string `json:"channel,omitempty"`
	// The window covers the last `minutes`, or the time since start when that is shorter
	// (nothing is known from before), in equal buckets of bucket_seconds.
	From          time.Time         `json:"from"`
	BucketSeconds float64           `json:"bucket_seconds"`
	Points        []throughputPoint `json:"points"`
	SampleEvery   string            `json:"sample_every"`
}

// throughput sums the growth of the store's counters between the monitor's samples (and
// now) per bucket, for one channel or all (""). The window is the last `minutes` or the
// time since start, cut into at most 60 buckets of at least one sample period.
func (s *Server) throughputPoints(ctx context.Context, channel string, minutes int) (*throughputView, error) {
	samples := s.eng.StatsHistory()
	now := time.Now()
	if st, err := s.eng.Store().Stats(ctx); err == nil {
		samples = append(samples, engine.StatsSample{At: now, Stats: st})
	} else if len(samples) == 0 {
		return nil, err
	}
	from := now.Add(-time.Duration(minutes) * time.Minute)
	if st := s.eng.StartedAt(); st.After(from) {
		from = st
	}
	bucket := max(engine.SampleEvery, (now.Sub(from) / 60).Round(time.Second))
	if minutes >= 60 && bucket > time.Minute {
		bucket = time.Minute
	}
	n := max(1, int((now.Sub(from)+bucket-1)/bucket))
	from = now.Add(-time.Duration(n) * bucket)
	v := &throughputView{Channel: channel, From: from.UTC(), BucketSeconds: bucket.Seconds(),
		Points: make([]throughputPoint, n), SampleEvery: engine.SampleEvery.String()}
	for i := range v.Points {
		v.Points[i].At = from.Add(time.Duration(i) * bucket).UTC()
	}
	total := func(st map[string]engine.ChannelStats) (recv, filt, sent, errd int64) {
		for name, cs := range st {
			if channel != "" && name != channel {
				continue
			}
			recv += cs.Received
			filt += cs.Filtered
			errd += cs.Errored
			for _, d := range cs.Destinations {
				sent += d.Sent
				errd += d.Error
			}
		}
		return
	}
	for i := 1; i < len(samples); i++ {
		at := samples[i].At
		if !at.After(from) {
			continue
		}
		b := min(n-1, int(at.Sub(from)/bucket))
		r1, f1, s1, e1 := total(samples[i].Stats)
		r0, f0, s0, e0 := total(samples[i-1].Stats)
		p := &v.Points[b]
		p.Received += max(0, r1-r0)
		p.Filtered += max(0, f1-f0)
		p.Sent += max(0, s1-s0)
		p.Errored += max(0, e1-e0)
	}
	return v, nil
}

func (s *Server) throughput(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	channel := q.Get("channel")
	if channel != "" && s.eng.Channel(channel) == nil {
		writeError(w, http.StatusBadRequest, "channel: no channel is named "+strconv.Quote(channel))
		return
	}
	minutes, err := intParam(q.Get("minutes"), 60, 1, 60)
	if err != nil {
		writeError(w, http.StatusBadRequest, "minutes: "+err.Error())
		return
	}
	v, err := s.throughputPoints(r.Context(), channel, minutes)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read statistics: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ---------------------------------------------------------------------------------------
// Messages

type messagePage struct {
	Messages []engine.MessageSummary `json:"messages"`
	Next     int64                   `json:"next,omitempty"` // pass as before= for the next (older) page
	Search   *engine.SearchStatus    `json:"search,omitempty"`
}

// findMessages answers a filter: one page, newest first.
func (s *Server) findMessages(ctx context.Context, f engine.MessageFilter) (*messagePage, error) {
	msgs, err := s.eng.Store().ListMessages(ctx, f)
	if err != nil {
		return nil, err
	}
	if msgs == nil {
		msgs = []engine.MessageSummary{}
	}
	p := &messagePage{Messages: msgs}
	if len(msgs) == f.Limit {
		p.Next = msgs[len(msgs)-1].ID
	}
	if f.Text != "" || f.ControlID != "" {
		if ss, err := s.eng.Store().SearchStatus(ctx); err == nil {
			p.Search = &ss
		}
	}
	return p, nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	f, err := s.parseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := s.findMessages(r.Context(), f)
	if errors.Is(err, engine.ErrBadFilter) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot list messages: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func messageID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("message id must be a positive whole number, got " + strconv.Quote(chi.URLParam(r, "id")))
	}
	return id, nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id, err := messageID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	m, err := s.eng.Store().GetMessage(r.Context(), id)
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no message has id "+strconv.FormatInt(id, 10))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read message: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// readBody decodes an optional JSON body (empty means all defaults).
func readBody(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 32<<20))
	if err != nil {
		return errors.New("cannot read the body: " + err.Error())
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("body: expected a JSON object as documented at /openapi.json: " + err.Error())
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Jobs

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"jobs": s.jobs.list()})
}

func (s *Server) startJob(w http.ResponseWriter, r *http.Request) {
	var body jobRequest
	if err := readBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	by := actor(r)
	j, err := s.jobs.start(body, by)
	if err != nil {
		status := http.StatusBadRequest
		if _, busy := err.(*jobConflict); busy {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	filter, _ := json.Marshal(j.Filter)
	s.audit(r, engine.Event{Kind: "job", Detail: by + ": started bulk job " + strconv.FormatInt(j.ID, 10) + ": " + j.Action + " " + string(filter)})
	w.Header().Set("Location", "/api/jobs/"+strconv.FormatInt(j.ID, 10))
	writeJSON(w, http.StatusAccepted, j)
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) (*job, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "job id must be a whole number, got "+strconv.Quote(chi.URLParam(r, "id")))
		return nil, false
	}
	j := s.jobs.get(id)
	if j == nil {
		writeError(w, http.StatusNotFound, "no job has id "+strconv.FormatInt(id, 10)+" (jobs are kept in memory until restart)")
		return nil, false
	}
	return j, true
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.job(w, r); ok {
		writeJSON(w, http.StatusOK, j.view())
	}
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.job(w, r); ok {
		j.cancel()
		s.audit(r, engine.Event{Kind: "job-cancel", Detail: actor(r) + ": cancelled bulk job " + chi.URLParam(r, "id")})
		writeJSON(w, http.StatusOK, j.view())
	}
}

// ---------------------------------------------------------------------------------------
// Helpers

func intParam(s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		return 0, errors.New("expected a whole number from " + strconv.Itoa(min) + " to " + strconv.Itoa(max) + ", got " + strconv.Quote(s))
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// wantsHTML reports whether a request is a browser's page load rather than an API call.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
