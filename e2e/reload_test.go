package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logHas waits until the junction's log holds text n times.
func (j *Junction) logHas(t *testing.T, text string, n int) {
	t.Helper()
	waitFor(t, waitDefault, "the log to say "+text, func() (bool, string) {
		b, _ := os.ReadFile(j.logPath)
		return strings.Count(string(b), text) >= n, tail(string(b), 300)
	})
}

// archived is the archive's file of the message r answered, once sent.
func archived(t *testing.T, j *Junction, r Reply) string {
	t.Helper()
	file := filepath.Join(j.Dir, "out", "ed-adt", "ed-adt-"+strconv.FormatInt(r.MessageID(), 10)+".hl7")
	var got []byte
	waitFor(t, waitDefault, "the message in "+file, func() (bool, string) {
		var err error
		got, err = os.ReadFile(file)
		return err == nil, fmt.Sprint(err)
	})
	return string(got)
}

func TestSIGHUPAndJunctionReloadSwapTheTransformAndABadFileLeavesTheRunningOne(t *testing.T) {
	j := startJunction(t, edRoutes, nil)
	msg := "MSH|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||ADT^A01|R1|P|2.4\rPID|1||1234^^^NHS^NH||Fernández^José||19800101|M\r"
	send := func() Reply {
		r := postHL7(t, j.IngestURL(), "emergency-care", msg)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		return r
	}
	if got := archived(t, j, send()); !strings.Contains(got, "FERNÁNDEZ^José") {
		t.Fatalf("before the reload: %q", got)
	}

	// `junction reload` through the admin API.
	text, _ := os.ReadFile(j.Config)
	edited := strings.Replace(string(text), `upper(get("PID-5.1"))`, `lower(get("PID-5.1"))`, 1)
	os.WriteFile(j.Config, []byte(edited), 0o644)
	out, err := exec.Command(junctionBin, "reload", "-admin", "http://"+j.Admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 added, 0 removed, 1 changed, 0 unchanged") ||
		!strings.Contains(string(out), `channel ed-adt: transform[0]: "set(\"PID-5.1\", upper(get(\"PID-5.1\")))" → "set(\"PID-5.1\", lower(get(\"PID-5.1\")))"`) {
		t.Fatalf("junction reload: %v\n%s", err, out)
	}
	if got := archived(t, j, send()); !strings.Contains(got, "fernández^José") {
		t.Fatalf("after junction reload: %q", got)
	}

	// A bad file and SIGHUP: refused with FILE:LINE in the log; the running config stays.
	os.WriteFile(j.Config, []byte(strings.Replace(edited, "type: file", "type: fax", 1)), 0o644)
	j.mu.Lock()
	j.cmd.Process.Signal(syscall.SIGHUP)
	j.mu.Unlock()
	j.logHas(t, `reload refused: the running configuration stays`, 1)
	j.logHas(t, `routes.yaml:20: channels[0].destinations[0].type: unknown destination type \"fax\"`, 1)
	if got := archived(t, j, send()); !strings.Contains(got, "fernández^José") {
		t.Fatalf("after a refused reload: %q", got)
	}

	// SIGHUP with the first file again: applied.
	os.WriteFile(j.Config, text, 0o644)
	j.mu.Lock()
	j.cmd.Process.Signal(syscall.SIGHUP)
	j.mu.Unlock()
	j.logHas(t, "configuration reloaded", 2) // junction reload's, then this one
	if got := archived(t, j, send()); !strings.Contains(got, "FERNÁNDEZ^José") {
		t.Fatalf("after SIGHUP: %q", got)
	}
	if !j.Running() {
		t.Fatal("junction exited")
	}
}

// Reloading the bundled configuration unchanged keeps every listener answering: $ingest,
// the Care Gateway, MLLP, the FHIR store's reads.
func TestReloadingTheBundledConfigurationUnchangedKeepsEveryListenerServing(t *testing.T) {
	gateway := freeAddr(t)
	j := startJunction(t, bundledRoutes(t), map[string]string{"GATEWAY": gateway})
	j.mu.Lock()
	j.cmd.Process.Signal(syscall.SIGHUP)
	j.mu.Unlock()
	j.logHas(t, "configuration reloaded", 1)
	time.Sleep(100 * time.Millisecond)
	b, _ := os.ReadFile(j.logPath)
	if strings.Contains(string(b), "reload: ") || strings.Contains(string(b), "level=ERROR") {
		t.Fatalf("an unchanged reload logged changes or errors:\n%s", tail(string(b), 3000))
	}
	r := postHL7(t, j.IngestURL(), "emergency-care", "MSH|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||ADT^A01|R2|P|2.4\rPID|1||1^^^NHS^NH||Doe^Jane||19800101|F\r")
	if r.Status != http.StatusOK {
		t.Fatalf("$ingest after the reload: %d %s", r.Status, r.Body)
	}
	resp, err := http.Get("http://" + gateway + "/fhir/metadata")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the gateway's metadata after the reload: %d", resp.StatusCode)
	}
}
