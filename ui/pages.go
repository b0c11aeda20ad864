package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page: the layout plus the page's own template.
type pages struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"time": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if t == nil || t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	},
	"num": func(n int64) string {
		s := strconv.FormatInt(n, 10)
		if len(s) <= 3 || n < 0 {
			return s
		}
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	},
	"lower": func(s any) string { return strings.ToLower(fmt.Sprint(s)) },
	"short": func(s string, n int) string {
		if len([]rune(s)) <= n {
			return s
		}
		return string([]rune(s)[:n]) + "…"
	},
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"view": viewContent,
	"bytes": func(n int) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d bytes", n)
	},
	"ago": func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
}

func newPages() *pages {
	p := &pages{t: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		p.t[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return p
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	Nav   string // which menu entry is current
	Data  any
	// The operator logged in; all empty when login is off.
	User string
	Role auth.Role
	CSRF string // the session's CSRF token, for app.js's API calls
}

// Can says whether the operator may do what needs role (always, when login is off).
func (d pageData) Can(role string) bool {
	return d.User == "" || auth.Allows(d.Role, auth.Role(role))
}

func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	var b bytes.Buffer
	d := pageData{Title: title, Nav: nav, Data: data}
	if sess, ok := sessionOf(r); ok {
		d.User, d.Role, d.CSRF = sess.User, sess.Role, sess.CSRF
	}
	if err := p.t[name].Execute(&b, d); err != nil {
		http.Error(w, "template "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (p *pages) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	p.render(w, r, http.StatusNotFound, "problem", "Not found", "", msg)
}

func (p *pages) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.render(w, r, status, "problem", "Problem", "", msg)
}

func (s *Server) routePages(r chi.Router) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServer(http.FS(static))
	r.Get("/static/*", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.StripPrefix("/static/", files).ServeHTTP(w, r)
	})
	r.Get("/", s.dashboardPage)
	r.Get("/messages", s.messagesPage)
	r.Get("/messages/{id}", s.messagePage)
	r.Get("/channels/{name}", s.channelPage)
	r.Get("/jobs", s.jobsPage)
	r.Get("/jobs/{id}", s.jobPage)
	r.Get("/login", s.loginPage)
	r.Get("/audit", s.need(auth.RoleAdmin, s.auditPage))
	r.Get("/swagger", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/swagger/index.html", http.StatusFound)
	})
	r.Get("/swagger/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/swagger/index.html", http.StatusFound)
	})
	r.Get("/swagger/index.html", func(w http.ResponseWriter, r *http.Request) {
		s.pages.render(w, r, http.StatusOK, "swagger", "API reference", "api", nil)
	})
}

// ---------------------------------------------------------------------------------------
// Dashboard

type dashboardData struct {
	Channels  []channelView
	StartedAt time.Time
	Search    *engine.SearchStatus
	Node      string
	Alerts    []alertView // api_alerts.go: the alerts holding now
	StoreSize int         // bytes of the message store (its file and log); 0: unknown
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	views, err := s.channelViews(r.Context())
	if err != nil {
		s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot read statistics: "+err.Error())
		return
	}
	d := dashboardData{Channels: views, StartedAt: s.eng.StartedAt(), Node: s.eng.Node}
	d.Alerts, _ = s.alertViews(r.Context()) // a store that cannot answer shows none
	if ss, err := s.eng.Store().SearchStatus(r.Context()); err == nil {
		d.Search = &ss
	}
	if n, err := s.eng.Store().Size(r.Context()); err == nil {
		d.StoreSize = int(n)
	}
	s.pages.render(w, r, http.StatusOK, "dashboard", "Dashboard", "dashboard", d)
}

// ---------------------------------------------------------------------------------------
// Message browser

type messagesData struct {
	Form         url.Values // the filter as given
	Query        string     // the canonical filter query string (no cursor)
	Error        string     // a filter mistake
	Page         *messagePage
	Channels     []string
	Destinations []string
	Statuses     []string
	DestStatuses []string
	Limit        int
	Before       int64
	NewerURL     string
	OlderURL     string
	Lag          int64        // messages not yet searchable
	Filtered     bool         // any filter set
	BulkDests    []bulkDest   // what a bulk resend may choose: the filtered channels' destinations
	ErrorTabs    []errorTab   // errorsview.go: the Errors view's tabs (failed, retrying), when it is one
	Columns      []listColumn // columns.go: the custom metadata columns shown and filtered on
}

