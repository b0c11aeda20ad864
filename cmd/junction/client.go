package main

// Operator commands for scripts: clients of the admin REST API (the same API the web
// UI uses), so they work against any running Junction, local or not.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"junction/auth"
)

const defaultAdmin = "http://127.0.0.1:8090"

// adminFlag adds -admin to fs: the admin listener's URL (default $JUNCTION_ADMIN, else
// http://127.0.0.1:8090).
func adminFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("JUNCTION_ADMIN")
	if def == "" {
		def = defaultAdmin
	}
	return fs.String("admin", def, "admin listener URL (default $JUNCTION_ADMIN or "+defaultAdmin+")")
}

// userFlag adds -user to fs: the operator account to log in as, when the admin listener
// has login on (admin.users_file).
func userFlag(fs *flag.FlagSet) *string {
	return fs.String("user", os.Getenv("JUNCTION_USER"), "log in as this operator (password from $JUNCTION_PASSWORD, else one line on standard input); default $JUNCTION_USER")
}

// apiClient calls the admin API.
type apiClient struct {
	base string
	http *http.Client
	csrf string // the session's CSRF token, once logged in
	// token is an API token sent as Authorization: Bearer; with one, login does nothing.
	token string
}

// login logs in as user with the password from $JUNCTION_PASSWORD, else read from standard
// input; the session cookie is kept for the client's later calls. A user "" does nothing.
func (c *apiClient) login(user string, stdinTaken bool) error {
	if user == "" || c.token != "" {
		return nil
	}
	password := os.Getenv("JUNCTION_PASSWORD")
	if password == "" {
		if stdinTaken {
			return errors.New("the ids come from standard input: give the password in $JUNCTION_PASSWORD")
		}
		terminal := false
		if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			terminal = true
			fmt.Fprintf(os.Stderr, "Password for %s: ", user)
		}
		var err error
		password, err = auth.ReadPassword(os.Stdin)
		if terminal {
			fmt.Fprintln(os.Stderr)
		}
		if err != nil {
			return fmt.Errorf("reading the password from standard input: %v", err)
		}
		if password == "" {
			return errors.New("no password: set $JUNCTION_PASSWORD or give it as one line on standard input")
		}
	}
	if c.http.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return err
		}
		c.http.Jar = jar
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	if err := c.call(http.MethodPost, "/api/login", map[string]string{"username": user, "password": password}, &out); err != nil {
		return fmt.Errorf("logging in as %s: %w", user, err)
	}
	c.csrf = out.CSRF
	return nil
}

func newAPIClient(admin string) *apiClient {
	if !strings.Contains(admin, "://") {
		admin = "http://" + admin
	}
	return &apiClient{base: strings.TrimRight(admin, "/"), http: &http.Client{Timeout: 60 * time.Second}}
}

// call sends a request and decodes the JSON answer into out; an API error comes back as
// an error carrying the API's own text.
func (c *apiClient) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if method != http.MethodGet {
		req.Header.Set("X-Requested-By", "junction-cli")
		req.Header.Set("Content-Type", "application/json")
		if c.csrf != "" {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusUnauthorized && path != "/api/login" {
				return errors.New(e.Error + " (give -user NAME, with the password in $JUNCTION_PASSWORD, or an API token in -token or $JUNCTION_TOKEN)")
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				return fmt.Errorf("%s (Retry-After: %s s)", e.Error, resp.Header.Get("Retry-After"))
			}
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %v", method, path, err)
		}
	}
	return nil
}

type cliDestination struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

type cliMessage struct {
	ID           int64            `json:"id"`
	Channel      string           `json:"channel"`
	Status       string           `json:"status"`
	ControlID    string           `json:"control_id"`
	DataType     string           `json:"data_type"`
	OrgCode      string           `json:"organisation_code"`
	ReceivedAt   time.Time        `json:"received_at"`
	Error        string           `json:"error"`
	Destinations []cliDestination `json:"destinations"`
}

