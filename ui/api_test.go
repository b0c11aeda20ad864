package ui

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
)

const routes = `store:
  path: junction.db
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    filter:
      - 'get("MSH-9.1") == "ADT"'
    destinations:
      - { name: archive, type: file, dir: out, retry: { attempts: 3, backoff: 1s } }
`

// apiServer runs an engine on a real store, with its admin API on a loopback server.
func apiServer(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(eng))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng, srv.URL
}

func ingest(t *testing.T, eng *engine.Engine, msgType, control string) {
	t.Helper()
	body := "MSH|^~\\&|A|B|C|D|20240213144932||" + msgType + "|" + control + "|P|2.4\rPID|1||123\r"
	req, _ := http.NewRequest("POST", "http://"+eng.BoundAddr("HTTP")+"/$ingest", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("source-domain", "emergency-care")
	req.Header.Set("organisation-code", "r0d")
	req.Header.Set("data-type", "Hl7v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

func TestMessagesAPI(t *testing.T) {
	eng, base := apiServer(t)
	ingest(t, eng, "ADT^A01", "C1")
	ingest(t, eng, "SIU^S12", "C2")
	ingest(t, eng, "ADT^A08", "C3")

	var list struct {
		Messages []engine.MessageSummary
		Next     int64
	}
	getJSON(t, base+"/api/messages?channel=adt&limit=2", 200, &list)
	if len(list.Messages) != 2 || list.Messages[0].ControlID != "C3" || list.Messages[1].ControlID != "C2" || list.Next != list.Messages[1].ID {
		t.Fatalf("first page = %+v", list)
	}
	getJSON(t, base+"/api/messages?channel=adt&before="+itoa(list.Next), 200, &list)
	if len(list.Messages) != 1 || list.Messages[0].ControlID != "C1" {
		t.Fatalf("second page = %+v", list.Messages)
	}
	getJSON(t, base+"/api/messages?status=FILTERED", 200, &list)
	if len(list.Messages) != 1 || list.Messages[0].ControlID != "C2" || !strings.Contains(list.Messages[0].Error, "filtered by") {
		t.Fatalf("filtered = %+v", list.Messages)
	}

	var detail engine.MessageDetail
	getJSON(t, base+"/api/messages/"+itoa(list.Messages[0].ID), 200, &detail)
	if !strings.HasPrefix(detail.Raw, "MSH|") || detail.Meta["organisation-code"] != "r0d" || detail.Status != engine.StatusFiltered {
		t.Fatalf("detail = %+v", detail)
	}

	var channels struct {
		Channels []struct {
			Name  string
			Stats engine.ChannelStats
		}
	}
	getJSON(t, base+"/api/channels", 200, &channels)
	if len(channels.Channels) != 1 || channels.Channels[0].Stats.Received != 3 || channels.Channels[0].Stats.Filtered != 1 {
		t.Fatalf("channels = %+v", channels)
	}
}

func TestAPIErrorsSayWhatIsWrong(t *testing.T) {
	_, base := apiServer(t)
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/api/messages?status=DONE", 400, "status: expected one of"},
		{"/api/messages?channel=nope", 400, `no channel is named "nope"`},
		{"/api/messages?limit=0", 400, "limit: expected a whole number from 1 to 1000"},
		{"/api/messages?before=x", 400, "before:"},
		{"/api/messages/abc", 400, "message id must be a positive whole number"},
		{"/api/messages/999", 404, "no message has id 999"},
		{"/api/nothing", 404, "no such endpoint"},
	} {
		var e struct{ Error string }
		getJSON(t, base+c.path, c.status, &e)
		if !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: error %q, want it to contain %q", c.path, e.Error, c.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
