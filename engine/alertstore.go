package engine

import (
	"context"
	"time"
)

// AlertStore keeps alert state and answers what alert conditions are evaluated from.
// Package alerts evaluates; the UI lists states.
type AlertStore interface {
	// AlertQueues is every destination queue with its counters, its last failed attempt,
	// the first send that succeeded after it, and its head (the oldest queued delivery).
	AlertQueues(ctx context.Context) ([]QueueFacts, error)
	// ErrorCounts counts, per channel, the messages received at or after since whose
	// status is ERROR.
	ErrorCounts(ctx context.Context, since time.Time) (map[string]int64, error)
	// LastReceived is when each channel that ever received a message received its last.
	LastReceived(ctx context.Context) (map[string]time.Time, error)

	// AlertStates is every stored alert state (pending or active).
	AlertStates(ctx context.Context) ([]AlertState, error)
	// PutAlertState stores st (keyed by Alert and Subject), and ev when not nil, in one
	// transaction.
	PutAlertState(ctx context.Context, st AlertState, ev *Event) error
	// DeleteAlertState removes a state, and stores ev when not nil, in one transaction.
	DeleteAlertState(ctx context.Context, alert, subject string, ev *Event) error
}

// QueueFacts are what the alerts read of one destination queue.
type QueueFacts struct {
	Channel, Destination string
	Queued, Sent, Errors int64
	LastError            string
	LastErrorAt          time.Time // zero: never failed
	// RecoveredAt is when a send first succeeded after LastErrorAt: zero when none has
	// (the last attempt failed), when the queue never failed, or while its head is being
	// retried (not looked for then).
	RecoveredAt time.Time
	// The head of the queue: its attempts so far (0: not tried yet, or nothing queued),
	// its last error and when its message was received (zero: nothing queued).
	HeadAttempts int
	HeadError    string
	Oldest       time.Time
}

// AlertState is the stored state of one alert for one subject: a destination
// ("channel/destination"), a channel ("channel") or all channels (""). A state exists
// while the condition holds; it is active once the alert fired (was notified).
type AlertState struct {
	Alert       string     `json:"alert"`
	Subject     string     `json:"subject"`
	Channel     string     `json:"channel,omitempty"`
	Destination string     `json:"destination,omitempty"`
	Since       time.Time  `json:"since"`                  // the condition holds since
	ActiveSince *time.Time `json:"active_since,omitempty"` // nil: pending (not yet notified)
	Notified    *time.Time `json:"last_notified,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// Active tells whether the alert fired.
func (s AlertState) Active() bool { return s.ActiveSince != nil }

// Audit event kinds of alerts.
const (
	EventAlertFiring   = "alert-firing"
	EventAlertResolved = "alert-resolved"
)
