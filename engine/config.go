package engine

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"junction/hl7tofhir"
	"junction/transforms"
)

// AdminConfig is the admin listener (JSON API, later the UI).
type AdminConfig struct {
	Listen string
	// UsersFile is the operator accounts file (admin.users_file, relative to the folder of
	// routes.yaml). When set, the UI and API need a login; when empty they are open.
	UsersFile string
	// URL is the UI's address as operators reach it (admin.url), for links in alerts.
	URL string
}

// RetryPolicy says how often and how fast a destination retries a failed delivery.
type RetryPolicy struct {
	Attempts   int           // total attempts; 0 = retry until it succeeds (Mirth's queue default)
	Backoff    time.Duration // wait after the first failure; doubles each time
	MaxBackoff time.Duration // the doubling stops here
}

// Delay is the wait after the n-th failed attempt (n ≥ 1).
func (p RetryPolicy) Delay(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	return d
}

// DefaultRetry keeps trying forever, backing off from 1s to 1m: nothing accepted is dropped
// because a downstream system was down for a night.
var DefaultRetry = RetryPolicy{Attempts: 0, Backoff: time.Second, MaxBackoff: time.Minute}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Load reads and checks a routes.yaml: every mistake is reported at once, each with
// FILE:LINE, and every expression is compiled. Nothing is opened or started.
func Load(file string) (*Engine, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return LoadBytes(file, data)
}

// LoadBytes is Load for a configuration already in memory; file names it in errors.
func LoadBytes(file string, data []byte) (*Engine, error) {
	e := newEngine(file)
	e.Dir = filepath.Dir(file)
	c, err := e.build(data)
	if err != nil {
		return nil, err
	}
	e.Admin, e.StoreConfig, e.StorePath = c.admin, c.store, c.store.Path
	e.cfg.Store(c)
	return e, nil
}

// build reads and checks a configuration's text into a new config, whose components
// capture e (the engine that will run them). Nothing is opened or started, and e's
// running configuration is not touched.
func (e *Engine) build(data []byte) (*config, error) {
	file := e.File
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ConfigErrors{yamlSyntaxError(file, data, err)}
	}
	var errs ConfigErrors
	if len(doc.Content) == 0 {
		return nil, ConfigErrors{{File: file, Line: 1, Msg: "the file is empty: expected admin, store and channels"}}
	}
	expandEnv(file, &doc, &errs) // ${NAME}, ${NAME:-default}, ${file:PATH} in every value
	root := newNode(file, "", doc.Content[0], &errs)
	root.Path = ""
	if root.Y.Kind != yaml.MappingNode {
		root.Errorf("expected a mapping with admin, store and channels at the top")
		return nil, errs
	}
	c := newConfig(data)
	e.building.Store(c)
	defer e.building.Store(nil)
	c.admin, c.store = readAdminStore(root, file)
	c.adminLine, c.storeLine = lineOf(root.Raw("admin")), lineOf(root.Raw("store"))
	c.retention = buildRetention(root, Retention{}) // retention.go

	// Shared code first: every channel's scripts may use it.
	lib := transforms.NewLibrary()
	buildLookups(root, lib)
	buildFunctions(root, data, lib)
	c.shared = digestOf(root.Raw("functions"), root.Raw("lookups"))

	items, _ := root.List("channels", true)
	if root.Has("channels") && len(items) == 0 {
		root.ErrorAt(root.Raw("channels"), "channels", "expected at least one channel")
	}
	for i, item := range items {
		path := fmt.Sprintf("channels[%d]", i)
		n := root.Sub(item, path)
		if n == nil {
			continue
		}
		if ch := buildChannel(n, e, data, lib); ch != nil {
			if prev, dup := c.byName[ch.Name]; dup {
				n.ErrorAt(n.Raw("name"), path+".name", "channel name %q is already used at line %d", ch.Name, prev.Line)
				continue
			}
			ch.digest = digestOf(item) + c.shared
			c.byName[ch.Name] = ch
			c.channels = append(c.channels, ch)
		}
	}
	buildAlerts(root, e) // alerts.go: alerts and smtp, once the channels they name are built
	root.CheckUnknown()
	for _, f := range c.afterLoad {
		f()
	}
	checkListenerClash(e.File, c, &errs)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return c, nil
}

// lineOf is y's line, 1 when y is nil.
func lineOf(y *yaml.Node) int {
	if y == nil {
		return 1
	}
	return y.Line
}

