package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/auth"
)

// withStdin runs f with standard input reading input.
func withStdin(t *testing.T, input string, f func() int) func() int {
	return func() int {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(input)
		w.Close()
		old := os.Stdin
		os.Stdin = r
		defer func() { os.Stdin = old; r.Close() }()
		return f()
	}
}

func TestUserAddCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.yaml")
	add := func(input string, args ...string) (int, string, string) {
		return capture(t, withStdin(t, input, func() int { return userCmd(append([]string{"add", "-file", file}, args...)) }))
	}

	code, out, errOut := add("hunter2hunter2\n", "-role", "admin", "alice")
	if code != 0 || out != "added user alice (admin) in "+file+"\n" {
		t.Fatalf("user add: exit %d: %q %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, "hunter2") {
		t.Error("the password was echoed")
	}
	code, out, _ = add("operator-pass", "-role", "operator", "bob") // no final newline
	if code != 0 || !strings.Contains(out, "added user bob (operator)") {
		t.Fatalf("bob: exit %d: %s", code, out)
	}
	code, out, _ = add("new-alice-pass\n", "-role", "viewer", "alice")
	if code != 0 || !strings.Contains(out, "replaced user alice (viewer)") {
		t.Fatalf("replace alice: exit %d: %s", code, out)
	}

	users, err := auth.LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	if role, err := users.Check("alice", "new-alice-pass"); err != nil || role != auth.RoleViewer {
		t.Errorf("alice: %q %v", role, err)
	}
	if _, err := users.Check("alice", "hunter2hunter2"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("alice's old password: %v", err)
	}
	if role, err := users.Check("bob", "operator-pass"); err != nil || role != auth.RoleOperator {
		t.Errorf("bob: %q %v", role, err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %o", st.Mode().Perm())
	}

	for _, c := range []struct {
		input string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"carol"}, 1, "no password on standard input"},
		{"\n", []string{"carol"}, 1, "no password on standard input"},
		{"short\n", []string{"carol"}, 1, "expected at least 8"},
		{"long enough\n", []string{"-role", "root", "carol"}, 2, `role "root"`},
		{"long enough\n", nil, 2, "usage: junction user add"},
		{"long enough\n", []string{"carol", "dave"}, 2, "usage: junction user add"},
	} {
		code, out, errOut := add(c.input, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("user add %q: exit %d, out %q, err %q; expected exit %d and %q", c.args, code, out, errOut, c.code, c.want)
		}
	}
	if code, _, errOut := capture(t, func() int { return userCmd([]string{"delete", "alice"}) }); code != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("user delete: exit %d %s", code, errOut)
	}
	if users, _ := auth.LoadUsers(file); users.Len() != 2 {
		t.Errorf("%d users after the refusals, expected 2", users.Len())
	}
}

// junction user disable, enable and remove change one account of the file, keeping the
// others; a disabled user's password no longer logs in.
func TestUserDisableEnableAndRemoveCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.yaml")
	for _, name := range []string{"alice", "bob"} {
		if _, err := auth.AddUser(file, name, auth.RoleOperator, name+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		return capture(t, func() int { return userCmd(args) })
	}
	check := func(name string) error {
		users, err := auth.LoadUsers(file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = users.Check(name, name+"-password")
		return err
	}
	if code, out, errOut := run("disable", "-file", file, "alice"); code != 0 || out != "disabled user alice in "+file+"\n" {
		t.Fatalf("disable: %d %q %q", code, out, errOut)
	}
	if err := check("alice"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("a disabled alice logs in: %v", err)
	}
	if err := check("bob"); err != nil {
		t.Errorf("bob after alice was disabled: %v", err)
	}
	// A new password does not enable the account.
	if _, err := auth.AddUser(file, "alice", auth.RoleOperator, "alice-password"); err != nil || !errors.Is(check("alice"), auth.ErrBadCredentials) {
		t.Errorf("alice disabled with a new password: %v %v", err, check("alice"))
	}
	if code, _, errOut := run("enable", "-file", file, "alice"); code != 0 || check("alice") != nil {
		t.Errorf("enable: %d %s %v", code, errOut, check("alice"))
	}
	if code, out, _ := run("remove", "-file", file, "bob"); code != 0 || !strings.Contains(out, "removed user bob") {
		t.Fatalf("remove: %d %q", code, out)
	}
	if users, _ := auth.LoadUsers(file); users.Len() != 1 || users.Role("alice") != auth.RoleOperator {
		t.Errorf("after removing bob: %d users", users.Len())
	}
	if code, _, errOut := run("remove", "-file", file, "bob"); code != 1 || !strings.Contains(errOut, `no such user named "bob"`) {
		t.Errorf("removing bob again: %d %q", code, errOut)
	}
	if code, _, errOut := run("disable", "-file", file); code != 2 || !strings.Contains(errOut, "usage: junction user remove|disable|enable") {
		t.Errorf("no name: %d %q", code, errOut)
	}
}
