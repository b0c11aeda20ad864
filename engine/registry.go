package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// FieldSpec documents one configuration key of a component, and is what its Build reads
// the key by (Node.WithSpec): the loader, `junction check` and the reference docs (`junction
// docs`) read the same specs, so they never drift apart.
type FieldSpec struct {
	// Name is the key; a key of a block is written block.key (auth.issuer).
	Name string
	// Type is shown in the docs; duration, size, number, bool and list also say how
	// Default is read (see CheckFields).
	Type string
	// Default is the value taken when the key is absent, as it would be written in
	// routes.yaml: the typed getters (Node.Dur, Node.Bytes, …) parse it, so the docs show
	// exactly what the parser uses. Empty: the zero value, or what DefaultNote says.
	Default string
	// DefaultNote explains a default the code works out (the message's MSH-5, a quarter of
	// GOMEMLIMIT); the docs show it after Default, or alone.
	DefaultNote string
	// Values, when set, are the only values taken (Node.Choice).
	Values      []string
	Description string
	Example     string
	// Required: the key must be given (for a key of a block: when the block is).
	Required bool
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

// The keys the engine itself reads (config.go, lookups.go, functions.go), for `junction
// docs`: the top of routes.yaml, every channel, every source and every destination. A test
// (enginefields_test.go) checks them against what Load reads.
var (
	TopFields = []FieldSpec{
		{Name: "admin.listen", Type: "address", Default: "127.0.0.1:8090", Description: "where the admin UI and JSON API listen", Example: "127.0.0.1:8090"},
		{Name: "admin.users_file", Type: "path", Description: "operator accounts (junction user add); when set, the UI and API need a login, when not they are open. Relative to the routes.yaml folder", Example: "users.json"},
		{Name: "admin.url", Type: "url", DefaultNote: "http:// and admin.listen", Description: "the UI's address as operators reach it (behind a proxy, say): the links in alert notifications start with it", Example: "https://junction.example.org"},
		{Name: "store.driver", Type: "string", Default: "sqlite", Description: "sqlite: the embedded store, one node; postgres: a PostgreSQL database several nodes share (docs/cluster.md)"},
		{Name: "store.path", Type: "path", Default: "data/junction.db", Description: "driver sqlite: the message store's SQLite file, relative to the routes.yaml folder"},
		{Name: "store.url", Type: "string", Description: "driver postgres, required: postgres://user:password@host:port/database (use ${NAME} for the password)"},
		{Name: "lookups", Type: "mapping", Description: "key → value tables for lookup(table, key): NAME: { key: value, … } inline, or NAME: { file: FILE.csv, key: COLUMN, value: COLUMN } read from a CSV file with a header row (key and value default to its first two columns)", Example: "{ wards: { A1: Acute Medicine } }"},
		{Name: "functions", Type: "mapping", Description: "functions every step may call: NAME(PARAMS): EXPRESSION, e.g. mrn(): 'get(\"PID-3.1\")'; a body may call the functions above it", Example: "{ \"fullName(family, given)\": 'family + \", \" + given' }"},
		{Name: "channels", Type: "list", Required: true, Description: "the channels: each a source, filters and transforms, and destinations (the keys below)"},
		RetentionFields[0], RetentionFields[1], RetentionFields[2], // retention.go: the default of every channel
		{Name: "alerts", Type: "list", Description: "alerts: each a name, a condition (when) and notifications (notify); see Every alert below and docs/alerts.md"},
		{Name: "smtp.host", Type: "text", Required: true, Description: "the mail server alert e-mails are sent through", Example: "smtp.example.org"},
		{Name: "smtp.port", Type: "number", Default: "587", Description: "its port (submission)"},
		{Name: "smtp.username", Type: "text", Description: "the account for AUTH PLAIN (with password); none: no AUTH"},
		{Name: "smtp.password", Type: "secret", Description: "its password; write ${SMTP_PASSWORD} or ${file:PATH} rather than the secret", Example: "${SMTP_PASSWORD}"},
		{Name: "smtp.from", Type: "text", Required: true, Description: "the sender address of alert e-mails", Example: "junction@example.org"},
		{Name: "smtp.starttls", Type: "bool", Default: "true", Description: "upgrade the connection with STARTTLS, and send nothing when the server does not offer it; false only for a relay on a trusted network"},
		{Name: "smtp.ca_file", Type: "path", DefaultNote: "the system's roots", Description: "PEM CA certificates trusted for the server's certificate, relative to the routes.yaml folder"},
		{Name: "smtp.timeout", Type: "duration", Default: "30s", Description: "the longest one e-mail may take (connect, TLS, AUTH, send)"},
	}
	// AlertFields are the keys of each item of alerts (engine/alerts.go, docs/alerts.md).
	AlertFields = []FieldSpec{
		{Name: "name", Type: "text", Required: true, Description: "the alert's name (letters, digits, '-', '_' and '.'), unique in the file; it names the alert in notifications, the dashboard and the audit log", Example: "lab-down"},
		{Name: "when", Type: "mapping", Required: true, Description: "the condition: exactly one of the when.… blocks below"},
		{Name: "when.destination_failing.channel", Type: "text", DefaultNote: "every channel", Description: "the channel whose destinations are watched"},
		{Name: "when.destination_failing.destination", Type: "text", DefaultNote: "every destination", Description: "the destination watched (each one named so is watched on its own)", Example: "lis"},
		{Name: "when.destination_failing.for", Type: "duration", Default: "5m", Description: "fires when every attempt of the destination has failed for this long (its queue head retried, or each message ending in ERROR)"},
		{Name: "when.queue.channel", Type: "text", DefaultNote: "every channel", Description: "the channel whose destination queues are watched"},
		{Name: "when.queue.destination", Type: "text", DefaultNote: "every destination", Description: "the destination queue watched"},
		{Name: "when.queue.older_than", Type: "duration", Description: "fires when the oldest queued message was received longer ago than this", Example: "15m"},
		{Name: "when.queue.deeper_than", Type: "number", Description: "fires when more than this many messages are queued", Example: "1000"},
		{Name: "when.errors.channel", Type: "text", DefaultNote: "all channels counted together", Description: "the channel whose messages are counted"},
		{Name: "when.errors.more_than", Type: "number", Default: "0", Description: "fires when more than this many messages received within the window are in ERROR"},
		{Name: "when.errors.within", Type: "duration", Default: "15m", Description: "the window, back from now"},
		{Name: "when.errors.per_channel", Type: "bool", Default: "false", Description: "without channel: true counts each channel on its own (one alert per channel), false all channels together"},
		{Name: "when.channel_stopped.channel", Type: "text", DefaultNote: "every channel", Description: "the channel watched"},
		{Name: "when.channel_stopped.for", Type: "duration", Default: "0s", Description: "fires when an operator stopped the channel this long ago and it is still stopped"},
		{Name: "when.source_silent.channel", Type: "text", DefaultNote: "every enabled channel", Description: "the channel whose source is watched"},
		{Name: "when.source_silent.for", Type: "duration", Required: true, Description: "fires when the source has received nothing for this long, counting only time within hours and days", Example: "30m"},
		{Name: "when.source_silent.hours", Type: "text", DefaultNote: "all day", Description: "when messages are expected, HH:MM-HH:MM (24-hour clock; 22:00-06:00 runs past midnight)", Example: "07:00-19:00"},
		{Name: "when.source_silent.days", Type: "list", DefaultNote: "every day", Description: "the days messages are expected: mon … sun, ranges such as mon-fri", Example: "mon-fri"},
		{Name: "when.source_silent.time_zone", Type: "text", DefaultNote: "the server's", Description: "the IANA time zone of hours and days", Example: "Europe/London"},
		{Name: "notify", Type: "list", Required: true, Description: "the notifications, each a webhook or an email (see Every notification)"},
		{Name: "renotify", Type: "duration", Default: "1h", Description: "while the alert stays active, notify again at most this often (0s: only when it starts and when it clears)"},
	}
	// NotifyFields are the keys of each item of an alert's notify list.
	NotifyFields = []FieldSpec{
		{Name: "webhook.url", Type: "url", Required: true, Description: "a JSON document about the alert is POSTed here (docs/alerts.md); retried with backoff", Example: "${ALERT_HOOK}"},
		{Name: "webhook.headers", Type: "map", Description: "request headers, e.g. a token; values may be ${ENV} or ${file:PATH}", Example: "{ Authorization: \"Bearer ${HOOK_TOKEN}\" }"},
		{Name: "webhook.timeout", Type: "duration", Default: "10s", Description: "the longest one POST may take"},
		{Name: "webhook.attempts", Type: "number", Default: "5", Description: "attempts in all (backing off from 1s, doubling) before the notification is given up and logged"},
		{Name: "email.to", Type: "list", Required: true, Description: "recipients, sent through the smtp block's server", Example: "[oncall@example.org]"},
		{Name: "email.cc", Type: "list", Description: "copied recipients"},
	}
	ChannelFields = []FieldSpec{
		{Name: "name", Type: "text", Required: true, Description: "the channel's name (letters, digits, '-', '_' and '.'), unique in the file", Example: "ed-adt"},
		{Name: "description", Type: "text", Description: "shown in the UI"},
		{Name: "enabled", Type: "bool", Default: "true", Description: "false: the channel is checked but takes no messages"},
		{Name: "filtered_ack", Type: "text", Default: "AA", Values: []string{"AA", "AR"}, Description: "the ACK code answering a message the filters drop"},
		{Name: "source", Type: "mapping", Required: true, Description: "where messages come from: type and the source type's keys (see Sources)"},
		{Name: "filter", Type: "list of expressions", Description: "steps that must all give true for the message to go on; a message failing one is FILTERED", Example: `['get("MSH-9.1") == "ADT"']`},
		{Name: "transform", Type: "list of expressions", Description: "steps run in order on the message (set, setBody, …); an error marks it ERROR", Example: `['set("PID-5.1", upper(get("PID-5.1")))']`},
		{Name: "columns", Type: "mapping", Description: "custom metadata columns, as Mirth's: name (letters, digits, _) → expression whose value (text, at most 256 characters) is stored with each message, shown in the message list and filtered on; evaluated after the transforms (on the message as received when a step failed); a failing expression gives no value and a warning; at most 10", Example: `{ mrn: 'get("PID-3.1")', event: 'get("MSH-9.1") + "^" + get("MSH-9.2")' }`},
		{Name: "destinations", Type: "list", Description: "where messages go: each a name, a type and the destination type's keys (see Destinations)"},
		{Name: "tofhir.systems", Type: "map", Description: "assigning authority (HD-1 or HD-2), optionally ^ its identifier type code, → identifier system URI, matched case-insensitively (toFHIR())", Example: "{ RX1^MR: https://trust.example.nhs.uk/Id/mrn }"},
		{Name: "tofhir.nhs_number_system", Type: "text", Description: "the system of identifiers with type code NH or assigning authority NHS (toFHIR())"},
		{Name: "tofhir.default_system", Type: "text", Description: "the system of an authority not in systems that is not an OID, UUID or URI; {authority} and {type} are replaced (toFHIR())"},
		{Name: "tofhir.organization_system", Type: "text", Description: "the system of organisation codes sent with no assigning authority, e.g. a GP practice's ODS code in PD1-3 (toFHIR())"},
		{Name: "tofhir.base_url", Type: "url", DefaultNote: "urn:uuid: fullUrls", Description: "makes toFHIR()'s entry fullUrls BASE/Type/id", Example: "https://fhir.example.org/R4"},
		{Name: "tofhir.id_namespace", Type: "text", Description: "seeds the name-based UUIDs toFHIR() uses as resource ids; sites sharing a FHIR server should use different namespaces"},
		{Name: "tofhir.time_zone", Type: "text", Description: "the sender's IANA time zone, for HL7v2 times sent without an offset (toFHIR())", Example: "Europe/London"},
		ChannelRetentionFields[0], ChannelRetentionFields[1], ChannelRetentionFields[2], // retention.go
	}
	SourceFields = []FieldSpec{
		{Name: "type", Type: "text", Required: true, Description: "the source type (see below)", Example: "ingest"},
	}
	DestinationFields = []FieldSpec{
		{Name: "name", Type: "text", Required: true, Description: "the destination's name (letters, digits, '-', '_' and '.'), unique in its channel", Example: "archive"},
		{Name: "type", Type: "text", Required: true, Description: "the destination type (see below)", Example: "file"},
		{Name: "retry.attempts", Type: "number", Default: "0", Description: "attempts in all before the delivery is an ERROR; 0 retries until it succeeds"},
		{Name: "retry.backoff", Type: "duration", Default: "1s", Description: "wait after the first failure; it doubles after each further one"},
		{Name: "retry.max_backoff", Type: "duration", Default: "1m", DefaultNote: "or backoff when longer", Description: "the longest wait between attempts"},
		{Name: "filter", Type: "list of expressions", Description: "conditions on the channel's transformed message, checked when it is routed: one that is false leaves this destination out (FILTERED), one that fails makes it ERROR", Example: `['get("MSH-9.1") == "ORU"']`},
		{Name: "transform", Type: "list of expressions", Description: "steps run on this destination's copy of the message before it is sent"},
		{Name: "response", Type: "list of expressions", Description: "steps run on what the destination answered (response()); an error marks the delivery ERROR", Example: `['response() contains "MSA|AA" or error("not accepted")']`},
	}
)