// messagesCmd is `junction messages`: find messages through GET /api/messages.
func messagesCmd(args []string) int {
	fs := flag.NewFlagSet("messages", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: junction messages [flags]\n\nLists messages matching the filters, newest first (GET /api/messages).\n\n")
		fs.PrintDefaults()
	}
	admin := adminFlag(fs)
	user := userFlag(fs)
	token := tokenFlag(fs)
	vals := map[string]*string{}
	for _, f := range []struct{ flag, key, help string }{
		{"channel", "channel", "channel name"},
		{"status", "status", "message status: RECEIVED, FILTERED, TRANSFORMED, QUEUED, SENT, ERROR"},
		{"destination", "destination", "destination name"},
		{"destination-status", "destination_status", "a delivery's status: QUEUED, SENT, ERROR"},
		{"since", "since", "received at or after (RFC 3339, or 2006-01-02T15:04 UTC)"},
		{"until", "until", "received before"},
		{"q", "q", "free text over the content (full-text index)"},
		{"control-id", "control_id", "exact control id (MSH-10)"},
		{"org", "organisation_code", "exact organisation-code"},
		{"domain", "source_domain", "exact source-domain"},
	} {
		vals[f.key] = fs.String(f.flag, "", f.help)
	}
	limit := fs.Int("limit", 100, "messages to list (with -all: per page)")
	all := fs.Bool("all", false, "follow every page: list all matching messages")
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	idsOnly := fs.Bool("ids", false, "print only the ids, one a line (for junction resend)")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "junction messages: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	q := url.Values{}
	for k, v := range vals {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	q.Set("limit", strconv.Itoa(*limit))
	c := newAPIClient(*admin)
	c.token = *token
	if err := c.login(*user, false); err != nil {
		fmt.Fprintln(os.Stderr, "junction messages:", err)
		return 1
	}
	out := os.Stdout
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	if !*asJSON && !*idsOnly {
		fmt.Fprintln(tw, "ID\tRECEIVED (UTC)\tCHANNEL\tCONTROL ID\tSTATUS\tDESTINATIONS\tERROR")
	}
	enc := json.NewEncoder(out)
	n := 0
	for {
		var page struct {
			Messages []json.RawMessage `json:"messages"`
			Next     int64             `json:"next"`
			Search   *struct {
				IndexedThrough int64 `json:"indexed_through"`
				LatestID       int64 `json:"latest_id"`
			} `json:"search"`
		}
		if err := c.call(http.MethodGet, "/api/messages?"+q.Encode(), nil, &page); err != nil {
			fmt.Fprintln(os.Stderr, "junction messages:", err)
			return 1
		}
		if n == 0 && page.Search != nil && page.Search.IndexedThrough < page.Search.LatestID {
			fmt.Fprintf(os.Stderr, "junction messages: note: the search index is %d message(s) behind\n", page.Search.LatestID-page.Search.IndexedThrough)
		}
		for _, raw := range page.Messages {
			n++
			var m cliMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				fmt.Fprintln(os.Stderr, "junction messages:", err)
				return 1
			}
			switch {
			case *asJSON:
				enc.Encode(raw)
			case *idsOnly:
				fmt.Fprintln(out, m.ID)
			default:
				var dests []string
				errText := m.Error
				for _, d := range m.Destinations {
					dests = append(dests, d.Name+"="+d.Status)
					if d.LastError != "" && errText == "" {
						errText = d.Name + ": " + d.LastError
					}
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.ReceivedAt.UTC().Format("2006-01-02 15:04:05"), m.Channel,
					m.ControlID, m.Status, strings.Join(dests, ","), oneLine(errText, 100))
			}
		}
		if !*all || page.Next == 0 {
			break
		}
		q.Set("before", strconv.FormatInt(page.Next, 10))
	}
	tw.Flush()
	if n == 0 && !*asJSON && !*idsOnly {
		fmt.Fprintln(os.Stderr, "junction messages: no message matches")
	}
	return 0
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

// nameList is a flag that may be given more than once (or comma-separated).
type nameList []string

func (l *nameList) String() string { return strings.Join(*l, ",") }
func (l *nameList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// messageIDs reads ids from args, or from standard input when args is just "-".
func messageIDs(cmd string, args []string) ([]int64, bool) {
	if len(args) == 1 && args[0] == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "junction %s: %v\n", cmd, err)
			return nil, false
		}
		args = strings.Fields(string(b))
	}
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "junction %s: give one or more message ids (or - to read them from standard input)\n", cmd)
		return nil, false
	}
	var ids []int64
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(os.Stderr, "junction %s: %q is not a message id\n", cmd, a)
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// resendCmd is `junction resend`: POST /api/messages/{id}/resend for each id.
func resendCmd(args []string) int {
	fs := flag.NewFlagSet("resend", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: junction resend [flags] ID... (or - to read ids from standard input)\n\nQueues messages again for delivery (POST /api/messages/{id}/resend).\n\n")
		fs.PrintDefaults()
	}
	admin := adminFlag(fs)
	user := userFlag(fs)
	token := tokenFlag(fs)
	var dests nameList
	fs.Var(&dests, "destination", "resend to this destination only (repeat for more; default: all of the message's)")
	contentFile := fs.String("content", "", "send this file's content instead of the message's (one id only; logged as an edit)")
	fs.Parse(args)
	ids, ok := messageIDs("resend", fs.Args())
	if !ok {
		return 2
	}
	body := map[string]any{}
	if len(dests) > 0 {
		body["destinations"] = []string(dests)
	}
	if *contentFile != "" {
		if len(ids) != 1 {
			fmt.Fprintln(os.Stderr, "junction resend: -content takes exactly one message id")
			return 2
		}
		b, err := os.ReadFile(*contentFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "junction resend:", err)
			return 1
		}
		body["content"] = string(b)
	}
	c := newAPIClient(*admin)
	c.token = *token
	if err := c.login(*user, slices.Contains(fs.Args(), "-")); err != nil {
		fmt.Fprintln(os.Stderr, "junction resend:", err)
		return 1
	}
	code := 0
	for _, id := range ids {
		var out struct {
			Resent []string `json:"resent"`
			Edited bool     `json:"edited"`
		}
		if err := c.call(http.MethodPost, "/api/messages/"+strconv.FormatInt(id, 10)+"/resend", body, &out); err != nil {
			fmt.Fprintf(os.Stderr, "message %d: %v\n", id, err)
			code = 1
			continue
		}
		edited := ""
		if out.Edited {
			edited = " (edited content)"
		}
		fmt.Printf("message %d: queued again for %s%s\n", id, strings.Join(out.Resent, ", "), edited)
	}
	return code
}