// StoreConfig is the store: block: the embedded SQLite file (the default) or a
// PostgreSQL database several nodes share.
type StoreConfig struct {
	Driver string // StoreSQLite or StorePostgres
	Path   string // sqlite: the file (absolute)
	URL    string // postgres: postgres://user:password@host:port/database?…
}

// The store drivers.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Redacted is the store's URL without its password, for logs and errors.
func (c StoreConfig) Redacted() string {
	if c.Driver != StorePostgres {
		return c.Path
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(an unreadable url)"
	}
	return u.Redacted()
}

// readAdminStore reads the admin and store blocks (which a reload cannot change).
func readAdminStore(root *Node, file string) (admin AdminConfig, store StoreConfig) {
	if a := root.Map("admin", false); a != nil {
		a.Path = "admin"
		admin.Listen = a.Addr("listen", false, "127.0.0.1:8090")
		if uf := a.String("users_file", false, ""); uf != "" {
			if !filepath.IsAbs(uf) {
				uf = filepath.Join(filepath.Dir(file), uf)
			}
			admin.UsersFile = uf
		}
		admin.URL = adminURL(a)
		a.CheckUnknown()
	} else {
		admin.Listen = "127.0.0.1:8090"
	}
	store = StoreConfig{Driver: StoreSQLite, Path: "data/junction.db"}
	if st := root.Map("store", false); st != nil {
		st.Path = "store"
		store.Driver = st.OneOf("driver", StoreSQLite, StoreSQLite, StorePostgres)
		if store.Driver == StorePostgres {
			store.Path = ""
			store.URL = st.String("url", true, "")
			if u, err := url.Parse(store.URL); store.URL != "" && (err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql")) {
				y, path := st.child("url")
				st.ErrorAt(y, path, "expected a postgres://user:password@host:port/database url")
			}
		} else {
			store.Path = st.String("path", true, "")
		}
		st.CheckUnknown()
	}
	if store.Path != "" && !filepath.IsAbs(store.Path) {
		store.Path = filepath.Join(filepath.Dir(file), store.Path)
	}
	return admin, store
}

// AfterLoad runs f once every channel is built, before Load returns: for checks that need
// the whole configuration, such as which sources share a listener. f reports through the
// Nodes it holds.
func (e *Engine) AfterLoad(f func()) {
	c := e.conf()
	c.afterLoad = append(c.afterLoad, f)
}

