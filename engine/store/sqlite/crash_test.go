package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "JUNCTION_SQLITE_CRASH_DB"

// TestCrashKill9 runs a child process that accepts messages from many goroutines and
// prints the id of each one acknowledged, then SIGKILLs itself mid-stream. Every printed id
// must be in the database afterwards.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "acked "); ok {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("bad line %q", line)
			}
			ids = append(ids, n)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
	if len(ids) < 100 {
		t.Fatalf("only %d acknowledged before the kill", len(ids))
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range ids {
		if _, err := s.GetMessage(context.Background(), id); err != nil {
			t.Fatalf("acknowledged message %d lost: %v", id, err)
		}
	}
	var stored int
	s.rdb.QueryRow("SELECT count(*) FROM messages").Scan(&stored)
	t.Logf("%d acknowledged, %d stored", len(ids), stored)
	checkCounters(t, s)
}

// TestCrashChild is the child half of TestCrashKill9; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashKill9")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	acked := 0
	w := bufio.NewWriter(os.Stdout)
	for g := 0; g < 32; g++ {
		go func() {
			for {
				id, err := s.Accept(context.Background(), newMsg("adt", "epr", "fhir"))
				if err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintf(w, "acked %d\n", id)
				w.Flush() // the line reaches the parent only after the commit returned
				acked++
				if acked == 2000 {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Minute)
	os.Exit(3)
}
