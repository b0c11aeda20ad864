package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// AuthError is a refused request: Status is 401 (no usable token) or 403 (a valid token
// that lacks a grant); Reason says why, for the log and the response body.
type AuthError struct {
	Status int
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

// unauthorized is a 401 refusal.
func unauthorized(format string, args ...any) *AuthError {
	return &AuthError{Status: http.StatusUnauthorized, Reason: fmt.Sprintf(format, args...)}
}

// forbidden is a 403 refusal.
func forbidden(format string, args ...any) *AuthError {
	return &AuthError{Status: http.StatusForbidden, Reason: fmt.Sprintf(format, args...)}
}

// StatusOf is the HTTP status for err: an AuthError's own, 500 for anything else.
func StatusOf(err error) int {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

// WWWAuthenticate is the WWW-Authenticate header value for a refusal (RFC 6750 §3):
// `Bearer error="invalid_token", error_description="…"` for a 401,
// `Bearer error="insufficient_scope", error_description="…"` for a 403.
func WWWAuthenticate(err error) string {
	var ae *AuthError
	if !errors.As(err, &ae) {
		return `Bearer error="invalid_token"`
	}
	code := "invalid_token"
	if ae.Status == http.StatusForbidden {
		code = "insufficient_scope"
	}
	desc := headerSafe(ae.Reason)
	if desc == "" {
		return fmt.Sprintf(`Bearer error=%q`, code)
	}
	return fmt.Sprintf(`Bearer error="%s", error_description="%s"`, code, desc)
}

// headerSafe keeps the characters RFC 6750 allows in error_description (printable ASCII
// without '"' and '\'): double quotes become single ones, anything else is dropped.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == '\\':
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// quote is %q of a value taken from a token, cut to 64 characters so a hostile value
// cannot flood a log line.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}
