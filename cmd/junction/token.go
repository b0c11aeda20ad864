package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"junction/auth"
)

// tokenCmd prints a signed bearer token, so local development and tests need no identity server.
func tokenCmd(args []string) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	key := fs.String("key", "", "private key file (PEM), e.g. DIR/private.pem from junction keys")
	iss := fs.String("iss", "", "issuer (iss), as the source's auth.issuer")
	aud := fs.String("aud", "", "audience (aud), as the source's auth.audience")
	sub := fs.String("sub", "", "subject (sub): the client")
	orgs := fs.String("org", "", "organisation codes granted, comma-separated")
	cats := fs.String("category", "", "categories (source-domains) granted, comma-separated")
	ttl := fs.Duration("ttl", 5*time.Minute, "lifetime; negative for a token that has already expired")
	kid := fs.String("kid", "", "key id (default: the key's RFC 7638 thumbprint, as in jwks.json)")
	orgClaim := fs.String("org-claim", "org", "claim name for the organisations")
	catClaim := fs.String("category-claim", "category", "claim name for the categories")
	roles := fs.String("role", "", "roles granted (claim roles), comma-separated, e.g. fhir-reader to read stored data")
	scope := fs.String("scope", "", "OAuth2 scopes (claim scope), space-separated, e.g. system/*.read")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction token -key FILE -iss ISS -aud AUD -sub CLIENT -org CODE[,CODE] -category DOMAIN[,DOMAIN] [-role fhir-reader] [-scope 'system/*.read'] [-ttl 5m] [-kid K]")
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "junction token:", err)
		}
		fs.Usage()
		return 2
	}
	var missing []string
	for _, f := range []struct {
		name string
		val  *string
	}{{"-key", key}, {"-iss", iss}, {"-aud", aud}, {"-sub", sub}} {
		if *f.val == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 || fs.NArg() > 0 {
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "junction token: %s required\n", strings.Join(missing, ", "))
		}
		fs.Usage()
		return 2
	}
	if *ttl == 0 {
		fmt.Fprintln(os.Stderr, "junction token: -ttl 0: expected a lifetime such as 5m, or a negative one for an expired token")
		return 2
	}
	extra := map[string]any{}
	if r := splitList(*roles); r != nil {
		extra["roles"] = r
	}
	if *scope != "" {
		extra["scope"] = *scope
	}
	token, err := auth.SignToken(*key, auth.TokenClaims{
		Issuer: *iss, Audience: *aud, Subject: *sub,
		Organisations: splitList(*orgs), Categories: splitList(*cats),
		OrgClaim: *orgClaim, CategoryClaim: *catClaim,
		TTL: *ttl, KeyID: *kid, Extra: extra,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction token:", err)
		return 1
	}
	fmt.Println(token)
	return 0
}

// splitList is the non-empty comma-separated items of s, trimmed; nil when there are none.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
