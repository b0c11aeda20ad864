package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `junction send` posts files as a sender would and prints each answer.
func TestSendCommand(t *testing.T) {
	j := startJunction(t, edRoutes, nil)
	adt := filepath.Join(repoRoot, "hl7", "testdata", "adt_a01.hl7")
	siu := filepath.Join(t.TempDir(), "siu.hl7")
	os.WriteFile(siu, []byte("MSH|^~\\&|A|B|C|D|20240213144932||SIU^S12|S1|P|2.4\rPID|1||1\r"), 0o644)

	out, err := exec.Command(junctionBin, "send", "-url", j.IngestURL(), adt, siu).CombinedOutput()
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Count(text, "200 OK") != 2 || strings.Count(text, "\nMSA|AA|") != 2 {
		t.Fatalf("want two AA answers:\n%s", text)
	}
	if n := len(j.Messages(t, "channel=ed-adt")); n != 2 {
		t.Fatalf("%d messages logged, want 2", n)
	}

	// A refused message makes the command fail, and says why.
	cmd := exec.Command(junctionBin, "send", "-url", j.IngestURL(), "-domain", "maternity", adt)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "404 Not Found") || !strings.Contains(string(out), "MSA|AR|") {
		t.Fatalf("send to an unknown domain: err %v\n%s", err, out)
	}
}