// Warn records a warning at n's line (or at y's, when given).
func (e *Engine) Warn(n *Node, y *yaml.Node, path, format string, args ...any) {
	line := n.Line()
	if y != nil {
		line = y.Line
	}
	c := e.conf()
	c.warnings = append(c.warnings, ConfigError{File: n.File, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func buildChannel(n *Node, e *Engine, data []byte, lib *transforms.Library) *Channel {
	ch := &Channel{engine: e, Line: n.Line(), FilteredACK: "AA"}
	ch.Name = n.String("name", true, "")
	if ch.Name != "" && !namePattern.MatchString(ch.Name) {
		n.ErrorAt(n.Raw("name"), n.Path+".name", "channel names use letters, digits, '-', '_' and '.', got %q", ch.Name)
	}
	ch.Description = n.String("description", false, "")
	ch.Enabled = n.Bool("enabled", true)
	ch.FilteredACK = n.OneOf("filtered_ack", "AA", "AA", "AR")
	ch.Section = sectionText(data, n.Y)
	ch.Retention = buildRetention(n, e.conf().retention) // retention.go

	if src := n.Map("source", true); src != nil {
		typ := src.String("type", true, "")
		spec, ok := sourceSpec(typ)
		switch {
		case typ == "":
		case !ok:
			src.ErrorAt(src.Raw("type"), src.Path+".type", "unknown source type %q (expected one of: %s)", typ, strings.Join(typeNames(sources), ", "))
		default:
			ch.SourceType = typ
			spec.Build(src, ch, e)
			src.CheckUnknown() // only a known type knows its keys
		}
	}
	if len(ch.DataTypes) == 0 {
		ch.DataTypes = transforms.DataTypes
	}

	ch.Converter = buildConverter(n)
	ch.Filters = compileSteps(n, data, "filter", transforms.Filter, ch.DataTypes, lib)
	ch.Transforms = compileSteps(n, data, "transform", transforms.Transform, ch.DataTypes, lib)
	ch.Columns = buildColumns(n, data, ch.DataTypes, lib) // columns.go

	items, dpath := n.List("destinations", false)
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", dpath, i)
		dn := n.Sub(item, path)
		if dn == nil {
			continue
		}
		nameY := dn.Raw("name") // before Build gives dn its connector's FieldSpecs
		d := buildDestination(dn, e, data, lib)
		if d == nil {
			continue
		}
		for _, prev := range ch.Destinations {
			if prev.Name == d.Name {
				dn.ErrorAt(nameY, path+".name", "destination name %q is already used in this channel at line %d", d.Name, prev.Line)
				d = nil
				break
			}
		}
		if d != nil {
			d.Channel = ch
			ch.Destinations = append(ch.Destinations, d)
		}
	}
	n.CheckUnknown()
	if ch.Name == "" {
		return nil
	}
	return ch
}

func buildDestination(n *Node, e *Engine, data []byte, lib *transforms.Library) *DestinationRuntime {
	d := &DestinationRuntime{Line: n.Line(), Retry: DefaultRetry}
	d.Steps = buildDestinationSteps(n, data, lib)
	// Filters run on the channel's transformed message, whose data type a transform
	// may have changed: literal HL7 paths are checked when a message runs.
	d.Filters = compileSteps(n, data, "filter", transforms.Filter, nil, lib)
	d.Name = n.String("name", true, "")
	if d.Name != "" && !namePattern.MatchString(d.Name) {
		n.ErrorAt(n.Raw("name"), n.Path+".name", "destination names use letters, digits, '-', '_' and '.', got %q", d.Name)
	}
	d.Type = n.String("type", true, "")
	if r := n.Map("retry", false); r != nil {
		d.Retry.Attempts = r.Int("attempts", 0, 0)
		d.Retry.Backoff = r.Duration("backoff", DefaultRetry.Backoff)
		d.Retry.MaxBackoff = r.Duration("max_backoff", max(DefaultRetry.MaxBackoff, d.Retry.Backoff))
		if d.Retry.MaxBackoff < d.Retry.Backoff {
			r.ErrorAt(r.Raw("max_backoff"), r.Path+".max_backoff", "must not be shorter than backoff (%s)", d.Retry.Backoff)
		}
		r.CheckUnknown()
	}
	if d.Type == "" {
		n.CheckUnknown()
		return nil
	}
	spec, ok := destinationSpec(d.Type)
	if !ok {
		n.ErrorAt(n.Raw("type"), n.Path+".type", "unknown destination type %q (expected one of: %s)", d.Type, strings.Join(typeNames(destinations), ", "))
		return nil
	}
	d.Dest = spec.Build(n, e)
	n.CheckUnknown()
	if d.Name == "" || d.Dest == nil {
		return nil
	}
	return d
}

// buildDestinationSteps compiles a destination's own steps: transform (run on its copy
// of the channel's transformed content, before it is encoded and sent) and response
// (run on what it answered). Its content may be of any data type (a transform may have
// turned HL7v2 into FHIR), so literal HL7 paths are checked when a message runs.
func buildDestinationSteps(n *Node, data []byte, lib *transforms.Library) DestinationSteps {
	return DestinationSteps{
		Transforms: compileSteps(n, data, "transform", transforms.Transform, nil, lib),
		Response:   compileSteps(n, data, "response", transforms.Response, nil, lib),
	}
}

// buildConverter reads the channel's site settings for toFHIR() (all optional).
func buildConverter(n *Node) *hl7tofhir.Converter {
	m := n.Map("tofhir", false)
	if m == nil {
		return nil
	}
	opts := hl7tofhir.Options{
		Systems:            m.StringMap("systems"),
		NHSNumberSystem:    m.String("nhs_number_system", false, ""),
		DefaultSystem:      m.String("default_system", false, ""),
		OrganizationSystem: m.String("organization_system", false, ""),
		BaseURL:            m.String("base_url", false, ""),
		IDNamespace:        m.String("id_namespace", false, ""),
	}
	if tz := m.String("time_zone", false, ""); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			m.ErrorAt(m.Raw("time_zone"), m.Path+".time_zone", "expected an IANA time zone such as Europe/London, got %q", tz)
		}
		opts.TimeZone = loc
	}
	m.CheckUnknown()
	conv, err := hl7tofhir.NewConverter(opts)
	if err != nil {
		m.Errorf("%v", err)
		return nil
	}
	return conv
}

