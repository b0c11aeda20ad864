package engine

import (
	"context"
	"fmt"
	"time"
)

// Channel states an operator sets (Mirth's deploy/undeploy/pause, per channel). They are
// kept in the store (ChannelStateStore), so they survive restarts.
const (
	// ChannelStarted: the source takes messages and the destinations deliver (the default).
	ChannelStarted = "started"
	// ChannelPaused: the source refuses new messages ("send again later"); the
	// destinations keep delivering what is queued.
	ChannelPaused = "paused"
	// ChannelStopped: the source refuses new messages and the destination workers hold
	// their queues (nothing is sent) until the channel is started again.
	ChannelStopped = "stopped"
)

// ChannelStateStore keeps the channels' operator states (stopped, paused, started).
type ChannelStateStore interface {
	// SetChannelState stores a channel's state and logs it as a "channel-STATE" event
	// with detail (who did it), in one transaction.
	SetChannelState(ctx context.Context, channel, state, detail string) error
	// ChannelStates is the stored state of every channel that has one.
	ChannelStates(ctx context.Context) (map[string]string, error)
}

// ChannelRefused is why a source refuses a message of a channel an operator stopped or
// paused: send it again later.
type ChannelRefused struct{ Channel, State string }

func (e *ChannelRefused) Error() string {
	return "channel " + e.Channel + " is " + e.State + " by an operator: the message was not accepted; send it again later"
}

// ChannelState is a channel's operator state: ChannelStarted, ChannelPaused or
// ChannelStopped.
func (e *Engine) ChannelState(name string) string {
	if v, ok := e.chanStates.Load(name); ok {
		return v.(string)
	}
	return ChannelStarted
}

// SourceRefusal is nil when ch's source may take messages, else a *ChannelRefused naming
// the channel and its state. Sources call it before processing a message.
func (e *Engine) SourceRefusal(ch *Channel) error {
	if e == nil || ch == nil {
		return nil
	}
	if st := e.ChannelState(ch.Name); st != ChannelStarted {
		return &ChannelRefused{Channel: ch.Name, State: st}
	}
	return nil
}

// channelHeld tells whether a channel's destination workers must hold their queues.
func (e *Engine) channelHeld(name string) bool { return e.ChannelState(name) == ChannelStopped }

// SetChannelState stops, pauses or starts a channel: stored (and audited with detail) first,
// then applied at once to its source and destination workers.
func (e *Engine) SetChannelState(ctx context.Context, name, state, detail string) error {
	ch := e.Channel(name)
	if ch == nil {
		return fmt.Errorf("no channel is named %q: %w", name, ErrNotFound)
	}
	switch state {
	case ChannelStarted, ChannelPaused, ChannelStopped:
	default:
		return opErrorf("unknown channel state %q (expected started, paused or stopped)", state)
	}
	if !ch.Enabled {
		return opErrorf("channel %s is disabled in the configuration", name)
	}
	if err := e.store.SetChannelState(ctx, name, state, detail); err != nil {
		return err
	}
	e.chanStates.Store(name, state)
	for _, d := range ch.Destinations {
		d.Kick()
	}
	return nil
}

// loadChannelStates reads the channels' stored states (Start, before the workers and
// sources run). A channel without a stored state is started.
func (e *Engine) loadChannelStates() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	states, err := e.store.ChannelStates(ctx)
	if err != nil {
		return fmt.Errorf("reading the channels' states: %w", err)
	}
	for name, st := range states {
		e.chanStates.Store(name, st)
	}
	return nil
}
