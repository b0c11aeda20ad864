package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"gopkg.in/yaml.v3"
)

// withDestination is the one-channel routes.yaml cfg with its destinations replaced by d.
func withDestination(cfg []byte, d map[string]any) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(cfg, &m); err != nil {
		return nil, err
	}
	chans, _ := m["channels"].([]any)
	if len(chans) != 1 {
		return nil, errors.New("the bench configuration must have one channel")
	}
	ch, _ := chans[0].(map[string]any)
	if ch == nil {
		return nil, errors.New("the bench configuration's channel is not a map")
	}
	ch["destinations"] = []any{d}
	return yaml.Marshal(m)
}

// perFileConfig: the file destination's default, one file per message (Mirth's File
// Writer default too), each written to a temporary name, fsynced and renamed.
func perFileConfig(cfg []byte) ([]byte, error) {
	return withDestination(cfg, map[string]any{"name": "archive", "type": "file", "dir": "out"})
}

// httpDestConfig: an HTTP destination posting each message to url.
func httpDestConfig(cfg []byte, url string) ([]byte, error) {
	return withDestination(cfg, map[string]any{"name": "archive", "type": "http", "url": url, "content_type": "x-application/hl7-v2+er7"})
}

// startSink starts a loopback HTTP receiver that reads each request and answers 200: the
// peer of the HTTP destination bench. It returns its URL and what stops it.
func startSink() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/in", func() { srv.Close() }, nil
}
