package ui

import (
	"os"
	"sync"
	"time"

	"junction/auth"
)

// The users file is read again when it changes (looked at, at most every two seconds,
// when a request needs the accounts): an account removed or disabled there (disabled:
// true), or whose role or password changed, cannot log in and its sessions end, without
// a restart. A file that does not read leaves the accounts as they were, with a warning.

const usersCheckEvery = 2 * time.Second

// WithUsersFile turns login on with the accounts u read from file, and reads the file
// again when it changes.
func WithUsersFile(file string, u *auth.Users) Option {
	return func(s *Server) {
		s.users = u
		uf := &usersFile{path: file, cur: u, checked: time.Now()}
		if st, err := os.Stat(file); err == nil {
			uf.mtime, uf.size = st.ModTime(), st.Size()
		}
		s.acct.usersFile = uf
	}
}

type usersFile struct {
	path string

	mu          sync.Mutex
	cur         *auth.Users
	checked     time.Time
	mtime       time.Time
	size        int64
	warnedMtime time.Time
}

// accounts are the operator accounts as they stand now.
func (s *Server) accounts() *auth.Users {
	uf := s.acct.usersFile
	if uf == nil {
		return s.users
	}
	uf.mu.Lock()
	defer uf.mu.Unlock()
	now := time.Now()
	if now.Sub(uf.checked) < usersCheckEvery {
		return uf.cur
	}
	uf.checked = now
	st, err := os.Stat(uf.path)
	if err != nil {
		if uf.warnedMtime.IsZero() {
			s.eng.Log.Warn("cannot read the users file again: keeping the accounts read before", "admin.users_file", uf.path, "err", err)
			uf.warnedMtime = now
		}
		return uf.cur
	}
	if st.ModTime().Equal(uf.mtime) && st.Size() == uf.size {
		return uf.cur
	}
	u, err := auth.LoadUsers(uf.path)
	if err != nil {
		if !st.ModTime().Equal(uf.warnedMtime) {
			s.eng.Log.Warn("the users file changed but does not read: keeping the accounts read before", "admin.users_file", uf.path, "err", err)
			uf.warnedMtime = st.ModTime()
		}
		return uf.cur
	}
	uf.cur, uf.mtime, uf.size, uf.warnedMtime = u, st.ModTime(), st.Size(), time.Time{}
	s.eng.Log.Info("read the users file again", "admin.users_file", uf.path, "users", u.Len())
	return u
}
