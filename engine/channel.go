package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"junction/hl7tofhir"
	"junction/transforms"
)

// Channel is one routes.yaml channel, compiled.
type Channel struct {
	Name        string
	Description string
	Enabled     bool
	Line        int
	Section     string // its routes.yaml text
	SourceType  string
	DataTypes   []string // what its source accepts
	FilteredACK string   // AA (default) or AR: the answer to a filtered message
	Filters     []*transforms.Program
	Transforms  []*transforms.Program
	Converter   *hl7tofhir.Converter // toFHIR() site settings; nil: the defaults
	Retention   Retention            // how long its messages are kept (retention.go)
	Columns     []Column             // custom metadata columns (columns.go)

	Destinations []*DestinationRuntime
	// SourceInfo is a one-line description of the source for listings (e.g. "ingest :8000 emergency-care").
	SourceInfo string
	// SourceCheck, when the source checks a message before the channel runs (the
	// fhir-bundle source validates it against its profiles), is that check, for dry runs
	// (`junction test`): nil error, the message goes on; else why the source refuses it.
	SourceCheck func(body []byte) error

	engine *Engine
	digest string // of its YAML as expanded and the shared code: tells a reload what changed
}

// DestinationRuntime is one destination of a channel with its queue worker's state.
type DestinationRuntime struct {
	Name    string
	Type    string
	Line    int
	Retry   RetryPolicy
	Dest    Destination
	Channel *Channel
	// Steps are the destination's own transform and response steps (none by default).
	Steps DestinationSteps
	// Filters decide, when a message is routed, whether this destination gets it (all
	// must say true); see Channel.destinationsFor.
	Filters []*transforms.Program

	q *queue // its queue's worker once started (nil: not running)
}

// Inbound is a message as a source hands it over.
type Inbound struct {
	DataType string
	// Body is the content the channel parses, filters and transforms (for HL7v2 from
	// the MLLP and file sources: the message decoded to UTF-8 by its MSH-18).
	Body []byte
	// Wire, when set, is the content as received (before any character set decoding):
	// it is stored as the message's raw content, unchanged, while Body is what is
	// parsed. A routed message whose content differs from Wire then has Body (or what
	// the transforms made of it) stored as its transformed content, which is what its
	// destinations get.
	Wire         []byte
	Meta         map[string]string
	SourceDomain string
	OrgCode      string
	ReceivedAt   time.Time
	DedupKey     string
	// KeepKeyOnError keeps DedupKey on a message stored as ERROR too (by default it is
	// dropped, so that a corrected message may be sent again under its id): for sources
	// whose key names where the message came from (a file's content and position in it),
	// which must find it again whatever became of it.
	KeepKeyOnError bool
	OriginalID     int64 // reprocessing: the message this one is a new run of
	// Parsed, when the source has parsed the content already (with transforms.Parse),
	// spares parsing it twice.
	Parsed *transforms.Message
}

// raw is the content to store as the message's raw content: Wire when set, else Body.
func (in *Inbound) raw() []byte {
	if in.Wire != nil {
		return in.Wire
	}
	return in.Body
}

// Result is what became of an inbound message.
type Result struct {
	MessageID int64
	// Status is TRANSFORMED (accepted and queued to every destination), FILTERED or ERROR.
	Status Status
	// Msg is the parsed message, nil when the content could not be parsed.
	Msg *transforms.Message
	// Err says why the message is FILTERED or ERROR (a *transforms.ContentError or
	// *transforms.RuntimeError for content problems).
	Err error
	// Warnings are the values toFHIR() could not convert (nil when none); they are
	// stored with the message, whose status they do not change.
	Warnings []Warning
	// StoreErr is set when the message could not be stored: nothing was accepted and the
	// sender should try again later (or, for ErrDuplicate, not at all).
	StoreErr error
}

// Accepted reports whether the message is durably in the store.
func (r *Result) Accepted() bool { return r.StoreErr == nil }

