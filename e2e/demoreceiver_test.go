package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// receiverAddr is the address the bundled routes.yaml (as bundledRoutes rewrote it) sends
// the Care Gateway's FLIS, SEI2 and RKKP deliveries to.
func receiverAddr(t *testing.T, routes string) string {
	t.Helper()
	m := regexp.MustCompile(`http://([0-9.]+:[0-9]+)/flis/fhir/Bundle/`).FindStringSubmatch(routes)
	if m == nil {
		t.Fatal("the bundled routes.yaml no longer sends FLIS deliveries to http://ADDR/flis/fhir/Bundle/: update this test")
	}
	return m[1]
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemoReceiver runs `junction demo-receiver -listen addr` until the test ends.
func startDemoReceiver(t *testing.T, addr string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(junctionBin, "demo-receiver", "-listen", addr)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("demo receiver log:\n%s", out.String())
		}
	})
	waitFor(t, waitDefault, "the demo receiver to answer", func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return out
}

// What `make run` starts: the bundled routes.yaml and the demo receiver. The Care
// Gateway's seed Bundle is delivered to FLIS, SEI2 and RKKP (the demo receiver answers
// 201 to each) rather than retried for ever.
func TestMakeRunDeliversTheCareGatewaySeedBundleToTheDemoReceiver(t *testing.T) {
	routes := bundledRoutes(t)
	log := startDemoReceiver(t, receiverAddr(t, routes))
	gateway := freeAddr(t)
	j := startJunction(t, routes, map[string]string{"GATEWAY": gateway})
	bundle, err := os.ReadFile(filepath.Join(repoRoot, "fhir", "testdata", "seed-care-delivery-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "0c1112c3-77b5-4d85-965c-0c26228ec7ef"
	r, err := send("PUT", "http://"+gateway+"/fhir/Bundle/"+id, http.Header{"Content-Type": {"application/fhir+json"}}, string(bundle))
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("PUT: %+v, %v", r, err)
	}
	msgs := j.Messages(t, "channel=care-gateway")
	if len(msgs) != 1 {
		t.Fatalf("logged = %+v", msgs)
	}
	j.WaitMessage(t, msgs[0].ID, "every destination SENT", func(m APIMessage) bool { return m.Status == "SENT" })
	for _, dest := range []string{"flis", "sei2", "rkkp"} {
		if want := "method=PUT path=/" + dest + "/fhir/Bundle/" + id; !strings.Contains(log.String(), want) {
			t.Errorf("the demo receiver did not log %q", want)
		}
	}
	if !strings.Contains(log.String(), "status=201") {
		t.Errorf("the demo receiver did not answer 201:\n%s", log.String())
	}
}

// The demo receiver answers any other request 200 and says what an HL7v2 body held.
func TestTheDemoReceiverAnswersAPOSTWith200AndLogsWhatItGot(t *testing.T) {
	addr := freeAddr(t)
	log := startDemoReceiver(t, addr)
	r, err := send("POST", "http://"+addr+"/in", http.Header{"Content-Type": {"text/plain"}}, adt("C-1", "Smith"))
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("POST: %+v, %v", r, err)
	}
	waitFor(t, waitDefault, "the demo receiver's log line", func() (bool, string) {
		return strings.Contains(log.String(), "HL7v2 ADT^A01^ADT_A01 C-1"), log.String()
	})
}
