package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// Stamp fingerprints a user's account as it stands: name, role and password hash. A
// session remembers the stamp of its login; when the account is removed, disabled, or
// its role or password changes, the stamp differs (or is "") and the session ends.
func (u *Users) Stamp(name string) string {
	e, ok := u.byName[name]
	if !ok || e.Disabled {
		return ""
	}
	sum := sha256.Sum256([]byte(e.Name + "\x00" + string(e.Role) + "\x00" + e.Hash))
	return hex.EncodeToString(sum[:12])
}