// reprocessCmd is `junction reprocess`: POST /api/messages/{id}/reprocess for each id.
func reprocessCmd(args []string) int {
	fs := flag.NewFlagSet("reprocess", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: junction reprocess [flags] ID... (or - to read ids from standard input)\n\nRuns messages through their channel again as new messages (POST /api/messages/{id}/reprocess).\n\n")
		fs.PrintDefaults()
	}
	admin := adminFlag(fs)
	user := userFlag(fs)
	token := tokenFlag(fs)
	fs.Parse(args)
	ids, ok := messageIDs("reprocess", fs.Args())
	if !ok {
		return 2
	}
	c := newAPIClient(*admin)
	c.token = *token
	if err := c.login(*user, slices.Contains(fs.Args(), "-")); err != nil {
		fmt.Fprintln(os.Stderr, "junction reprocess:", err)
		return 1
	}
	code := 0
	for _, id := range ids {
		var out struct {
			MessageID int64  `json:"message_id"`
			Status    string `json:"status"`
			Error     string `json:"error"`
		}
		if err := c.call(http.MethodPost, "/api/messages/"+strconv.FormatInt(id, 10)+"/reprocess", map[string]any{}, &out); err != nil {
			fmt.Fprintf(os.Stderr, "message %d: %v\n", id, err)
			code = 1
			continue
		}
		note := ""
		if out.Error != "" {
			note = ": " + out.Error
		}
		fmt.Printf("message %d: reprocessed as message %d (%s%s)\n", id, out.MessageID, out.Status, note)
	}
	return code
}
