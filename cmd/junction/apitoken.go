package main

import (
	"flag"
	"os"
)

// tokenFlag adds -token to fs: an API token (jct_…, from POST /api/tokens) to send as
// "Authorization: Bearer", instead of logging in with -user. Default $JUNCTION_TOKEN.
// A token wins over -user: with one, no login is made.
func tokenFlag(fs *flag.FlagSet) *string {
	return fs.String("token", os.Getenv("JUNCTION_TOKEN"), "API token (jct_…) instead of -user: acts with the token's role; default $JUNCTION_TOKEN (safer than the command line, which other local users may see)")
}