// Process runs a message through the channel: parse, filter, transform, then one store
// commit holding the message, its stages and its outbox rows. It returns after that commit,
// so the caller may acknowledge.
func (c *Channel) Process(ctx context.Context, in *Inbound) Result {
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now()
	}
	nm := &NewMessage{
		Channel:      c.Name,
		ReceivedAt:   in.ReceivedAt,
		DataType:     in.DataType,
		SourceDomain: in.SourceDomain,
		OrgCode:      in.OrgCode,
		Meta:         in.Meta,
		Raw:          in.raw(),
		DedupKey:     in.DedupKey,
		OriginalID:   in.OriginalID,
	}
	o := c.steps(in)
	c.addColumns(in, &o) // columns.go
	res := Result{Status: o.status, Msg: o.msg, Err: o.err, Warnings: o.warnings}
	nm.Status, nm.Warnings = o.status, o.warnings
	nm.Transformed, nm.Destinations, nm.Skipped = o.out, o.destinations, o.skipped
	nm.ControlID, nm.Columns = o.controlID, o.columns
	if o.err != nil {
		nm.Error = o.err.Error()
	}
	if nm.Status == StatusError && !in.KeepKeyOnError {
		nm.DedupKey = "" // a message that failed may be sent again, corrected
	}
	id, err := c.engine.store.Accept(ctx, nm)
	if err != nil {
		res.StoreErr = err
		return res
	}
	res.MessageID = id
	if nm.Status == StatusTransformed {
		for _, d := range c.Destinations {
			if slices.Contains(o.destinations, d.Name) {
				d.Wake()
			}
		}
	}
	return res
}

// Refuse logs a message its source read and refused (e.g. a Bundle that failed
// validation) as ERROR with the reason, so operators see it. Nothing is routed, and its
// DedupKey is not taken: the sender may send it again, corrected.
func (c *Channel) Refuse(ctx context.Context, in *Inbound, reason string) (int64, error) {
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now()
	}
	nm := &NewMessage{
		Channel: c.Name, ReceivedAt: in.ReceivedAt, Status: StatusError, DataType: in.DataType,
		SourceDomain: in.SourceDomain, OrgCode: in.OrgCode, Meta: in.Meta, Raw: in.raw(), Error: reason,
	}
	if msg, err := transforms.Parse(in.DataType, in.Body, in.Meta); err == nil {
		nm.ControlID = msg.ControlID()
		nm.Columns, nm.Warnings = c.columnValues(msg) // columns.go
	}
	return c.engine.store.Accept(ctx, nm)
}

// outcome is what a channel's steps made of a message, before anything is stored:
// Process stores it, DryRun reports it.
type outcome struct {
	msg *transforms.Message // nil when the content did not parse
	// controlID is the message's control id as received (MSH-10, a FHIR id), read
	// before any transform: senders quote it, and the store is searched by it.
	controlID string
	status    Status // TRANSFORMED, FILTERED or ERROR
	err       error  // why FILTERED or ERROR
	warnings  []Warning
	// out is the content the destinations get (TRANSFORMED only); nil when it is the
	// content received, unchanged.
	out          []byte
	destinations []string // the destinations that get it (TRANSFORMED only)
	// skipped are the destinations whose filter left it out or failed (TRANSFORMED only).
	skipped []SkippedDestination
	columns map[string]string // custom metadata column values (columns.go); nil when none
}

