package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/internal/loadgen"
)

// benchMLLP runs the channel of cfg (its source an MLLP listener, see mllpConfig) with conc
// connections, each sending body as soon as the ACK of the one before is back; every
// answer must be an AA ACK to the message's control id.
func benchMLLP(cfg []byte, body []byte, conc int, d time.Duration) (benchResult, error) {
	return runEngine(cfg, "mllp", func(eng *engine.Engine) (loadgen.Result, error) {
		addr, err := mllpBoundAddr(eng)
		if err != nil {
			return loadgen.Result{}, err
		}
		return loadgen.RunMLLP(context.Background(), loadgen.MLLPRequest{Addr: addr, Message: body}, conc, d)
	})
}

// mllpBoundAddr is the address the engine's MLLP listener bound.
func mllpBoundAddr(eng *engine.Engine) (string, error) {
	if addr := eng.BoundAddr("MLLP"); addr != "" {
		return addr, nil
	}
	return "", errors.New("the engine has no MLLP listener")
}

// mllpConfig is the one-channel routes.yaml ingestCfg with its $ingest source replaced by
// an MLLP listener on a free loopback port, keeping the ack block (MSH-3 JUNCTION when it
// names none, as $ingest's ACKs say): the same filter, transform and destinations, so
// that the two differ only in the transport.
func mllpConfig(ingestCfg []byte) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(ingestCfg, &cfg); err != nil {
		return nil, err
	}
	chans, _ := cfg["channels"].([]any)
	if len(chans) != 1 {
		return nil, fmt.Errorf("the bench configuration has %d channels, want 1", len(chans))
	}
	ch, _ := chans[0].(map[string]any)
	if ch == nil {
		return nil, errors.New("the bench configuration's channel is not a map")
	}
	old, _ := ch["source"].(map[string]any)
	ack, _ := old["ack"].(map[string]any)
	if ack == nil {
		ack = map[string]any{}
	}
	if ack["application"] == nil {
		ack["application"] = "JUNCTION"
	}
	ch["source"] = map[string]any{"type": "mllp", "listen": "127.0.0.1:0", "auth": "none", "ack": ack}
	return yaml.Marshal(cfg)
}
