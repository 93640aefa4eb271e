package engine

import (
	"context"
	"errors"
	"time"
)

// EventLog is the durable log of call events. Store writes append to it
// (Store); the webhook dispatcher reads it and delivers every event at
// least once to each of its targets.
//
// The log is one stream per engine node: a node appends the events of the
// calls it runs to its own stream, in the order they happened, so one
// reader of a stream sees every call's events in order. A stream is read
// by the holder of its lease: normally its own node; when a node is gone
// (its lease expired), another node takes the lease and carries on where
// it stopped. Entries stay pending until acknowledged, so a reader that
// dies (or restarts) gets them again: delivery is at least once, and in
// the normal case exactly once.
type EventLog interface {
	// EventStreams lists the nodes that have an event stream.
	EventStreams(ctx context.Context) ([]string, error)
	// LeaseStream takes or renews, for reader, the lease on node's stream
	// for ttl. It reports false when another reader holds it.
	LeaseStream(ctx context.Context, node, reader string, ttl time.Duration) (bool, error)
	// ReleaseStream gives the lease up if reader holds it.
	ReleaseStream(ctx context.Context, node, reader string) error
	// ReadEvents returns up to n entries of node's stream after the entry
	// id after ("" for the oldest not yet acknowledged), oldest first,
	// waiting up to block for one when there is none.
	ReadEvents(ctx context.Context, node, after string, n int, block time.Duration) ([]LoggedEvent, error)
	// AckEvents marks entries done (delivered to every target, or dead-
	// lettered): they are not read again and may be trimmed.
	AckEvents(ctx context.Context, node string, ids ...string) error
	// AppendEvents appends entries to node's stream (a re-driven dead
	// letter goes back in this way).
	AppendEvents(ctx context.Context, node string, entries ...LoggedEvent) error

	// PutDeadLetter keeps a delivery that failed for good.
	PutDeadLetter(ctx context.Context, d *DeadLetter) error
	// ListDeadLetters returns a tenant's dead letters, oldest first,
	// after the cursor ("" from the start); next is "" on the last page.
	ListDeadLetters(ctx context.Context, tenant, cursor string, limit int) (letters []*DeadLetter, next string, err error)
	// TakeDeadLetter removes a tenant's dead letter and returns it
	// (ErrNotFound when there is none with that id).
	TakeDeadLetter(ctx context.Context, tenant, id string) (*DeadLetter, error)
}

// LoggedEvent is one entry of a node's event stream.
type LoggedEvent struct {
	// ID is the entry's id in its stream (ordered); set by the log.
	ID    string `json:"id,omitempty"`
	Event Event  `json:"event"`
	// Target, when set, limits delivery to this one URL: a re-driven
	// dead letter goes only where it failed.
	Target string `json:"target,omitempty"`
	// Redriven is when a dead letter was re-driven: its retry window
	// starts again then, not at the event's time.
	Redriven *time.Time `json:"redriven,omitempty"`
}

// DeadLetter is an event that could not be delivered to a target within
// the retry window.
type DeadLetter struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"user_id"`
	Target    string    `json:"target"`
	Event     Event     `json:"event"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	FailedAt  time.Time `json:"failed_at"`
}

// ErrNoEventLog is returned where an event log is needed and the store
// keeps none.
var ErrNoEventLog = errors.New("the store keeps no event log")
