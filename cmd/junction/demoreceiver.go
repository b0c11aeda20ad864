package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// demoReceiverMax is the most of a body the demo receiver reads; the rest is discarded.
const demoReceiverMax = 64 << 20

// demoReceiver is `junction demo-receiver`: a stand-in for the systems the bundled
// routes.yaml delivers to (the Care Gateway's FLIS, SEI2 and RKKP), so that `make run`
// delivers somewhere rather than retrying for ever. It answers every PUT with 201 and
// every other request with 200, and logs what it got; it stores nothing.
func demoReceiver(args []string) int {
	fs := flag.NewFlagSet("demo-receiver", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	body := fs.Bool("body", false, "log each request's body too")
	fs.Parse(args)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("service", "demo-receiver")

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("cannot listen", "listen", *listen, "err", err)
		return 1
	}
	srv := &http.Server{Handler: demoHandler(log, *body), ReadHeaderTimeout: 10 * time.Second}
	log.Info("demo receiver listening: answers PUT with 201 and any other request with 200, stores nothing", "addr", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("demo receiver stopped", "err", err)
		return 1
	}
	return 0
}

func demoHandler(log *slog.Logger, logBody bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, demoReceiverMax))
		io.Copy(io.Discard, r.Body)
		if err != nil {
			log.Warn("cannot read the request", "method", r.Method, "path", r.URL.Path, "err", err)
			http.Error(w, "cannot read the request", http.StatusBadRequest)
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPut {
			status = http.StatusCreated
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "content_type", r.Header.Get("Content-Type"), "bytes", len(b), "status", status}
		if what := describeBody(b); what != "" {
			attrs = append(attrs, "content", what)
		}
		if logBody {
			attrs = append(attrs, "body", string(b))
		}
		log.Info("received", attrs...)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "demo receiver: got %d bytes\n", len(b))
	})
}

// describeBody says in a few words what a body holds: a FHIR resource's type, id and, for
// a Bundle, its number of entries; an HL7v2 message's MSH-9 and MSH-10.
func describeBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(s, "{"):
		var res struct {
			ResourceType string            `json:"resourceType"`
			ID           string            `json:"id"`
			Entry        []json.RawMessage `json:"entry"`
		}
		if json.Unmarshal(b, &res) != nil || res.ResourceType == "" {
			return "JSON"
		}
		out := res.ResourceType + "/" + res.ID
		if res.ResourceType == "Bundle" {
			out += fmt.Sprintf(" (%d entries)", len(res.Entry))
		}
		return out
	case strings.HasPrefix(s, "MSH") && len(s) > 4:
		seg, _, _ := strings.Cut(s, "\r")
		seg, _, _ = strings.Cut(seg, "\n")
		f := strings.Split(seg, s[3:4])
		if len(f) > 9 {
			return "HL7v2 " + f[8] + " " + f[9]
		}
		return "HL7v2"
	}
	return ""
}
