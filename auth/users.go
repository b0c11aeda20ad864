package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Role is what an operator may do in the UI and API.
type Role string

const (
	RoleViewer   Role = "viewer"   // reads dashboards and messages
	RoleOperator Role = "operator" // also resends, reprocesses, pauses and resumes
	RoleAdmin    Role = "admin"    // everything
)

var roleRank = map[Role]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	if _, ok := roleRank[Role(s)]; !ok {
		return "", fmt.Errorf("role %q, expected viewer, operator or admin", s)
	}
	return Role(s), nil
}

// Allows says whether a user with role may do what needs the role needed:
// viewer < operator < admin. An unknown role allows nothing.
func Allows(role, needed Role) bool {
	have, ok1 := roleRank[role]
	need, ok2 := roleRank[needed]
	return ok1 && ok2 && have >= need
}

// User is one entry of the users file.
type User struct {
	Name string `yaml:"name"`
	Role Role   `yaml:"role"`
	Hash string `yaml:"hash"`
	// Disabled: the account cannot log in and its sessions end (set it in the file).
	Disabled bool `yaml:"disabled,omitempty"`
}

type usersDoc struct {
	Users []User `yaml:"users"`
}

// Users are the local operator accounts of a users file.
type Users struct {
	byName map[string]User
}

// ErrBadCredentials is the one answer to an unknown user and a wrong password alike.
var ErrBadCredentials = errors.New("unknown user or wrong password")

// MinPasswordLength and MaxPasswordLength bound a password, in characters and bytes.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// checkUserName refuses names that would be awkward in a log line or a URL.
func checkUserName(name string) error {
	if !userNamePattern.MatchString(name) {
		return fmt.Errorf("user name %q: expected 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// LoadUsers reads a users file (`users: [{name, role, hash}]`), checking every entry.
func LoadUsers(file string) (*Users, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("users file: %v", err)
	}
	return parseUsers(file, data)
}

func parseUsers(file string, data []byte) (*Users, error) {
	var doc usersDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) { // an empty file is no users
		return nil, fmt.Errorf("users file %s: %v, expected users: [{name, role, hash}]", file, err)
	}
	u := &Users{byName: map[string]User{}}
	for i, e := range doc.Users {
		where := fmt.Sprintf("users file %s: user %d", file, i+1)
		if err := checkUserName(e.Name); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		where += " (" + e.Name + ")"
		if _, err := ParseRole(string(e.Role)); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if err := checkHash(e.Hash); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if _, dup := u.byName[e.Name]; dup {
			return nil, fmt.Errorf("%s: the name appears twice", where)
		}
		u.byName[e.Name] = e
	}
	return u, nil
}

// Len is the number of users.
func (u *Users) Len() int { return len(u.byName) }

// Role is a user's role, "" when there is no such user.
func (u *Users) Role(name string) Role { return u.byName[name].Role }

// Check is the user's role when password is theirs, else ErrBadCredentials. An unknown user
// costs a hash check all the same, so timing does not tell which names exist.
func (u *Users) Check(name, password string) (Role, error) {
	e, ok := u.byName[name]
	if !ok || e.Disabled || len(password) > MaxPasswordLength {
		checkPassword(dummyHash(), password)
		return "", ErrBadCredentials
	}
	match, err := checkPassword(e.Hash, password)
	if err != nil || !match {
		return "", ErrBadCredentials
	}
	return e.Role, nil
}

// AddUser creates or replaces a user in a users file (created when missing), writing the
// whole file anew, atomically, with mode 0600. It says whether the user existed.
func AddUser(file, name string, role Role, password string) (replaced bool, err error) {
	if err := checkUserName(name); err != nil {
		return false, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return false, err
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return false, fmt.Errorf("the password has %d characters, expected at least %d", n, MinPasswordLength)
	}
	if len(password) > MaxPasswordLength {
		return false, fmt.Errorf("the password has %d bytes, expected at most %d", len(password), MaxPasswordLength)
	}
	var doc usersDoc
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		// Refuse to rewrite a file that does not read as a users file: it may be something else.
		if _, err := parseUsers(file, data); err != nil {
			return false, err
		}
		yaml.Unmarshal(data, &doc)
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("users file: %v", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, err
	}
	entry := User{Name: name, Role: role, Hash: hash}
	for i := range doc.Users {
		if doc.Users[i].Name == name {
			entry.Disabled = doc.Users[i].Disabled // a new password does not enable it
			doc.Users[i], replaced = entry, true
		}
	}
	if !replaced {
		doc.Users = append(doc.Users, entry)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return false, err
	}
	out = append([]byte("# Junction operator accounts: written by `junction user add`; hashes are argon2id.\n"), out...)
	return replaced, writeFileAtomic(file, out, 0o600)
}

// argon2id parameters (OWASP): 19 MiB, 2 passes, 1 lane, 16-byte salt, 32-byte hash.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// HashPassword is the argon2id hash of a password in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("drawing a salt: %v", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseArgon2id(hash string) (*argonHash, error) {
	parts := strings.Split(hash, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, hash
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New("argon2id hash is not $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, fmt.Errorf("argon2id hash version %q, expected v=%d", parts[2], argon2.Version)
	}
	h := &argonHash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return nil, fmt.Errorf("argon2id parameters %q, expected m=M,t=T,p=P", parts[3])
	}
	if h.threads < 1 || h.threads > 16 || h.memory < 8*uint32(h.threads) || h.memory > 1<<20 || h.time < 1 || h.time > 16 {
		return nil, fmt.Errorf("argon2id parameters %q out of range (m up to 1 GiB, t and p 1 to 16)", parts[3])
	}
	var err1, err2 error
	h.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	h.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 {
		return nil, errors.New("argon2id salt or hash is not unpadded base64 of at least 8 and 16 bytes")
	}
	return h, nil
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// checkHash says whether a stored hash can be checked against, without computing anything.
func checkHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	case isBcrypt(hash):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("bcrypt hash: %v", err)
		}
		return nil
	case hash == "":
		return errors.New("no password hash")
	}
	return errors.New("password hash is neither argon2id ($argon2id$…) nor bcrypt ($2b$…)")
}

// checkPassword says whether password matches hash (argon2id, or bcrypt $2a$/$2b$/$2y$); an
// error says the hash itself is unusable.
func checkPassword(hash, password string) (bool, error) {
	if err := checkHash(hash); err != nil {
		return false, err
	}
	if isBcrypt(hash) {
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	h, _ := parseArgon2id(hash)
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

var (
	dummyOnce sync.Once
	dummy     string
)

// dummyHash is a hash of a random password, checked against for unknown users.
func dummyHash() string {
	dummyOnce.Do(func() {
		pw := make([]byte, 24)
		rand.Read(pw)
		dummy, _ = HashPassword(string(pw))
	})
	return dummy
}
