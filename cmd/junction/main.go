// Command junction is the one binary of the Junction integration engine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/google/uuid"

	"junction/alerts"
	"junction/auth"
	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/ui"
)

const usage = `junction: a healthcare integration engine

Usage:
  junction serve [-config routes.yaml]   run the channels of a configuration
  junction check [-config routes.yaml]   report every mistake in a configuration, with FILE:LINE
  junction test [-config routes.yaml] [FILE|DIR]...
                                         run channel test cases (*_test.yaml; default: tests/ beside the configuration) without serving
  junction store check [-config routes.yaml]
                                         check the message store and every fhir-store file in full (exit 1 on damage)
  junction prune [-config routes.yaml] [-dry-run]
                                         remove what retention says has expired now (-dry-run: print per channel what would go)
  junction validate [-package PKG]... [-profile URL]... FILE...
                                         validate FHIR resources offline (one OperationOutcome per file)
  junction fhirpath [-package PKG]... [-resource FILE] [-types] EXPR
                                         evaluate a FHIRPath expression, printing the result as JSON
  junction convert FILE...               print the FHIR Bundle each HL7v2 file converts to
  junction send [flags] FILE...          post message files to a $ingest endpoint (or -mllp host:port) and print the answers
  junction bench [flags]                 measure $ingest (and MLLP) throughput against a bare reference
  junction messages [-admin URL] [-user NAME] [filters]   find messages (-channel, -status, -q TEXT, -control-id, …)
  junction resend [-admin URL] [-user NAME] [-destination D] ID...   queue messages again for delivery
  junction reprocess [-admin URL] [-user NAME] ID...  run messages through their channel again
  junction channel stop|start|pause [-admin URL] [-user NAME] NAME
                                         stop a channel (source refuses, queues held), pause it (source refuses) or start it again
  junction reload [-admin URL] [-user NAME]   check routes.yaml again and swap in what changed (also: kill -HUP)
  junction keys -dir DIR [-alg ES256|RS256]   make a key pair and its jwks.json for signing tokens
  junction token -key FILE -iss ISS -aud AUD -sub CLIENT -org CODE[,CODE] -category DOMAIN[,DOMAIN] [-ttl 5m] [-kid K]
                                         print a signed bearer token (a negative -ttl gives an expired one)
  junction user add [-file users.yaml] [-role viewer|operator|admin] NAME
                                         add or replace an operator account (password: one line on stdin)
  junction docs [-out docs]              write the reference docs (connectors.md, expressions.md) from the specs
  junction demo-receiver [-listen 127.0.0.1:9090] [-body]
                                         answer every PUT 201 and other requests 200, logging them (make run's stand-in for FLIS, SEI2, RKKP)
  junction help                          this text
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// Every ACK and outcome carries fresh UUIDs: draw them from a pool rather than one
	// getrandom call each.
	uuid.EnableRandPool()
	cmd, args := os.Args[1], os.Args[2:]
	if cmd == "serve" || cmd == "bench" {
		serverGC()
	}
	var code int
	switch cmd {
	case "serve":
		code = serve(args)
	case "check":
		code = check(args)
	case "test":
		code = routesTest(args)
	case "validate":
		code = validate(args)
	case "fhirpath":
		code = fhirpathCmd(args)
	case "convert":
		code = convert(args)
	case "send":
		code = send(args)
	case "bench":
		code = bench(args)
	case "messages":
		code = messagesCmd(args)
	case "resend":
		code = resendCmd(args)
	case "channel":
		code = channelCmd(args)
	case "reload":
		code = reloadCmd(args)
	case "reprocess":
		code = reprocessCmd(args)
	case "keys":
		code = keysCmd(args)
	case "token":
		code = tokenCmd(args)
	case "user":
		code = userCmd(args)
	case "store":
		code = storeCmd(args)
	case "prune":
		code = pruneCmd(args) // prune.go
	case "docs":
		code = docsCmd(args)
	case "demo-receiver":
		code = demoReceiver(args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "junction: unknown command %q\n\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

// load reads a configuration, printing its problems one per line.
func load(file string) (*engine.Engine, bool) {
	eng, err := engine.Load(file)
	if err != nil {
		var errs engine.ConfigErrors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(os.Stderr, e.Error())
			}
		} else {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		}
		return nil, false
	}
	return eng, true
}

func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	config := fs.String("config", "routes.yaml", "configuration file")
	fs.Parse(args)
	eng, ok := load(*config)
	if !ok {
		return 1
	}
	n := 0
	for _, ch := range eng.Channels() {
		n += len(ch.Destinations)
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	fmt.Printf("%s: OK: %d channels, %d destinations, %d warnings\n", *config, len(eng.Channels()), n, len(eng.Warnings()))
	return 0
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	config := fs.String("config", "routes.yaml", "configuration file")
	fs.Parse(args)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	// From here on a signal is ours: a SIGHUP while starting must not end the process.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	eng, ok := load(*config)
	if !ok {
		return 1
	}
	eng.Log = log
	var uiOpts []ui.Option
	if eng.Admin.UsersFile != "" {
		users, err := auth.LoadUsers(eng.Admin.UsersFile)
		if err != nil {
			log.Error("cannot load the operator accounts", "admin.users_file", eng.Admin.UsersFile, "err", err)
			return 1
		}
		if users.Len() == 0 {
			log.Warn("the users file holds no operator accounts: nobody can log in (add one with junction user add)", "admin.users_file", eng.Admin.UsersFile)
		}
		uiOpts = append(uiOpts, ui.WithUsersFile(eng.Admin.UsersFile, users))
	}
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		log.Error("cannot open the message store", "path", eng.StorePath, "err", err)
		return 1
	}
	uiOpts = append(uiOpts, serveMetrics(eng, store)) // GET /metrics (metrics.go)
	adminLn, err := net.Listen("tcp", eng.Admin.Listen)
	if err != nil {
		log.Error("cannot listen", "admin.listen", eng.Admin.Listen, "err", err)
		store.Close()
		return 1
	}
	if err := eng.Start(store); err != nil {
		log.Error("cannot start", "err", err)
		adminLn.Close()
		store.Close()
		return 1
	}
	if err := eng.RecordConfig(context.Background()); err != nil {
		log.Warn("cannot record the configuration in the audit log", "err", err)
	}
	alertsCtx, stopAlerts := context.WithCancel(context.Background())
	alertsDone := alerts.Supervise(alertsCtx, eng, store, log) // routes.yaml's alerts: evaluated every 15 s, notified; again after a reload
	if eng.Admin.UsersFile == "" {
		log.Warn("SECURITY: the admin UI and API are open to anyone who can reach " + adminLn.Addr().String() +
			": set admin.users_file in the configuration (accounts: junction user add) to require a login")
	}
	admin := ui.NewHTTPServer(ui.New(eng, uiOpts...), ui.DefaultLimits, log)
	go func() {
		if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	// Open sources and stores (no auth block, or auth: none), each at its line.
	for _, w := range eng.Warnings() {
		log.Warn("SECURITY: " + w.Error())
	}
	log.Info("junction started", "config", *config, "store", eng.StorePath, "admin", adminLn.Addr().String(), "channels", len(eng.Channels()))

	s := waitForStop(sig, eng, log)
	log.Info("stopping", "signal", s.String())
	stopAlerts()
	<-alertsDone // the notices queued are sent (at most alerts.StopDrain)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := 0
	if err := eng.Stop(ctx); err != nil {
		log.Error("stop", "err", err)
		code = 1
	}
	admin.Shutdown(ctx)
	if err := store.Close(); err != nil {
		log.Error("closing the store", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// waitForStop reloads the configuration at each SIGHUP (its errors are logged, and the
// running configuration stays) until SIGINT or SIGTERM, which it returns.
func waitForStop(sig <-chan os.Signal, eng *engine.Engine, log *slog.Logger) os.Signal {
	for s := range sig {
		if s != syscall.SIGHUP {
			return s
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rep, err := eng.Reload(ctx, "SIGHUP")
		cancel()
		if err != nil {
			log.Error("reload refused: the running configuration stays", "config", eng.File, "err", err)
			continue
		}
		for _, c := range rep.Changes {
			log.Info("reload: " + c)
		}
		for _, e := range rep.Errors {
			log.Error("reload: " + e)
		}
		for _, w := range rep.Warnings {
			log.Warn("SECURITY: " + w)
		}
	}
	return nil
}

// serverGC sets the garbage collector for a long-running engine, unless GOGC is set. The
// live heap is mostly static (compiled routes, FHIR packages and profiles: tens of MB)
// and every collection marks all of it; at Go's default (GOGC=100) that took about a
// tenth of the CPU under load. 300 lets the heap grow to four times the live data
// between collections, a third as many; GOMEMLIMIT, when set, still caps it.
func serverGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
}
