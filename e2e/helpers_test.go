// Package e2e tests Junction end to end: the real binary, started as a child process on
// loopback with a real SQLite store in a temporary folder, fed over HTTP and delivering
// to real files and real HTTP receivers.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// junctionBin is the binary built once by TestMain.
var (
	junctionBin string
	repoRoot    string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s is not the repository root: %v\n", root, err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "junction-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	junctionBin = filepath.Join(dir, "junction")
	build := exec.Command("go", "build", "-o", junctionBin, "./cmd/junction")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building junction:", err)
		return 1
	}
	return m.Run()
}

// ---------------------------------------------------------------------------------------
// Polling

const (
	pollEvery   = 20 * time.Millisecond
	waitDefault = 20 * time.Second
)

// waitFor polls cond until it reports true or the deadline passes. cond returns a
// description of the state it saw, printed when the wait fails.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(pollEvery)
	}
}

// handedOut are the addresses freeAddr gave: the kernel may offer a port again once
// it is closed, and two listeners of one test must not get the same.
var handedOut sync.Map

// freeAddr returns a loopback address whose port was free a moment ago, and that it
// has not returned before.
func freeAddr(t testing.TB) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, seen := handedOut.LoadOrStore(addr, true); !seen {
			return addr
		}
	}
}

// ---------------------------------------------------------------------------------------
// The junction process

// Junction is one routes.yaml and the junction serving it (possibly several times, across
// restarts, on the same store).
type Junction struct {
	t      testing.TB
	Dir    string // the routes.yaml folder; the store and file destinations live here
	Config string // path of routes.yaml
	Admin  string // admin listen address
	Ingest string // ingest listen address ({{INGEST}})
	Vars   map[string]string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	logPath string
}

// newJunction writes routes.yaml from a template without starting anything. The
// template may use {{ADMIN}}, {{INGEST}}, {{DIR}} and any key of vars (written {{KEY}}).
func newJunction(t testing.TB, tmpl string, vars map[string]string) *Junction {
	t.Helper()
	j := &Junction{t: t, Dir: t.TempDir(), Admin: freeAddr(t), Ingest: freeAddr(t), Vars: map[string]string{}}
	j.Config = filepath.Join(j.Dir, "routes.yaml")
	j.logPath = filepath.Join(j.Dir, "junction.log")
	pairs := []string{"{{ADMIN}}", j.Admin, "{{INGEST}}", j.Ingest, "{{DIR}}", j.Dir}
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
		j.Vars[k] = v
	}
	text := strings.NewReplacer(pairs...).Replace(tmpl)
	if i := strings.Index(text, "{{"); i >= 0 {
		t.Fatalf("routes.yaml template has an unfilled placeholder near %q", text[i:min(len(text), i+30)])
	}
	if err := os.WriteFile(j.Config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		j.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(j.logPath); err == nil {
				t.Logf("junction log (%s):\n%s", j.logPath, tail(string(b), 6000))
			}
		}
	})
	return j
}

// startJunction writes routes.yaml from the template, starts junction serve and waits
// until its admin API answers.
func startJunction(t testing.TB, tmpl string, vars map[string]string) *Junction {
	t.Helper()
	j := newJunction(t, tmpl, vars)
	j.Start()
	return j
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Start runs `junction serve -config routes.yaml` and waits for readiness.
func (j *Junction) Start() {
	j.t.Helper()
	logf, err := os.OpenFile(j.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		j.t.Fatal(err)
	}
	fmt.Fprintf(logf, "----- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(junctionBin, "serve", "-config", j.Config)
	cmd.Dir = j.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		j.t.Fatal(err)
	}
	done := make(chan struct{})
	j.mu.Lock()
	j.cmd, j.done, j.exitErr = cmd, done, nil
	j.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		j.mu.Lock()
		j.exitErr = err
		j.mu.Unlock()
		close(done)
	}()
	j.WaitReady()
}

