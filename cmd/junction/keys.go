package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"junction/auth"
)

// keysCmd makes a key pair and its JWKS for signing test and development tokens.
func keysCmd(args []string) int {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for private.pem (0600), public.pem and jwks.json; created when missing")
	alg := fs.String("alg", "ES256", "ES256 (an EC P-256 key) or RS256 (an RSA 3072 key)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction keys -dir DIR [-alg ES256|RS256]")
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "junction keys:", err)
		}
		fs.Usage()
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	files, err := auth.GenerateKeys(*dir, *alg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction keys:", err)
		return 1
	}
	fmt.Printf("private key  %s (keep it secret: it signs tokens)\n", files.Private)
	fmt.Printf("public key   %s\n", files.Public)
	fmt.Printf("key set      %s (for a source's auth.jwks)\n", files.JWKS)
	fmt.Printf("key id       %s (%s)\n", files.KeyID, files.Algorithm)
	return 0
}
