package engine

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestDeadLocalHolder(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	ended := cmd.Process.Pid
	parent := os.Getppid()
	cases := []struct {
		holder string
		dead   bool
	}{
		{host + "/" + strconv.Itoa(ended) + "/ab12", true},
		{host + "/" + strconv.Itoa(parent) + "/ab12", false}, // alive
		{host + "/" + strconv.Itoa(os.Getpid()) + "/ab12", false},
		{"other-host/" + strconv.Itoa(ended) + "/ab12", false}, // cannot tell: wait for expiry
		{"garbage", false},
		{"", false},
	}
	for _, c := range cases {
		if got := deadLocalHolder(c.holder); got != c.dead {
			t.Errorf("deadLocalHolder(%q) = %v, want %v", c.holder, got, c.dead)
		}
	}
	if id := newNodeID(); deadLocalHolder(id) {
		t.Errorf("own id %q taken for dead", id)
	}
}
