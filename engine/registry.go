package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// FieldSpec documents one configuration key of a component. The loader, `junction check`
// and the reference docs read the same specs, so they never drift apart.
type FieldSpec struct {
	Name        string
	Type        string
	Default     string
	Description string
	Example     string
	Required    bool
}

// SourceSpec describes a source connector type.
type SourceSpec struct {
	Type    string
	Summary string
	Fields  []FieldSpec
	// Build decodes the source's keys from n (recording mistakes on n) and attaches the
	// source to the engine through a Service (e.AddService): its own (a file reader) or
	// one shared by the channels naming the same address (an HTTP or MLLP listener), which
	// the engine starts and stops. Build has no side effects: `junction check` runs it.
	Build func(n *Node, ch *Channel, e *Engine)
}

// DestinationSpec describes a destination connector type.
type DestinationSpec struct {
	Type    string
	Summary string
	Fields  []FieldSpec
	// Build decodes the destination's own keys (name, type and retry are the engine's). A
	// destination that also serves something (e.g. a FHIR store's read API) may attach to
	// a Service, as sources do.
	Build func(n *Node, e *Engine) Destination
}

// Destination sends one message somewhere. It must be safe for use by one worker at a time
// (the engine runs one worker per destination queue) and should honour ctx.
type Destination interface {
	Send(ctx context.Context, d *Delivery) Outcome
}

// Outcome is the result of one Send.
type Outcome struct {
	Encoded  []byte // nil: the content was sent as handed over
	Sent     []byte // nil: equal to Encoded
	Response []byte
	Err      error
	// Permanent marks a failure that retrying cannot fix (e.g. HTTP 400, an AR/AE ACK):
	// the delivery goes to ERROR at once.
	Permanent bool
	// RetryAfter, when set by the destination (e.g. HTTP Retry-After), overrides the backoff.
	RetryAfter time.Duration
}

// Starter is implemented by destinations that open resources when the engine starts (not
// when the configuration is loaded, so `junction check` opens nothing).
type Starter interface{ Start() error }

// Closer is implemented by destinations holding resources.
type Closer interface{ Close() error }

// Service is what a source runs to take messages: an HTTP or MLLP listener, a folder
// reader. A source's Build registers it with Engine.AddService; Load only builds it
// (`junction check` binds nothing). Engine.Start starts the services once the destination
// workers run, and Engine.Stop stops them before it stops the workers.
type Service interface {
	// Start binds what the service listens on and starts serving in the background; an
	// error (a port in use) fails Engine.Start, which then undoes everything it started.
	// ctx bounds starting only.
	Start(ctx context.Context) error
	// Stop stops taking messages and waits for those in progress to be answered; when ctx
	// ends first it cuts them off and returns ctx's error.
	Stop(ctx context.Context) error
}

var (
	registryMu   sync.RWMutex
	sources      = map[string]SourceSpec{}
	destinations = map[string]DestinationSpec{}
)

// RegisterSource makes a source type available to routes.yaml. Called from connectors' init.
func RegisterSource(s SourceSpec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := sources[s.Type]; dup {
		panic(fmt.Sprintf("source type %q registered twice", s.Type))
	}
	sources[s.Type] = s
}

// RegisterDestination makes a destination type available to routes.yaml.
func RegisterDestination(d DestinationSpec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := destinations[d.Type]; dup {
		panic(fmt.Sprintf("destination type %q registered twice", d.Type))
	}
	destinations[d.Type] = d
}

// SourceTypes lists the registered source specs, sorted by type.
func SourceTypes() []SourceSpec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]SourceSpec, 0, len(sources))
	for _, s := range sources {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// DestinationTypes lists the registered destination specs, sorted by type.
func DestinationTypes() []DestinationSpec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]DestinationSpec, 0, len(destinations))
	for _, d := range destinations {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func sourceSpec(t string) (SourceSpec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := sources[t]
	return s, ok
}

func destinationSpec(t string) (DestinationSpec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	d, ok := destinations[t]
	return d, ok
}

func typeNames[T any](m map[string]T) []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
