package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"junction/auth"
)

const userUsage = "usage: junction user add [-file users.yaml] [-role viewer|operator|admin] NAME   (the password is read from standard input, one line)"

// userCmd manages the operator accounts of a users file.
func userCmd(args []string) int {
	if len(args) > 0 && userEdits[args[0]] != nil {
		return userEditCmd(args) // remove, disable, enable (useredit.go)
	}
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(os.Stderr, userUsage)
		return 2
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	file := fs.String("file", "users.yaml", "users file, created 0600 when missing (admin.users_file)")
	role := fs.String("role", "viewer", "viewer, operator or admin")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, userUsage)
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "junction user add:", err)
		}
		fs.Usage()
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	name := fs.Arg(0)
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction user add:", err)
		return 2
	}
	terminal := false
	if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		terminal = true
		fmt.Fprintf(os.Stderr, "Password for %s: ", name)
	}
	password, err := auth.ReadPassword(os.Stdin)
	if terminal {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction user add: reading the password from standard input:", err)
		return 1
	}
	if password == "" {
		fmt.Fprintln(os.Stderr, "junction user add: no password on standard input: expected one line holding it")
		return 1
	}
	replaced, err := auth.AddUser(*file, name, r, password)
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction user add:", err)
		return 1
	}
	verb := "added"
	if replaced {
		verb = "replaced"
	}
	fmt.Printf("%s user %s (%s) in %s\n", verb, name, r, *file)
	return 0
}
