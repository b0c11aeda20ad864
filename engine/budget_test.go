package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// budgetServer serves limitMemory on loopback in front of a handler that reads the body
// and, when the request says hold, waits until release is closed before answering.
type budgetServer struct {
	url     string
	budget  *budget
	release chan struct{}
	held    chan struct{} // one value per request that reached the handler with hold
}

func startBudgetServer(t *testing.T, capacity, maxBody int64, wait time.Duration) *budgetServer {
	t.Helper()
	s := &budgetServer{budget: newBudget(capacity), release: make(chan struct{}), held: make(chan struct{}, 64)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Query().Has("hold") {
			s.held <- struct{}{}
			<-s.release
		}
		io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(limitMemory(h, s.budget, maxBody, plainRefuse, wait))
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

func (b *budget) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

func TestABudgetNeverGrantsMoreThanItHoldsUnderConcurrentCharges(t *testing.T) {
	b := newBudget(100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	inUse, most := int64(0), int64(0)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(10 + i%5*20) // 10 to 90
			if !b.acquire(context.Background(), n) {
				t.Error("a wait without a deadline ended without the charge")
				return
			}
			mu.Lock()
			inUse += n
			most = max(most, inUse)
			mu.Unlock()
			mu.Lock()
			inUse -= n
			mu.Unlock()
			b.release(n)
		}()
	}
	wg.Wait()
	s := b.stats()
	if most > 100 || s.Peak > 100 {
		t.Errorf("charged %d at once (the budget's own peak %d), more than the 100 it holds", most, s.Peak)
	}
	if s.InUse != 0 || b.waiting() != 0 {
		t.Errorf("after every release: in use %d, %d waiting; want 0 and 0", s.InUse, b.waiting())
	}
}

func TestALargeWaiterAtTheHeadIsNotOvertakenBySmallerOnes(t *testing.T) {
	b := newBudget(100)
	if !b.acquire(context.Background(), 60) {
		t.Fatal("the first charge did not fit an empty budget")
	}
	big, small := make(chan bool), make(chan bool)
	go func() { big <- b.acquire(context.Background(), 80) }()
	for b.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() { small <- b.acquire(context.Background(), 30) }()
	for b.waiting() < 2 { // 30 would fit beside the 60, but waits its turn
		select {
		case <-small:
			t.Fatal("the small charge overtook the big one waiting ahead of it")
		default:
			time.Sleep(time.Millisecond)
		}
	}
	b.release(60)
	if !<-big {
		t.Fatal("the big charge was not granted once there was room")
	}
	if n := b.waiting(); n != 1 {
		t.Fatalf("%d waiting after the big charge was granted, want the small one (80 + 30 > 100)", n)
	}
	b.release(80)
	if !<-small {
		t.Fatal("the small charge was not granted")
	}
}

func TestAWaiterWhoseDeadlinePassesLeavesTheQueueAndLetsSmallerOnesIn(t *testing.T) {
	b := newBudget(100)
	if !b.acquire(context.Background(), 60) {
		t.Fatal("the first charge did not fit an empty budget")
	}
	ctx, cancel := context.WithCancel(context.Background())
	big := make(chan bool)
	go func() { big <- b.acquire(ctx, 80) }()
	for b.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	small := make(chan bool)
	go func() { small <- b.acquire(context.Background(), 30) }()
	for b.waiting() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel() // the big one gives up; the small one behind it fits beside the 60
	if <-big {
		t.Error("a cancelled wait reported the charge granted")
	}
	if !<-small {
		t.Error("the small charge was not granted once the big one left the queue")
	}
	if s := b.stats(); s.InUse != 90 || s.Refused != 1 {
		t.Errorf("in use %d, refused %d; want 90 and 1", s.InUse, s.Refused)
	}
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
	if got := s.budget.stats().InUse; got != 16*1000 {
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
	if st := s.budget.stats(); st.InUse != 0 || st.Peak != 16*1000 || st.Refused != 1 {
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
	for s.budget.waiting() == 0 {
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
	if get.StatusCode != http.StatusOK || s.budget.stats().Peak != 0 {
		t.Errorf("GET: status %d, peak %d; want 200 and nothing charged", get.StatusCode, s.budget.stats().Peak)
	}
}

func TestABodyOfUnknownLengthIsChargedAsTheLargestBodyTaken(t *testing.T) {
	s := startBudgetServer(t, 16*4000, 2000, time.Minute)
	// An io.Reader the client cannot measure: sent chunked, ContentLength -1.
	resp, body := s.post(t, "", io.MultiReader(strings.NewReader("abc")), -1)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chunked request: %d %q", resp.StatusCode, body)
	}
	if got := s.budget.stats().Peak; got != 16*2000 {
		t.Errorf("charged %d for a chunked body, want 16 × max body = 32000", got)
	}
}

func TestTheDefaultBudgetHoldsOneRequestOfTheLargestBody(t *testing.T) {
	if got := (ListenerLimits{}).MemoryBudget(10 << 20); got != DefaultMaxMemory {
		t.Errorf("default budget for 10 MB bodies: %d, want %d", got, DefaultMaxMemory)
	}
	if got := (ListenerLimits{}).MemoryBudget(1 << 30); got != MemoryFactor<<30 {
		t.Errorf("default budget for 1 GB bodies: %d, want %d", got, int64(MemoryFactor)<<30)
	}
	if got := (ListenerLimits{MaxMemory: 1 << 20}).MemoryBudget(1 << 30); got != 1<<20 {
		t.Errorf("a configured budget: %d, want it as given", got)
	}
}