// WaitReady polls GET /api/channels until it answers 200.
func (j *Junction) WaitReady() {
	j.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	waitFor(j.t, waitDefault, "junction to answer GET /api/channels", func() (bool, string) {
		select {
		case <-j.done:
			b, _ := os.ReadFile(j.logPath)
			j.t.Fatalf("junction exited before it was ready (%v); log:\n%s", j.exitErr, tail(string(b), 4000))
		default:
		}
		resp, err := client.Get("http://" + j.Admin + "/api/channels")
		if err != nil {
			return false, err.Error()
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// Running reports whether the process is alive.
func (j *Junction) Running() bool {
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (j *Junction) signal(sig syscall.Signal, timeout time.Duration) error {
	j.mu.Lock()
	cmd, done := j.cmd, j.done
	j.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
	default:
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("junction did not exit within %s of %v", timeout, sig)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.exitErr
}

// Stop sends SIGTERM and waits for the process to exit; it fails the test on a non-zero exit.
func (j *Junction) Stop() {
	j.t.Helper()
	if err := j.signal(syscall.SIGTERM, 40*time.Second); err != nil {
		j.t.Errorf("junction stop: %v", err)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (j *Junction) Kill() {
	_ = j.signal(syscall.SIGKILL, 10*time.Second)
}

// IngestURL is the $ingest endpoint of the {{INGEST}} listener.
func (j *Junction) IngestURL() string { return "http://" + j.Ingest + "/$ingest" }

// ---------------------------------------------------------------------------------------
// $ingest

// Reply is an HTTP answer.
type Reply struct {
	Status int
	Header http.Header
	Body   string
}

// ingestClient's timeout is a hang guard, not a speed limit: a 4 MB message of 100k
// segments takes seconds to convert, many more on a loaded machine.
var ingestClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// ingestHeaders are the headers the Healthcare Exchange sends.
func ingestHeaders(domain, org, dataType string) http.Header {
	return http.Header{
		"Source-Domain":     {domain},
		"Organisation-Code": {org},
		"Data-Type":         {dataType},
		"Content-Type":      {"text/plain"},
	}
}

// send makes one request and reads the whole answer.
func send(method, url string, h http.Header, body string) (Reply, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return Reply{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := ingestClient.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// post sends body to url with the headers and fails the test when there is no answer.
func post(t testing.TB, url string, h http.Header, body string) Reply {
	t.Helper()
	r, err := send(http.MethodPost, url, h, body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return r
}

// postHL7 posts an HL7v2 message with the usual headers.
func postHL7(t testing.TB, url, domain, msg string) Reply {
	t.Helper()
	return post(t, url, ingestHeaders(domain, "r0d", "Hl7v2"), msg)
}

// MessageID is the Junction-Message-Id header as a number (0 when absent).
func (r Reply) MessageID() int64 {
	id, _ := strconv.ParseInt(r.Header.Get("Junction-Message-Id"), 10, 64)
	return id
}

// ---------------------------------------------------------------------------------------
// ACKs and OperationOutcomes

// ACK is an acknowledgement split into fields. MSH[i] is MSH-(i+1) (MSH[0] is MSH-1, the
// field separator) and MSA[i] is MSA-i (MSA[0] is "MSA"); values are as sent (escaped).
type ACK struct {
	Raw      string
	Segments []string
	MSH      []string
	MSA      []string
}

// Code is MSA-1, RefControlID MSA-2, Text MSA-3 unescaped.
func (a ACK) Code() string         { return a.field(a.MSA, 1) }
func (a ACK) RefControlID() string { return unescapeHL7(a.field(a.MSA, 2)) }
func (a ACK) Text() string         { return unescapeHL7(a.field(a.MSA, 3)) }

func (a ACK) field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Outcome parses MSA-3 as an OperationOutcome.
func (a ACK) Outcome(t testing.TB) Outcome {
	t.Helper()
	return parseOutcome(t, a.Text())
}

// parseACK splits an ACK on CR and checks it is MSH then MSA, each CR-terminated.
func parseACK(t testing.TB, body string) ACK {
	t.Helper()
	if !strings.HasSuffix(body, "\r") {
		t.Fatalf("ACK does not end with CR: %q", body)
	}
	segs := strings.Split(strings.TrimSuffix(body, "\r"), "\r")
	if len(segs) != 2 || !strings.HasPrefix(segs[0], "MSH|") || !strings.HasPrefix(segs[1], "MSA|") {
		t.Fatalf("expected an ACK of two segments MSH and MSA, got %q", body)
	}
	a := ACK{Raw: body, Segments: segs}
	a.MSH = append([]string{"|"}, strings.Split(segs[0], "|")[1:]...)
	a.MSA = strings.Split(segs[1], "|")
	if len(a.MSA) != 4 {
		t.Fatalf("expected MSA|code|control id|text (3 fields), got %d fields in %q", len(a.MSA)-1, segs[1])
	}
	return a
}

// unescapeHL7 undoes the standard escapes for the default delimiters.
func unescapeHL7(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		j := strings.IndexByte(s[i+1:], '\\')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		switch seq := s[i+1 : i+1+j]; seq {
		case "F":
			b.WriteByte('|')
		case "S":
			b.WriteByte('^')
		case "T":
			b.WriteByte('&')
		case "R":
			b.WriteByte('~')
		case "E":
			b.WriteByte('\\')
		default:
			b.WriteString(`\` + seq + `\`)
		}
		i += j + 1
	}
	return b.String()
}

// Outcome is a FHIR OperationOutcome.
type Outcome struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Issue        []struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

func parseOutcome(t testing.TB, s string) Outcome {
	t.Helper()
	var o Outcome
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatalf("not an OperationOutcome (%v): %q", err, s)
	}
	if o.ResourceType != "OperationOutcome" || len(o.Issue) == 0 {
		t.Fatalf("expected an OperationOutcome with an issue, got %q", s)
	}
	return o
}

// Diagnostics joins every issue's diagnostics.
func (o Outcome) Diagnostics() string {
	var d []string
	for _, i := range o.Issue {
		d = append(d, i.Diagnostics)
	}
	return strings.Join(d, " | ")
}

// ---------------------------------------------------------------------------------------
// Admin API

// APIDestination is a destination's state for one message.
type APIDestination struct {
	Name      string  `json:"name"`
	Status    string  `json:"status"`
	Attempts  int     `json:"attempts"`
	LastError string  `json:"last_error"`
	Encoded   *string `json:"encoded"`
	Sent      *string `json:"sent"`
	Response  *string `json:"response"`
}

// APIMessage is a message summary, or with Raw/Transformed/Meta a detail.
type APIMessage struct {
	ID           int64             `json:"id"`
	Channel      string            `json:"channel"`
	Status       string            `json:"status"`
	ControlID    string            `json:"control_id"`
	DataType     string            `json:"data_type"`
	SourceDomain string            `json:"source_domain"`
	OrgCode      string            `json:"organisation_code"`
	Error        string            `json:"error"`
	Destinations []APIDestination  `json:"destinations"`
	Meta         map[string]string `json:"meta"`
	Raw          string            `json:"raw"`
	Transformed  *string           `json:"transformed"`
}

// Destination returns the named destination row or nil.
func (m APIMessage) Destination(name string) *APIDestination {
	for i := range m.Destinations {
		if m.Destinations[i].Name == name {
			return &m.Destinations[i]
		}
	}
	return nil
}

var apiClient = &http.Client{Timeout: 30 * time.Second} // a hang guard: a 100k-segment message is tens of MB

// apiGet GETs an admin path and decodes the JSON answer into v.
func (j *Junction) apiGet(path string, v any) error {
	resp, err := apiClient.Get("http://" + j.Admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %v in %s", path, err, b)
	}
	return nil
}

// Messages lists one page of /api/messages?query.
func (j *Junction) Messages(t testing.TB, query string) []APIMessage {
	t.Helper()
	ms, _, err := j.messagesPage(query)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (j *Junction) messagesPage(query string) ([]APIMessage, int64, error) {
	var page struct {
		Messages []APIMessage `json:"messages"`
		Next     int64        `json:"next"`
	}
	err := j.apiGet("/api/messages?"+query, &page)
	return page.Messages, page.Next, err
}

// AllMessages walks every page of /api/messages?query.
func (j *Junction) AllMessages(t testing.TB, query string) []APIMessage {
	t.Helper()
	var all []APIMessage
	q := query
	for {
		page, next, err := j.messagesPage(q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == 0 {
			return all
		}
		q = query + "&before=" + strconv.FormatInt(next, 10)
	}
}

// Message is GET /api/messages/{id}.
func (j *Junction) Message(t testing.TB, id int64) APIMessage {
	t.Helper()
	var m APIMessage
	if err := j.apiGet("/api/messages/"+strconv.FormatInt(id, 10), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// WaitMessage polls GET /api/messages/{id} until cond holds and returns the message.
func (j *Junction) WaitMessage(t testing.TB, id int64, what string, cond func(APIMessage) bool) APIMessage {
	t.Helper()
	var m APIMessage
	waitFor(t, waitDefault, fmt.Sprintf("message %d: %s", id, what), func() (bool, string) {
		m = APIMessage{}
		if err := j.apiGet("/api/messages/"+strconv.FormatInt(id, 10), &m); err != nil {
			return false, err.Error()
		}
		b, _ := json.Marshal(m)
		return cond(m), string(b)
	})
	return m
}

// APIChannel is one entry of /api/channels.
type APIChannel struct {
	Name         string   `json:"name"`
	Enabled      bool     `json:"enabled"`
	Source       string   `json:"source"`
	DataTypes    []string `json:"data_types"`
	Destinations []struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		Counts struct {
			Queued int64 `json:"queued"`
			Sent   int64 `json:"sent"`
			Error  int64 `json:"error"`
		} `json:"counts"`
	} `json:"destinations"`
	Stats struct {
		Received int64 `json:"received"`
		Filtered int64 `json:"filtered"`
		Errored  int64 `json:"errored"`
	} `json:"stats"`
}

// Channels is GET /api/channels.
func (j *Junction) Channels(t testing.TB) []APIChannel {
	t.Helper()
	var out struct {
		Channels []APIChannel `json:"channels"`
	}
	if err := j.apiGet("/api/channels", &out); err != nil {
		t.Fatal(err)
	}
	return out.Channels
}

// ---------------------------------------------------------------------------------------
// HTTP receivers

// Received is one request a receiver got.
type Received struct {
	N         int // 1-based order of arrival
	Method    string
	Header    http.Header
	Body      string
	ControlID string // MSH-10 of the body, when it is HL7v2
	Status    int    // what the receiver answered
}

// Receiver is an HTTP server on loopback that records every request and answers with
// the status its respond function picks.
type Receiver struct {
	URL  string
	Addr string

	respond func(n int, body string) int
	mu      sync.Mutex
	got     []Received
	srv     *http.Server
}

// newReceiver starts a receiver on a free port.
func newReceiver(t testing.TB, respond func(n int, body string) int) *Receiver {
	t.Helper()
	return newReceiverAt(t, "127.0.0.1:0", respond)
}

// newReceiverAt starts a receiver on addr.
func newReceiverAt(t testing.TB, addr string, respond func(n int, body string) int) *Receiver {
	t.Helper()
	var ln net.Listener
	var err error
	// The port may have just been given up by a closed listener: retry briefly.
	waitFor(t, 5*time.Second, "listening on "+addr, func() (bool, string) {
		ln, err = net.Listen("tcp", addr)
		return err == nil, fmt.Sprint(err)
	})
	r := &Receiver{Addr: ln.Addr().String(), respond: respond}
	r.URL = "http://" + r.Addr + "/in"
	if r.respond == nil {
		r.respond = func(int, string) int { return http.StatusOK }
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.got) + 1
	status := r.respond(n, string(b))
	r.got = append(r.got, Received{N: n, Method: req.Method, Header: req.Header.Clone(), Body: string(b), ControlID: controlIDOf(string(b)), Status: status})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "receiver answered %d to request %d", status, n)
}

// Got returns a copy of every request so far.
func (r *Receiver) Got() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Accepted returns the control ids of the requests answered 2xx, in arrival order.
func (r *Receiver) Accepted() []string {
	var ids []string
	for _, g := range r.Got() {
		if g.Status >= 200 && g.Status < 300 {
			ids = append(ids, g.ControlID)
		}
	}
	return ids
}

// ---------------------------------------------------------------------------------------
// HL7v2 messages

// controlIDOf is MSH-10 of an ER7 message with | as field separator.
func controlIDOf(msg string) string {
	if !strings.HasPrefix(msg, "MSH|") {
		return ""
	}
	first := msg
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		first = msg[:i]
	}
	f := strings.Split(first, "|")
	if len(f) > 9 {
		return f[9]
	}
	return ""
}

// adt is a small but realistic ADT^A01 with the given control id and family name.
func adt(controlID, family string) string {
	return strings.Join([]string{
		`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01^ADT_A01|` + controlID + `|P|2.4|||AL|NE|GBR|UNICODE UTF-8`,
		`EVN|A01|20240213144900`,
		`PID|1||9434765919^^^NHS^NH~K123456^^^RX1^MR||` + family + `^Maria^^^Ms||19850317|F|||12 Station Road^^Leeds^^LS1 4AB^GBR^H`,
		`PV1|1|I|RX1WARD7^Bay 2^Bed 4|28|||C3456789^JONES^SARAH^^^DR`,
	}, "\r") + "\r"
}

// siu is an SIU^S12 (scheduling), which the bundled filter does not route.
func siu(controlID string) string {
	return strings.Join([]string{
		`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144932||SIU^S12^SIU_S12|` + controlID + `|P|2.4`,
		`SCH|APT-1||||||Routine^Routine|||30|min`,
		`PID|1||9434765919^^^NHS^NH||Smith^John||19800101|M`,
	}, "\r") + "\r"
}

// setField replaces component comp (1-based; 0 = the whole field) of the first field
// SEG-field in an ER7 message with value.
func setField(t testing.TB, msg, seg string, field, comp int, value string) string {
	t.Helper()
	segs := strings.Split(msg, "\r")
	for i, s := range segs {
		if !strings.HasPrefix(s, seg+"|") {
			continue
		}
		f := strings.Split(s, "|")
		idx := field
		if seg == "MSH" {
			idx = field - 1 // MSH-1 is the separator itself
		}
		if idx >= len(f) {
			t.Fatalf("%s-%d is not in %q", seg, field, s)
		}
		if comp == 0 {
			f[idx] = value
		} else {
			c := strings.Split(f[idx], "^")
			for len(c) < comp {
				c = append(c, "")
			}
			c[comp-1] = value
			f[idx] = strings.Join(c, "^")
		}
		segs[i] = strings.Join(f, "|")
		return strings.Join(segs, "\r")
	}
	t.Fatalf("no %s segment in the message", seg)
	return ""
}
