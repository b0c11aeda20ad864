//go:build !linux

package auth

import "os"

// ReadPassword reads one line from f, its line end removed. (On Linux, echo is switched off
// on a terminal; elsewhere pipe the password in.)
func ReadPassword(f *os.File) (string, error) {
	return readLine(f)
}
