package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestRoleOrder(t *testing.T) {
	for _, c := range []struct {
		role, needed Role
		ok           bool
	}{
		{RoleViewer, RoleViewer, true}, {RoleViewer, RoleOperator, false}, {RoleViewer, RoleAdmin, false},
		{RoleOperator, RoleViewer, true}, {RoleOperator, RoleOperator, true}, {RoleOperator, RoleAdmin, false},
		{RoleAdmin, RoleViewer, true}, {RoleAdmin, RoleAdmin, true},
		{"root", RoleViewer, false}, {RoleAdmin, "root", false}, {"", RoleViewer, false},
	} {
		if got := Allows(c.role, c.needed); got != c.ok {
			t.Errorf("Allows(%q, %q) = %v", c.role, c.needed, got)
		}
	}
	if _, err := ParseRole("superuser"); err == nil || !strings.Contains(err.Error(), `role "superuser", expected viewer, operator or admin`) {
		t.Errorf("ParseRole: %v", err)
	}
}

// Users are added, replaced and checked; an unknown user and a wrong password give the same error.
func TestUsers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.yaml")
	if replaced, err := AddUser(file, "alice", RoleAdmin, "correct horse"); err != nil || replaced {
		t.Fatalf("AddUser alice: %v %v", replaced, err)
	}
	if _, err := AddUser(file, "bob", RoleViewer, "battery staple"); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %o, expected 600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), "correct horse") || !strings.Contains(string(data), "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("users file:\n%s", data)
	}

	users, err := LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	if users.Len() != 2 || users.Role("bob") != RoleViewer {
		t.Errorf("%d users, bob is %q", users.Len(), users.Role("bob"))
	}
	if role, err := users.Check("alice", "correct horse"); err != nil || role != RoleAdmin {
		t.Errorf("alice: %q %v", role, err)
	}
	_, wrong := users.Check("alice", "correct horse!")
	_, unknown := users.Check("mallory", "correct horse")
	_, huge := users.Check("alice", strings.Repeat("x", MaxPasswordLength+1))
	for name, err := range map[string]error{"wrong password": wrong, "unknown user": unknown, "over-long password": huge} {
		if !errors.Is(err, ErrBadCredentials) || err.Error() != "unknown user or wrong password" {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Replacing alice changes her role and password; bob stays.
	if replaced, err := AddUser(file, "alice", RoleOperator, "new password"); err != nil || !replaced {
		t.Fatalf("replace alice: %v %v", replaced, err)
	}
	users, err = LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Check("alice", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after replace: %v", err)
	}
	if role, err := users.Check("alice", "new password"); err != nil || role != RoleOperator {
		t.Errorf("new password: %q %v", role, err)
	}
	if role, err := users.Check("bob", "battery staple"); err != nil || role != RoleViewer {
		t.Errorf("bob after alice's replace: %q %v", role, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestAddUserRefusals(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.yaml")
	for _, c := range []struct {
		name, user string
		role       Role
		password   string
		want       string
	}{
		{"empty password", "alice", RoleAdmin, "", "the password has 0 characters, expected at least 8"},
		{"short password", "alice", RoleAdmin, "abc", "expected at least 8"},
		{"long password", "alice", RoleAdmin, strings.Repeat("p", 2000), "expected at most 1024"},
		{"bad role", "alice", "root", "long enough", `role "root"`},
		{"bad name", "alice smith", RoleAdmin, "long enough", `user name "alice smith"`},
		{"empty name", "", RoleAdmin, "long enough", `user name ""`},
	} {
		if _, err := AddUser(file, c.user, c.role, c.password); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, expected %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a refused AddUser created the file: %v", err)
	}
	// A file that is not a users file is left alone.
	other := filepath.Join(dir, "routes.yaml")
	os.WriteFile(other, []byte("channels: []\n"), 0o644)
	if _, err := AddUser(other, "alice", RoleAdmin, "long enough"); err == nil || !strings.Contains(err.Error(), "field channels not found") {
		t.Errorf("AddUser on routes.yaml: %v", err)
	}
	if data, _ := os.ReadFile(other); string(data) != "channels: []\n" {
		t.Errorf("routes.yaml was changed: %s", data)
	}
}

func TestLoadUsersErrors(t *testing.T) {
	dir := t.TempDir()
	bhash, _ := bcrypt.GenerateFromPassword([]byte("from htpasswd"), bcrypt.MinCost)
	for _, c := range []struct {
		name, content, want string
	}{
		{"duplicate", "users:\n- {name: a, role: admin, hash: \"" + string(bhash) + "\"}\n- {name: a, role: viewer, hash: \"" + string(bhash) + "\"}\n", "user 2 (a): the name appears twice"},
		{"bad role", "users:\n- {name: a, role: god, hash: \"" + string(bhash) + "\"}\n", `user 1 (a): role "god"`},
		{"no hash", "users:\n- {name: a, role: admin}\n", "user 1 (a): no password hash"},
		{"plain text", "users:\n- {name: a, role: admin, hash: secret}\n", "neither argon2id"},
		{"bad argon", "users:\n- {name: a, role: admin, hash: \"$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA\"}\n", "out of range"},
		{"unknown field", "users:\n- {name: a, role: admin, password: x}\n", "field password not found"},
	} {
		f := filepath.Join(dir, c.name+".yaml")
		os.WriteFile(f, []byte(c.content), 0o600)
		if _, err := LoadUsers(f); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: %v, expected %q and the file name", c.name, err, c.want)
		}
	}
	// bcrypt hashes (htpasswd -B) are accepted; an empty file is no users.
	f := filepath.Join(dir, "bcrypt.yaml")
	os.WriteFile(f, []byte("users:\n- {name: carol, role: operator, hash: \""+string(bhash)+"\"}\n"), 0o600)
	users, err := LoadUsers(f)
	if err != nil {
		t.Fatal(err)
	}
	if role, err := users.Check("carol", "from htpasswd"); err != nil || role != RoleOperator {
		t.Errorf("bcrypt user: %q %v", role, err)
	}
	if _, err := users.Check("carol", "wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("bcrypt wrong password: %v", err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o600)
	if users, err := LoadUsers(empty); err != nil || users.Len() != 0 {
		t.Errorf("empty file: %v", err)
	}
	if _, err := LoadUsers(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "users file") {
		t.Errorf("missing file: %v", err)
	}
}
