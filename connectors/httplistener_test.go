package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

// textRefuse answers a refusal in plain text.
func textRefuse(w http.ResponseWriter, _ *http.Request, status int, reason string) {
	http.Error(w, reason, status)
}

// firstHTTP is the engine's first HTTP listener.
func firstHTTP(eng *engine.Engine) *httpListener {
	for _, s := range eng.Services() {
		if l, ok := s.(*httpListener); ok {
			return l
		}
	}
	return nil
}

// budgetServer serves limitMemory on loopback in front of a handler that reads the body
// and, when the request says hold, waits until release is closed before answering.
type budgetServer struct {
	url     string
	budget  *engine.Budget
	release chan struct{}
	held    chan struct{} // one value per request that reached the handler with hold
}

func startBudgetServer(t *testing.T, capacity, maxBody int64, wait time.Duration) *budgetServer {
	t.Helper()
	s := &budgetServer{budget: engine.NewBudget(capacity), release: make(chan struct{}), held: make(chan struct{}, 64)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Query().Has("hold") {
			s.held <- struct{}{}
			<-s.release
		}
		io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(limitMemory(h, s.budget, maxBody, textRefuse, wait))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
	})
	s.url = srv.URL
	return s
}

func (s *budgetServer) post(t *testing.T, query string, body io.Reader, size int64) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestARequestThatFindsTheBudgetTakenGets503WithRetryAfterAndLaterOnesSucceed(t *testing.T) {
	s := startBudgetServer(t, 16*1000, 1000, 20*time.Millisecond)
	holder := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", s.url+"/?hold", strings.NewReader(strings.Repeat("x", 1000)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			holder <- 0
			return
		}
		resp.Body.Close()
		holder <- resp.StatusCode
	}()
	<-s.held // the whole budget is charged to the held request
	if got := s.budget.Stats().InUse; got != 16*1000 {
		t.Fatalf("in use while held: %d, want 16000", got)
	}
	resp, body := s.post(t, "", strings.NewReader("small"), 5)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a request finding no room: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "memory budget of 15.6 KB") {
		t.Errorf("503 body %q does not name the budget", body)
	}
	close(s.release)
	if status := <-holder; status != http.StatusOK {
		t.Errorf("the held request: status %d, want 200", status)
	}
	for i := range 5 {
		if resp, body := s.post(t, "", strings.NewReader(strings.Repeat("y", 1000)), 1000); resp.StatusCode != http.StatusOK {
			t.Errorf("sequential request %d: status %d (%s), want 200", i, resp.StatusCode, body)
		}
	}
	if st := s.budget.Stats(); st.InUse != 0 || st.Peak != 16*1000 || st.Refused != 1 {
		t.Errorf("stats %+v: want nothing in use, a peak of the whole budget, one refusal", st)
	}
}

func TestAWaitingRequestIsServedOnceTheRequestAheadOfItAnswers(t *testing.T) {
	s := startBudgetServer(t, 16*1000, 1000, time.Minute)
	first := make(chan int)
	send := func(query string, done chan int) {
		req, _ := http.NewRequest("POST", s.url+"/"+query, strings.NewReader(strings.Repeat("x", 1000)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}
	go send("?hold", first)
	<-s.held
	second := make(chan int)
	go send("", second)
	for s.budget.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	close(s.release)
	if a, b := <-first, <-second; a != http.StatusOK || b != http.StatusOK {
		t.Errorf("statuses %d and %d, want 200 and 200", a, b)
	}
}

func TestABodyLargerThanTheWholeBudgetGets413AndABodilessRequestIsFree(t *testing.T) {
	s := startBudgetServer(t, 16*1000, 10_000, time.Minute)
	resp, body := s.post(t, "", strings.NewReader(strings.Repeat("x", 2000)), 2000)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large for this listener's memory budget") {
		t.Errorf("a body whose charge exceeds the budget: %d %q, want 413 naming the budget", resp.StatusCode, body)
	}
	get, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusOK || s.budget.Stats().Peak != 0 {
		t.Errorf("GET: status %d, peak %d; want 200 and nothing charged", get.StatusCode, s.budget.Stats().Peak)
	}
}

func TestABodyOfUnknownLengthIsChargedAsTheLargestBodyTaken(t *testing.T) {
	s := startBudgetServer(t, 16*4000, 2000, time.Minute)
	// An io.Reader the client cannot measure: sent chunked, ContentLength -1.
	resp, body := s.post(t, "", io.MultiReader(strings.NewReader("abc")), -1)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chunked request: %d %q", resp.StatusCode, body)
	}
	if got := s.budget.Stats().Peak; got != 16*2000 {
		t.Errorf("charged %d for a chunked body, want 16 × max body = 32000", got)
	}
}
