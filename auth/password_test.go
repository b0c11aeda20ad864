package auth

import (
	"os"
	"strings"
	"testing"
)

// ReadPassword takes one line from a pipe (as `echo pw | junction user add` gives it) and
// nothing past it.
func TestReadPassword(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString(" with spaces \r\nsecond line\n")
	w.Close()
	pw, err := ReadPassword(r)
	if err != nil || pw != " with spaces " {
		t.Errorf("first line %q %v", pw, err)
	}
	rest, err := ReadPassword(r)
	if err != nil || rest != "second line" {
		t.Errorf("second line %q %v", rest, err)
	}
	if last, err := ReadPassword(r); err != nil || last != "" {
		t.Errorf("at the end: %q %v", last, err)
	}
	if _, err := readLine(strings.NewReader(strings.Repeat("x", 5000))); err == nil {
		t.Error("an endless line was read")
	}
}
