package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memoryRoutes is one HL7v2 channel taking bodies up to 10 MB on a listener with the
// memory budget {{BUDGET}}.
const memoryRoutes = `admin:
  listen: {{ADMIN}}
store:
  path: {{DIR}}/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
      max_body: 10MB
      limits: { max_memory: {{BUDGET}} }
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out }
`

// hugeADT is an ADT whose NTE-3 alone is 9 MB.
func hugeADT(controlID string) string {
	return adt(controlID, "Smith") + "NTE|1||" + strings.Repeat("x", 9<<20) + "\r"
}

// peakRSS is the process's high-water resident set size (VmHWM) in bytes.
func (j *Junction) peakRSS(t testing.TB) int64 {
	t.Helper()
	j.mu.Lock()
	pid := j.cmd.Process.Pid
	j.mu.Unlock()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here to read the peak resident size from: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/PID/status")
	return 0
}

// sendUntilAccepted posts msg as a sender does: again after Retry-After while the answer
// is 503 (an AE ACK). It returns how many 503s it got on the way.
func sendUntilAccepted(url, msg string) (retries int, err error) {
	for range 120 {
		r, err := send(http.MethodPost, url, ingestHeaders("emergency-care", "r0d", "Hl7v2"), msg)
		if err != nil {
			return retries, err
		}
		switch {
		case r.Status == http.StatusOK:
			return retries, nil
		case r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "\rMSA|AE|"):
			return retries, fmt.Errorf("status %d: %.300q; want 200, or 503 with an AE ACK", r.Status, r.Body)
		}
		after, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || after <= 0 {
			return retries, fmt.Errorf("503 without a usable Retry-After (%q)", r.Header.Get("Retry-After"))
		}
		retries++
		time.Sleep(time.Duration(after) * time.Second)
	}
	return retries, fmt.Errorf("still refused after %d tries", retries)
}

// Eight senders post a 9 MB HL7v2 message each at once to a listener whose memory budget
// holds one of them (each is charged 16 × 9 MB): the ones finding no room get 503 and
// send again, all are accepted, and the process's peak resident size stays within what
// the budget allows: the heap may grow to 4 × the live data (serve runs with GOGC=300),
// plus an allowance for the static heap and SQLite's page caches.
func TestEightConcurrentNineMegabyteMessagesStayWithinTheMemoryBudget(t *testing.T) {
	t.Parallel()
	const budget, allowance = 160 << 20, 384 << 20
	j := startJunction(t, memoryRoutes, map[string]string{"BUDGET": "160MB"})
	var wg sync.WaitGroup
	retries := make([]int, 8)
	for i := range retries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := sendUntilAccepted(j.IngestURL(), hugeADT(fmt.Sprintf("HUGE-%d", i)))
			retries[i] = n
			if err != nil {
				t.Errorf("message %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if !j.Running() {
		t.Fatal("junction is gone")
	}
	peak := j.peakRSS(t)
	t.Logf("peak resident size %d MB; 503s per sender %v", peak>>20, retries)
	if limit := int64(4*budget + allowance); peak > limit {
		t.Errorf("peak resident size %d MB, over the %d MB a 160 MB budget allows", peak>>20, limit>>20)
	}
	if ms := j.Messages(t, "channel=ed-adt"); len(ms) != len(retries) {
		t.Errorf("%d messages stored, want %d", len(ms), len(retries))
	}
}
