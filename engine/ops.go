package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"junction/hl7"
	"junction/transforms"
)

// Operator actions: resend, reprocess, pause and resume. The admin API calls these; each
// is logged in the store's audit trail.

// OpError is an operator request that cannot be carried out as asked (a destination
// that is not configured, a disabled channel, …). Its text says why.
type OpError struct{ Msg string }

func (e *OpError) Error() string { return e.Msg }

func opErrorf(format string, args ...any) error { return &OpError{Msg: fmt.Sprintf(format, args...)} }

// Destination finds a configured destination.
func (e *Engine) Destination(channel, destination string) (*DestinationRuntime, error) {
	ch := e.Channel(channel)
	if ch == nil {
		return nil, fmt.Errorf("no channel is named %q: %w", channel, ErrNotFound)
	}
	for _, d := range ch.Destinations {
		if d.Name == destination {
			return d, nil
		}
	}
	return nil, fmt.Errorf("channel %s has no destination %q: %w", channel, destination, ErrNotFound)
}

// Resend queues a message's deliveries again (all of them when destinations is empty),
// optionally with edited content (see Store.Resend), and kicks their workers. detail is
// logged with it. It returns the destinations queued again.
func (e *Engine) Resend(ctx context.Context, id int64, destinations []string, content []byte, detail string) ([]string, error) {
	m, err := e.store.GetMessage(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("no message has id %d: %w", id, ErrNotFound)
		}
		return nil, err
	}
	if err := contentRemoved(m, nil); err != nil { // retention.go
		return nil, err
	}
	ch := e.Channel(m.Channel)
	if ch == nil {
		return nil, opErrorf("message %d belongs to channel %s, which is no longer configured", id, m.Channel)
	}
	if len(m.Destinations) == 0 {
		return nil, opErrorf("message %d was never routed (it is %s): reprocess it instead", id, m.Status)
	}
	has := map[string]bool{}
	for _, d := range m.Destinations {
		has[d.Name] = true
	}
	if len(destinations) == 0 {
		for _, d := range m.Destinations {
			destinations = append(destinations, d.Name)
		}
	}
	for _, name := range destinations {
		if !has[name] {
			return nil, opErrorf("message %d was not routed to a destination named %q", id, name)
		}
		if _, err := e.Destination(ch.Name, name); err != nil {
			return nil, opErrorf("destination %q of channel %s is no longer configured", name, ch.Name)
		}
	}
	names, err := e.store.Resend(ctx, ResendRequest{MessageID: id, Destinations: destinations, Content: content, Detail: detail})
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if d, err := e.Destination(ch.Name, name); err == nil {
			d.Kick()
		}
	}
	return names, nil
}

// Reprocess runs a message's raw content (or edited content, when not nil) through its
// channel again as a new message linked to it (OriginalID), and logs it on the original.
func (e *Engine) Reprocess(ctx context.Context, id int64, content []byte, detail string) (Result, error) {
	m, err := e.store.GetMessage(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Result{}, fmt.Errorf("no message has id %d: %w", id, ErrNotFound)
		}
		return Result{}, err
	}
	if err := contentRemoved(m, content); err != nil { // retention.go
		return Result{}, err
	}
	ch := e.Channel(m.Channel)
	if ch == nil {
		return Result{}, opErrorf("message %d belongs to channel %s, which is no longer configured", id, m.Channel)
	}
	if !ch.Enabled {
		return Result{}, opErrorf("channel %s is disabled", ch.Name)
	}
	body, wire, kind := []byte(m.Raw), []byte(nil), "reprocess"
	if content != nil {
		body, kind = content, "reprocess-edited"
	} else if m.DataType == transforms.HL7v2 && m.Meta["charset"] != "" {
		// The MLLP and file sources store HL7v2 as received, in the character set its
		// MSH-18 names (meta charset): read it again as they did. (Content stored as
		// UTF-8 text, as before raw kept the bytes received, reads as UTF-8.)
		wire = body
		body, _, _ = hl7.DecodeCharset(body)
	}
	res := ch.Process(ctx, &Inbound{
		DataType: m.DataType, Body: body, Wire: wire, Meta: m.Meta, SourceDomain: m.SourceDomain, OrgCode: m.OrgCode,
		ReceivedAt: time.Now(), OriginalID: id,
	})
	if res.StoreErr != nil {
		return res, res.StoreErr
	}
	note := "as message " + strconv.FormatInt(res.MessageID, 10) + " (" + string(res.Status) + ")"
	if detail != "" {
		note += "; " + detail
	}
	if err := e.store.AddEvent(ctx, Event{MessageID: id, Channel: ch.Name, Kind: kind, Detail: note}); err != nil {
		e.Log.Warn("cannot log a reprocess", "message", id, "err", err)
	}
	return res, nil
}

// SetPaused pauses or resumes a destination's queue. The flag is kept in the store, so
// it survives restarts and applies to every node; this node's worker sees it at once.
func (e *Engine) SetPaused(ctx context.Context, channel, destination string, paused bool, detail string) error {
	d, err := e.Destination(channel, destination)
	if err != nil {
		return err
	}
	if err := e.store.SetQueuePaused(ctx, channel, destination, paused, detail); err != nil {
		return err
	}
	if d.q != nil {
		d.q.paused.Store(paused)
	}
	d.Kick()
	return nil
}

// RemoveMessage deletes a message with its content and deliveries (see
// Operations.RemoveMessage); detail says who, for the audit trail.
func (e *Engine) RemoveMessage(ctx context.Context, id int64, force bool, detail string) error {
	err := e.store.RemoveMessage(ctx, id, force, detail)
	if errors.Is(err, ErrQueuedDeliveries) {
		return &OpError{Msg: err.Error()}
	}
	return err
}

// ConfigHash is the SHA-256 of the configuration file's text, in hex.
func (e *Engine) ConfigHash() string {
	sum := sha256.Sum256(e.ConfigText())
	return hex.EncodeToString(sum[:])
}

// RecordConfig logs the configuration in the audit trail at start: a "config-loaded"
// event with the file's SHA-256 and the channel names, preceded by "config-changed" when
// the hash differs from the last one logged (the file changed between runs).
func (e *Engine) RecordConfig(ctx context.Context) error {
	hash := e.ConfigHash()
	names := make([]string, 0, len(e.Channels()))
	for _, ch := range e.Channels() {
		names = append(names, ch.Name)
	}
	detail := e.File + " sha256=" + hash + " channels=" + strings.Join(names, ",")
	last, err := e.store.LastEvent(ctx, "config-loaded")
	switch {
	case err == nil:
		if prev := hashIn(last.Detail); prev != hash {
			if err := e.store.AddEvent(ctx, Event{Kind: "config-changed",
				Detail: e.File + " sha256=" + hash + " (was sha256=" + prev + ", loaded " + last.At.UTC().Format(time.RFC3339) + ")"}); err != nil {
				return err
			}
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	return e.store.AddEvent(ctx, Event{Kind: "config-loaded", Detail: detail})
}

// hashIn finds "sha256=HEX" in an event's detail.
func hashIn(detail string) string {
	_, rest, ok := strings.Cut(detail, "sha256=")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
