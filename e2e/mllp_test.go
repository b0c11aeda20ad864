package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/mllp"
)

// mllpChannel is a channel taking ADT and ORU over MLLP on {{MLLP}} and archiving them.
const mllpChannel = `  - name: lab-mllp
    source:
      type: mllp
      listen: {{MLLP}}
      match: { message_type: [ADT, ORU] }
      auth: none
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out/lab-mllp }
`

// `junction send -mllp` sends each message of each file as its own frame over one
// connection (a batch file as one frame) and prints each ACK; it exits 1 when an answer
// is not AA.
func TestMLLPSendCommandSendsToARunningJunction(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	j := startJunction(t, routesWith(mllpChannel), map[string]string{"MLLP": addr})
	two := filepath.Join(t.TempDir(), "two.hl7")
	// Two messages in one file, LF line ends as editors write them.
	os.WriteFile(two, []byte(strings.ReplaceAll(adt("E2E-MLLP-2A", "Smith")+adt("E2E-MLLP-2B", "Jones"), "\r", "\n")), 0o644)
	files := []string{
		filepath.Join(repoRoot, "hl7", "testdata", "adt_a01.hl7"),
		filepath.Join(repoRoot, "hl7", "testdata", "charset", "adt_a01_8859-1.hl7"),
		filepath.Join(repoRoot, "hl7", "testdata", "batch", "lab_results_file.hl7"),
		two,
	}
	out, err := exec.Command(junctionBin, append([]string{"send", "-mllp", addr}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	text := string(out)
	// adt_a01, its Latin-1 twin, the batch file (two results: one frame, answered by a
	// batch of two ACKs) and the two messages of two.hl7 (two frames).
	if n := strings.Count(text, "\nMSA|AA|"); n != 6 || strings.Count(text, "== ") != 5 || !strings.Contains(text, "\nBHS|") {
		t.Fatalf("want 6 AAs in 5 answers, one a batch:\n%s", text)
	}
	if !strings.Contains(text, "two.hl7 [2/2]: AA\n") {
		t.Errorf("want the second message of two.hl7 answered on its own:\n%s", text)
	}
	ms := j.AllMessages(t, "channel=lab-mllp")
	if len(ms) != 6 {
		t.Errorf("%d messages logged, want 6", len(ms))
	}
	// The Latin-1 file is routed as the same text as its UTF-8 twin; its raw content is
	// the bytes received (the API shows the Latin-1 letters as U+FFFD).
	charsets := map[string]bool{}
	for _, m := range ms {
		if m.ControlID != "MSG-20240213-000123" {
			continue
		}
		d := j.Message(t, m.ID)
		charsets[d.Meta["charset"]] = true
		routed := d.Raw
		if d.Transformed != nil {
			routed = *d.Transformed
		}
		if !strings.Contains(routed, "|FERNÁNDEZ^María^José^^Ms|") {
			t.Errorf("message %d (%s) content routed %.300q: want FERNÁNDEZ^María^José in UTF-8", m.ID, d.Meta["charset"], routed)
		}
		if d.Meta["charset"] == "ISO-8859-1" && !strings.Contains(d.Raw, "|FERN\uFFFDNDEZ^Mar\uFFFDa^Jos\uFFFD^^Ms|") {
			t.Errorf("message %d raw %.300q: want the Latin-1 bytes as received", m.ID, d.Raw)
		}
	}
	if !charsets["UTF-8"] || !charsets["ISO-8859-1"] {
		t.Errorf("charsets %v: want UTF-8 and ISO-8859-1", charsets)
	}

	siuFile := filepath.Join(t.TempDir(), "siu.hl7")
	os.WriteFile(siuFile, []byte(siu("E2E-MLLP-SIU")), 0o644)
	out, err = exec.Command(junctionBin, "send", "-mllp", addr, siuFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "siu.hl7: AR\n") || !strings.Contains(string(out), "matches no channel") {
		t.Fatalf("a message no channel takes: err %v\n%s", err, out)
	}
}

// Story 8 over MLLP: junction is killed (-9) while senders are sending over MLLP.
// Whatever was answered AA is in the store after a restart.
func TestMLLPKillDuringLoadKeepsEveryAcknowledgedMessage(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	j := startJunction(t, routesWith(mllpChannel), map[string]string{"MLLP": addr})
	const senders = 4
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	start := time.Now()
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mllp.NewClient(addr, nil, mllp.ClientOptions{AckTimeout: 10 * time.Second, DialTimeout: time.Second})
			defer c.Close()
			for i := 0; time.Since(start) < 3*time.Second; i++ {
				cid := fmt.Sprintf("E2E-MK%d-%05d", g, i)
				ack, err := c.Send(context.Background(), []byte(adt(cid, "Smith")))
				if err != nil {
					time.Sleep(10 * time.Millisecond) // killed, or not back yet: keep the load on
					continue
				}
				if strings.Contains(string(ack), "\rMSA|AA|"+cid+"|") {
					mu.Lock()
					acked = append(acked, cid)
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, waitDefault, "half the load time and some acknowledged messages", func() (bool, string) {
		return count() >= 20 && time.Since(start) > 1500*time.Millisecond, fmt.Sprint(count())
	})
	j.Kill()
	wg.Wait()
	if count() == 0 {
		t.Fatal("nothing was acknowledged before the kill: the test proves nothing")
	}
	j.Start()
	stored := map[string]bool{}
	for _, m := range j.AllMessages(t, "channel=lab-mllp") {
		stored[m.ControlID] = true
	}
	var lost []string
	mu.Lock()
	for _, c := range acked {
		if !stored[c] {
			lost = append(lost, c)
		}
	}
	mu.Unlock()
	sort.Strings(lost)
	if len(lost) > 0 {
		t.Errorf("%d messages answered AA are not in the store: %v", len(lost), firstN(lost, 20))
	}
	t.Logf("%d messages answered AA, %d stored", count(), len(stored))
}

// The bundled routes.yaml's MLLP channel takes an ADT and archives it.
func TestMLLPBundledChannelTakesADT(t *testing.T) {
	routes := bundledRoutes(t)
	m := regexp.MustCompile(`type: mllp\n\s+listen: (\S+)`).FindStringSubmatch(routes)
	if m == nil {
		t.Fatal("the bundled routes.yaml has no MLLP listener")
	}
	j := startJunction(t, routes, map[string]string{"GATEWAY": freeAddr(t)})
	c := mllp.NewClient(m[1], nil, mllp.ClientOptions{})
	defer c.Close()
	ack, err := c.Send(context.Background(), []byte(adt("E2E-BUNDLED-MLLP", "Smith")))
	if err != nil || !strings.Contains(string(ack), "\rMSA|AA|E2E-BUNDLED-MLLP|") {
		t.Fatalf("answer %q (%v), want AA", ack, err)
	}
	// Sent by the application and facility the message was sent to (JUNCTION/RX1).
	if !strings.HasPrefix(string(ack), "MSH|^~\\&|JUNCTION|RX1|PAS|RX1|") {
		t.Errorf("ACK header %q: want JUNCTION/RX1 answering PAS/RX1", ack)
	}
	ms := j.AllMessages(t, "channel=lab-mllp")
	if len(ms) != 1 {
		t.Fatalf("%d messages in lab-mllp, want 1", len(ms))
	}
	j.WaitMessage(t, ms[0].ID, "archived", func(m APIMessage) bool { return m.Status == "SENT" })
}
