package auth

import (
	"errors"
	"io"
	"strings"
)

// readLine reads up to the first line end, byte by byte so nothing past it is consumed.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			if b.Len() > MaxPasswordLength {
				return "", errors.New("the password line is longer than the longest password accepted")
			}
			b.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}
