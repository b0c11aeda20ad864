package auth

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxSecretFile bounds a ${file:…} secret.
const maxSecretFile = 1 << 20

// ExpandSecrets replaces ${NAME} with the environment variable NAME (an error names it
// when unset), ${NAME:-default} with NAME or, when NAME is unset or empty, default, and
// ${file:PATH} with the content of the file at PATH, spaces and line ends trimmed. $${
// stands for a literal ${; any other $ is kept. A value brought in is not expanded
// again. Errors name the reference, never a value. It is the one expander of
// routes.yaml's references (the engine applies it to every value but scripts).
func ExpandSecrets(s string) (string, error) {
	return ExpandSecretsIn(s, "")
}

// ExpandSecretsIn is ExpandSecrets with relative ${file:…} paths read from baseDir (the
// configuration file's directory).
func ExpandSecretsIn(s, baseDir string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${: expected ${NAME}, ${NAME:-default} or ${file:PATH} (write $${ for a literal ${)")
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		val, err := resolveSecret(ref, baseDir)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
	}
}

func resolveSecret(ref, baseDir string) (string, error) {
	if path, ok := strings.CutPrefix(ref, "file:"); ok {
		if path == "" {
			return "", fmt.Errorf("${file:}: no file named, expected ${file:PATH}")
		}
		path = inDir(baseDir, path)
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("${file:%s}: %v", ref[5:], err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return "", fmt.Errorf("${file:%s}: reading %s: %v", ref[5:], path, err)
		}
		if len(data) > maxSecretFile {
			return "", fmt.Errorf("${file:%s}: %s is larger than %d bytes, expected a secret", ref[5:], path, maxSecretFile)
		}
		return strings.TrimSpace(string(data)), nil
	}
	name, def, hasDef := strings.Cut(ref, ":-")
	if !envName.MatchString(name) {
		return "", fmt.Errorf("${%s}: expected ${NAME}, ${NAME:-default} or ${file:PATH} (NAME: letters, digits, _; write $${ for a literal ${)", ref)
	}
	val, ok := os.LookupEnv(name)
	switch {
	case hasDef && val == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("${%s}: environment variable %s is not set (give a default: ${%s:-value})", name, name, name)
	}
	return val, nil
}