func (s *Server) messagesPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fq := filterQuery(q)
	d := messagesData{
		Form: q, Query: fq.Encode(),
		Statuses:     []string{"RECEIVED", "FILTERED", "TRANSFORMED", "QUEUED", "SENT", "ERROR"},
		DestStatuses: []string{"QUEUED", statusRetrying, "SENT", "ERROR", "FILTERED"},
		Filtered:     len(fq) > 0,
		Columns:      s.listColumns(q),
	}
	seen := map[string]bool{}
	for _, ch := range s.eng.Channels() {
		d.Channels = append(d.Channels, ch.Name)
		for _, dst := range ch.Destinations {
			if !seen[dst.Name] {
				seen[dst.Name] = true
				d.Destinations = append(d.Destinations, dst.Name)
			}
		}
	}
	slices.Sort(d.Destinations)
	status := http.StatusOK
	f, err := s.parseFilter(q)
	if err == nil {
		d.Limit, d.Before = f.Limit, f.BeforeID
		d.BulkDests = s.bulkDestinations(f)
		d.ErrorTabs = s.errorTabs(r.Context(), q)
		d.Page, err = s.findMessages(r.Context(), f)
		if err != nil && !errors.Is(err, engine.ErrBadFilter) {
			s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot list messages: "+err.Error())
			return
		}
	}
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadRequest
	}
	if d.Page != nil {
		link := func(before int64) string {
			v := filterQuery(q)
			if l := q.Get("limit"); l != "" {
				v.Set("limit", l)
			}
			if before > 0 {
				v.Set("before", strconv.FormatInt(before, 10))
			}
			if len(v) == 0 {
				return "/messages"
			}
			return "/messages?" + v.Encode()
		}
		if d.Before > 0 {
			d.NewerURL = link(0)
		}
		if d.Page.Next > 0 {
			d.OlderURL = link(d.Page.Next)
		}
		if ss := d.Page.Search; ss != nil {
			d.Lag = ss.LatestID - ss.IndexedThrough
		}
	}
	s.pages.render(w, r, status, "messages", "Messages", "messages", d)
}

// ---------------------------------------------------------------------------------------
// Message detail

type messageData struct {
	M             *engine.MessageDetail
	Raw           contentView
	Transformed   *contentView
	Diff          []diffLine
	DiffTooLarge  bool
	Content       string // what a resend sends when not edited
	Untransformed string // why there is no transformed content, when there is none
	Refresh       bool   // a delivery is still queued: the page follows it
	Signature     string // the statuses shown, to notice changes
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request) {
	id, err := messageID(r)
	if err != nil {
		s.pages.problem(w, r, http.StatusBadRequest, err.Error())
		return
	}
	m, err := s.eng.Store().GetMessage(r.Context(), id)
	if errors.Is(err, engine.ErrNotFound) {
		s.pages.notFound(w, r, "No message has id "+strconv.FormatInt(id, 10)+".")
		return
	}
	if err != nil {
		s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot read the message: "+err.Error())
		return
	}
	d := messageData{M: m, Raw: viewContent(m.DataType, m.Raw), Content: m.Raw, Signature: signature(m)}
	if m.Transformed != nil {
		t := viewContent(m.DataType, *m.Transformed)
		d.Transformed = &t
		d.Content = *m.Transformed
		a, b := m.Raw, *m.Transformed
		if d.Raw.Kind == "json" && t.Kind == "json" {
			a, b = d.Raw.Text, t.Text
		}
		d.Diff, _ = diffLines(a, b)
		d.DiffTooLarge = d.Diff == nil
	} else {
		d.Untransformed = s.untransformed(m)
	}
	for _, ds := range m.Destinations {
		if ds.Status == engine.StatusQueued {
			d.Refresh = true
		}
	}
	s.pages.render(w, r, http.StatusOK, "message", "Message "+strconv.FormatInt(id, 10), "messages", d)
}

// signature summarises a message's statuses; the page polls the API and reloads when
// it changes.
func signature(m *engine.MessageDetail) string {
	var b strings.Builder
	b.WriteString(string(m.Status))
	for _, d := range m.Destinations {
		fmt.Fprintf(&b, "|%s:%s:%d", d.Name, d.Status, d.Attempts)
	}
	return b.String()
}

// ---------------------------------------------------------------------------------------
// Channel

func (s *Server) channelPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.channelView(r.Context(), chi.URLParam(r, "name"))
	var pe *paramError
	if errors.As(err, &pe) {
		s.pages.notFound(w, r, "No channel is named "+strconv.Quote(chi.URLParam(r, "name"))+".")
		return
	}
	if err != nil {
		s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot read statistics: "+err.Error())
		return
	}
	s.pages.render(w, r, http.StatusOK, "channel", "Channel "+v.Name, "dashboard", v)
}

// ---------------------------------------------------------------------------------------
// Jobs

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request) {
	s.pages.render(w, r, http.StatusOK, "jobs", "Jobs", "jobs", s.jobs.list())
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	j := s.jobs.get(id)
	if err != nil || j == nil {
		s.pages.notFound(w, r, "No job has id "+strconv.Quote(chi.URLParam(r, "id"))+" (jobs are kept in memory until restart).")
		return
	}
	s.pages.render(w, r, http.StatusOK, "job", "Job "+strconv.FormatInt(id, 10), "jobs", j.view())
}