// compileSteps compiles the list of scripts under key against lib's shared code (nil: none).
func compileSteps(n *Node, data []byte, key string, kind transforms.Kind, dataTypes []string, lib *transforms.Library) []*transforms.Program {
	items, path := n.List(key, false)
	var progs []*transforms.Program
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode {
			n.ErrorAt(item, p, "expected an expression (a quoted text line), got %s", describe(item))
			continue
		}
		s := scriptAt(n, data, item, p)
		prog, err := transforms.CompileWith(s, kind, dataTypes, lib)
		if err != nil {
			var ce *transforms.CompileError
			if errors.As(err, &ce) {
				*n.errs = append(*n.errs, ConfigError{File: n.File, Line: ce.Line, Path: s.Path, Msg: ce.Msg})
			} else {
				n.ErrorAt(item, p, "%v", err)
			}
			continue
		}
		progs = append(progs, prog)
	}
	return progs
}

// scriptAt is the script written in the scalar item, with where it starts in the file.
func scriptAt(n *Node, data []byte, item *yaml.Node, path string) transforms.Script {
	line := item.Line
	if item.Style == yaml.LiteralStyle || item.Style == yaml.FoldedStyle {
		line++ // a block scalar's text starts on the next line
	}
	s := transforms.Script{Source: item.Value, File: n.File, Line: line, Path: strings.TrimPrefix(path, ".")}
	if item.Style == yaml.FoldedStyle {
		s.LineStarts = foldedLineStarts(data, line, item.Value)
	}
	return s
}

// foldedLineStarts finds where each source line of a folded scalar starting at line begins
// in its joined value (lines are joined with one space).
func foldedLineStarts(data []byte, line int, value string) []int {
	lines := strings.Split(string(data), "\n")
	var starts []int
	off := 0
	for i := line; i < len(lines); i++ { // lines[line] is the scalar's second line
		l := strings.TrimSpace(lines[i-1])
		if i > line {
			starts = append(starts, off)
		}
		off += utf8.RuneCountInString(l) + 1
		if off >= utf8.RuneCountInString(value) {
			break
		}
	}
	return starts
}

// checkListenerClash reports two services' listen addresses that would bind the same
// port, e.g. ":8000" and "127.0.0.1:8000" (share one spelling so the channels share one
// listener), an HTTP and an MLLP listener on one port, or a source on admin.listen's.
func checkListenerClash(file string, c *config, errs *ConfigErrors) {
	add := func(s *serviceEntry, msg string, args ...any) {
		*errs = append(*errs, ConfigError{File: file, Line: s.line, Path: s.path, Msg: fmt.Sprintf(msg, args...)})
	}
	for i, s := range c.services {
		if _, port, err := net.SplitHostPort(s.addr); err != nil || port == "0" {
			continue
		}
		if portClash(s.addr, c.admin.Listen) {
			add(s, "listen %q clashes with admin.listen %q: sources and the admin API need their own ports", s.addr, c.admin.Listen)
			continue
		}
		for _, o := range c.services[:i] {
			switch {
			case !portClash(s.addr, o.addr):
				continue
			case o.kind != s.kind:
				add(s, "listen %q clashes with the %s listener %q (line %d): an %s listener needs a port of its own", s.addr, o.kind, o.addr, o.line, s.kind)
			default:
				add(s, "listen %q clashes with %q (line %d): write the same address to share one listener", s.addr, o.addr, o.line)
			}
			break
		}
	}
}

// portClash reports whether two listen addresses would bind the same port.
func portClash(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp || ap == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ah == bh || wild(ah) || wild(bh)
}

// sectionText is the YAML text of a channel as written, for operators to read.
func sectionText(data []byte, y *yaml.Node) string {
	lines := bytes.Split(data, []byte("\n"))
	start, end := y.Line-1, lastLine(y)
	if start < 0 || end > len(lines) {
		return ""
	}
	// Block scalars run on past their first line: take every following line indented deeper
	// than the channel's keys, and blank lines between them.
	indent := y.Column - 1
	for end < len(lines) {
		l := lines[end]
		t := bytes.TrimLeft(l, " ")
		if len(t) > 0 && len(l)-len(t) <= indent {
			break
		}
		end++
	}
	return strings.TrimRight(string(bytes.Join(lines[start:end], []byte("\n"))), "\n ")
}

func lastLine(y *yaml.Node) int {
	l := y.Line
	for _, c := range y.Content {
		if cl := lastLine(c); cl > l {
			l = cl
		}
	}
	return l
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError locates a YAML syntax error: at the badly indented line when there is
// one (yaml.v3 often names another line for those), else where yaml.v3 says.
func yamlSyntaxError(file string, data []byte, err error) ConfigError {
	if ie := indentError(file, data); ie != nil {
		return *ie
	}
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return ConfigError{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return ConfigError{File: file, Line: 1, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func sortErrors(errs ConfigErrors) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Line < errs[j-1].Line; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}
