// Package auth holds Junction's security building blocks: bearer-token (JWT) verification
// for the sources, the key tooling behind `junction keys` and `junction token`, local
// operator accounts with password hashes, sessions and a login rate limiter for the
// operator UI, secret expansion for configuration values, and server-side TLS with
// client certificates.
//
// # Choices
//
// JWT: github.com/golang-jwt/jwt/v5 rather than github.com/lestrrat-go/jwx/v3. golang-jwt
// has no dependencies of its own and does one thing: parse a compact JWS, check its
// signature with the key we hand it and validate the registered claims. jwx brings a whole
// JOSE stack (JWE, JWK caches, its own HTTP fetchers) and a dozen transitive modules, none
// of which Junction needs. Key handling stays here, in plain Go, where it can be read in
// one sitting: a JWKS holds RSA and EC public keys (a few dozen lines to parse, with the
// standard library checking that EC points are on their curve), and fetching, caching and
// refreshing it on an unknown key id is ours to control. golang-jwt is also given an
// explicit algorithm allow-list per token (the one that fits the selected key), so "none"
// and HMAC can never reach a signature check against a public key.
//
// Passwords: argon2id (golang.org/x/crypto/argon2) with the OWASP parameters
// (19 MiB, 2 passes, 1 lane), stored in the PHC string format so that the parameters can be
// raised later without invalidating existing hashes. bcrypt hashes ($2a$, $2b$, $2y$, from
// htpasswd -B for instance) are accepted when checking, so an operator can bring one.
//
// # Errors
//
// Every refusal of a bearer token is an *AuthError carrying the HTTP status (401 or 403)
// and a reason meant for the log and the response body. Reasons never contain the token;
// values taken from a token (a key id, an issuer) are quoted and shortened.
package auth