// steps parses the message, runs its filters and transforms, and says which
// destinations get what: everything Process does but store it. No side effects.
func (c *Channel) steps(in *Inbound) outcome {
	var o outcome
	msg, err := in.Parsed, error(nil)
	if msg == nil {
		msg, err = transforms.Parse(in.DataType, in.Body, in.Meta)
	} else {
		msg.Meta = in.Meta
	}
	if err != nil {
		o.status, o.err = StatusError, err
		return o
	}
	o.msg, o.controlID = msg, msg.ControlID()
	o.status, o.err = c.run(msg)
	o.warnings = warningsOf(msg)
	if o.status != StatusTransformed {
		return o
	}
	out, err := msg.Output()
	if err != nil {
		o.status, o.err = StatusError, err
		return o
	}
	if out == nil && in.Wire != nil {
		// Untransformed, but the destinations get the content as parsed (UTF-8), not
		// the bytes received: the store keeps it unless equal.
		out = in.Body
	}
	o.out = out
	o.destinations, o.skipped = c.destinationsFor(msg)
	return o
}

// run applies filters then transforms. A filter that says false stops the message.
func (c *Channel) run(msg *transforms.Message) (Status, error) {
	if len(c.Filters) == 0 && len(c.Transforms) == 0 {
		return StatusTransformed, nil
	}
	msg.Converter = c.Converter
	s := transforms.NewSession(msg, c.Name)
	defer s.Close()
	for _, f := range c.Filters {
		ok, err := s.Filter(f)
		if err != nil {
			return StatusError, err
		}
		if !ok {
			return StatusFiltered, &FilteredError{Script: f.Script}
		}
	}
	for _, t := range c.Transforms {
		if err := s.Transform(t); err != nil {
			return StatusError, err
		}
	}
	return StatusTransformed, nil
}

// FilteredError names the filter that rejected a message.
type FilteredError struct{ Script transforms.Script }

func (e *FilteredError) Error() string {
	return fmt.Sprintf("filtered by %s: %s", e.Script.Where(), e.Script.Source)
}

// destinationsFor names the destinations that get a transformed message: every one of
// the channel's whose filters (if any) all say true. The others are skipped: FILTERED
// with the filter that said false (its FILE:LINE), or ERROR when a filter failed (that
// destination only; the message goes on to the rest).
func (c *Channel) destinationsFor(msg *transforms.Message) (names []string, skipped []SkippedDestination) {
	var s *transforms.Session
	for _, d := range c.Destinations {
		if len(d.Filters) == 0 {
			names = append(names, d.Name)
			continue
		}
		if s == nil {
			msg.Converter = c.Converter
			s = transforms.NewSession(msg, c.Name)
			defer s.Close()
		}
		if sk := d.filter(s); sk != nil {
			skipped = append(skipped, *sk)
			continue
		}
		names = append(names, d.Name)
	}
	return names, skipped
}

// filter runs the destination's filters in s: nil when they all say true, else why it
// does not get the message.
func (d *DestinationRuntime) filter(s *transforms.Session) *SkippedDestination {
	for _, f := range d.Filters {
		ok, err := s.Filter(f)
		if err != nil {
			return &SkippedDestination{Name: d.Name, Status: StatusError, Reason: err.Error()}
		}
		if !ok {
			return &SkippedDestination{Name: d.Name, Status: StatusFiltered, Reason: (&FilteredError{Script: f.Script}).Error()}
		}
	}
	return nil
}

// Wake tells the destination's worker that new work is queued.
func (d *DestinationRuntime) Wake() {
	if d.q != nil {
		signal(d.q.wake)
	}
}

// Kick tells the destination's worker that an operator changed its queue (a resend, a
// pause or resume): unlike Wake it also ends a wait for a retry at the head of the queue.
func (d *DestinationRuntime) Kick() {
	if d.q != nil {
		signal(d.q.kick)
	}
}

// Paused tells whether the destination's queue is paused (as this node last saw it).
func (d *DestinationRuntime) Paused() bool { return d.q != nil && d.q.paused.Load() }

// IsContentError reports whether err is a problem with the message itself (as opposed to
// ours), so the sender is told AE with a 4xx.
func IsContentError(err error) bool {
	var ce *transforms.ContentError
	var re *transforms.RuntimeError
	return errors.As(err, &ce) || errors.As(err, &re)
}
