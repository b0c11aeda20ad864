package auth

import (
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// ErrNoSuchUser is the answer to removing, disabling or enabling a user the users file
// does not hold.
var ErrNoSuchUser = errors.New("no such user")

// RemoveUser removes a user from a users file. A running Junction reads the file again:
// the user's sessions end and they cannot log in.
func RemoveUser(file, name string) error {
	return editUsers(file, name, func(doc *usersDoc, i int) {
		doc.Users = append(doc.Users[:i], doc.Users[i+1:]...)
	})
}

// SetDisabled disables (or enables again) a user of a users file. A disabled user cannot
// log in and their sessions end; the account is kept.
func SetDisabled(file, name string, disabled bool) error {
	return editUsers(file, name, func(doc *usersDoc, i int) { doc.Users[i].Disabled = disabled })
}

// editUsers changes the entry of user name in a users file, writing the whole file anew,
// atomically, with mode 0600.
func editUsers(file, name string, change func(doc *usersDoc, i int)) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("users file: %v", err)
	}
	if _, err := parseUsers(file, data); err != nil {
		return err
	}
	var doc usersDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("users file %s: %v", file, err)
	}
	at := -1
	for i := range doc.Users {
		if doc.Users[i].Name == name {
			at = i
		}
	}
	if at < 0 {
		return fmt.Errorf("users file %s: %w named %q", file, ErrNoSuchUser, name)
	}
	change(&doc, at)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	out = append([]byte("# Junction operator accounts: written by `junction user`; hashes are argon2id.\n"), out...)
	return writeFileAtomic(file, out, 0o600)
}
