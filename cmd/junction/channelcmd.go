package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
)

// channelCmd is `junction channel stop|start|pause NAME`: POST /api/channels/{name}/ACTION
// through the admin API (operator role).
func channelCmd(args []string) int {
	fs := flag.NewFlagSet("channel", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: junction channel stop|start|pause [flags] NAME

Stops, starts or pauses a channel (POST /api/channels/{name}/stop|start|pause; operator role).
  stop   the source refuses new messages (503 / AE naming the channel) and the destinations hold their queues
  pause  the source refuses new messages; the destinations keep delivering what is queued
  start  undo stop or pause: take messages and deliver again
The state is kept in the message store: it survives restarts.

`)
		fs.PrintDefaults()
	}
	admin := adminFlag(fs)
	user := userFlag(fs)
	token := tokenFlag(fs)
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	action := args[0]
	switch action {
	case "stop", "start", "pause":
	default:
		fmt.Fprintf(os.Stderr, "junction channel: unknown action %q (expected stop, start or pause)\n", action)
		return 2
	}
	fs.Parse(args[1:])
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "junction channel: give exactly one channel name")
		return 2
	}
	name := fs.Arg(0)
	c := newAPIClient(*admin)
	c.token = *token
	if err := c.login(*user, false); err != nil {
		fmt.Fprintln(os.Stderr, "junction channel:", err)
		return 1
	}
	var out struct {
		State string `json:"state"`
	}
	if err := c.call(http.MethodPost, "/api/channels/"+url.PathEscape(name)+"/"+action, nil, &out); err != nil {
		fmt.Fprintf(os.Stderr, "channel %s: %v\n", name, err)
		return 1
	}
	fmt.Printf("channel %s: %s\n", name, out.State)
	return 0
}
