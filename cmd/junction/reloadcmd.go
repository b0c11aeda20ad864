package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

// reloadCmd is `junction reload`: POST /api/reload through the admin API (admin role).
func reloadCmd(args []string) int {
	fs := flag.NewFlagSet("reload", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: junction reload [flags]

Makes the running Junction read its routes.yaml again (POST /api/reload; admin role), as
kill -HUP does. The file is checked whole first: with any error nothing changes and the
errors are printed (FILE:LINE). Otherwise the changed channels are swapped in, unchanged
ones keep running, listeners stay open, and what changed is printed and audited.

`)
		fs.PrintDefaults()
	}
	admin := adminFlag(fs)
	user := userFlag(fs)
	token := tokenFlag(fs)
	fs.Parse(args)
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	c := newAPIClient(*admin)
	c.token = *token
	if err := c.login(*user, false); err != nil {
		fmt.Fprintln(os.Stderr, "junction reload:", err)
		return 1
	}
	var out struct {
		Added, Removed, Changed, Unchanged, Changes, Warnings, Errors []string
	}
	if err := c.call(http.MethodPost, "/api/reload", nil, &out); err != nil {
		fmt.Fprintln(os.Stderr, "junction reload:", err)
		return 1
	}
	fmt.Printf("reloaded: %d added, %d removed, %d changed, %d unchanged\n", len(out.Added), len(out.Removed), len(out.Changed), len(out.Unchanged))
	for _, l := range out.Changes {
		fmt.Println("  " + l)
	}
	for _, l := range out.Warnings {
		fmt.Fprintln(os.Stderr, "warning: "+l)
	}
	for _, l := range out.Errors {
		fmt.Fprintln(os.Stderr, "error: "+l)
	}
	if len(out.Errors) > 0 {
		return 1
	}
	return 0
}
