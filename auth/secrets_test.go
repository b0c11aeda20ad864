package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandSecrets(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db.pass"), []byte("  s3cret-from-file\n"), 0o600)
	t.Setenv("JUNCTION_TEST_SECRET", "s3cret-from-env")
	t.Setenv("JUNCTION_TEST_EMPTY", "")
	t.Setenv("JUNCTION_TEST_NESTED", "${JUNCTION_TEST_SECRET}")

	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"${JUNCTION_TEST_SECRET}", "s3cret-from-env"},
		{"user:${JUNCTION_TEST_SECRET}@host", "user:s3cret-from-env@host"},
		{"[${JUNCTION_TEST_EMPTY}]", "[]"},
		{"${file:db.pass}", "s3cret-from-file"},
		{"${file:" + filepath.Join(dir, "db.pass") + "}", "s3cret-from-file"},
		{"pa$$word $x $", "pa$$word $x $"},
		{"$${JUNCTION_TEST_SECRET}", "${JUNCTION_TEST_SECRET}"},
		{"${JUNCTION_TEST_NESTED}", "${JUNCTION_TEST_SECRET}"}, // not expanded twice
	} {
		got, err := ExpandSecretsIn(c.in, dir)
		if err != nil || got != c.want {
			t.Errorf("ExpandSecretsIn(%q) = %q %v, expected %q", c.in, got, err, c.want)
		}
	}
	os.Unsetenv("JUNCTION_TEST_UNSET")
	for _, c := range []struct{ in, want string }{
		{"${JUNCTION_TEST_UNSET}", "${JUNCTION_TEST_UNSET}: environment variable JUNCTION_TEST_UNSET is not set"},
		{"${file:missing.pass}", "${file:missing.pass}: open " + filepath.Join(dir, "missing.pass") + ": no such file"},
		{"${file:}", "no file named"},
		{"${not a name}", "expected ${NAME}"},
		{"abc${JUNCTION_TEST_SECRET", "unterminated ${"},
	} {
		got, err := ExpandSecretsIn(c.in, dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ExpandSecretsIn(%q) = %q %v, expected an error with %q", c.in, got, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
	// Without a base directory, relative files are read from the working directory.
	if _, err := ExpandSecrets("${file:db.pass}"); err == nil {
		t.Error("ExpandSecrets read a file relative to the test's temp dir")
	}
}
