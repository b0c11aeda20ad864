package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"junction/auth"
)

const userEditUsage = "usage: junction user remove|disable|enable [-file users.yaml] NAME   (a running Junction reads the file again: the user's sessions end at once)"

// userEdits are the user subcommands that change an account without a password.
var userEdits = map[string]func(file, name string) (string, error){
	"remove": func(file, name string) (string, error) {
		return "removed user " + name + " from " + file, auth.RemoveUser(file, name)
	},
	"disable": func(file, name string) (string, error) {
		return "disabled user " + name + " in " + file, auth.SetDisabled(file, name, true)
	},
	"enable": func(file, name string) (string, error) {
		return "enabled user " + name + " in " + file, auth.SetDisabled(file, name, false)
	},
}

// userEditCmd removes, disables or enables an operator account.
func userEditCmd(args []string) int {
	verb := args[0]
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	file := fs.String("file", "users.yaml", "users file (admin.users_file)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		if err != nil && err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "junction user "+verb+":", err)
		}
		fmt.Fprintln(os.Stderr, userEditUsage)
		return 2
	}
	done, err := userEdits[verb](*file, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction user "+verb+":", err)
		return 1
	}
	fmt.Println(done)
	return 0
}
