package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by a Store for a call it does not hold (never
// existed, or expired after its retention).
var ErrNotFound = errors.New("not found")

// ErrExists is returned by CreateCall when the call id is already taken.
var ErrExists = errors.New("already exists")

// ErrBadCursor is returned by ListCalls for a cursor it did not issue: a
// client mistake, never worth a retry.
var ErrBadCursor = errors.New("invalid cursor")

// Store keeps the serialisable record of every call and leg. The memory
// store (engine/store/memory) and the Redis store (engine/store/redis) both
// pass the one conformance suite in engine/store/storetest.
//
// Every write is a whole-record put keyed by id, so a write retried after a
// network error (go-redis retries) leaves the same state as one write.
//
// The three writes of a call (CreateCall, SaveCall, EndCall) also carry
// the events that announce the change: they are appended to the durable
// event log (EventLog) in the same step as the change, in the order given,
// so that a change is never kept without its events nor an event without
// its change. Events go to the stream of the call's node (c.Node).
type Store interface {
	// CreateCall stores a new call record (its Legs are ignored) and
	// indexes it as live for its tenant and node. ErrExists if the id is
	// taken by a different record; repeating the identical record (a
	// retried write) returns nil, and appends its events only once.
	CreateCall(ctx context.Context, c *Call, events ...Event) error
	// SaveCall replaces the call's own fields and, in the same atomic
	// write, the records of the given legs (each must belong to c: a leg
	// whose CallID is not c.ID is an error and nothing is written). It
	// ignores c.Legs, so the caller passes only the legs that changed;
	// legs stored before and not passed are kept. ErrNotFound, writing
	// nothing, when the store does not hold the call.
	SaveCall(ctx context.Context, c *Call, legs []*Leg, events ...Event) error
	// SaveLeg replaces one leg's record within its call.
	SaveLeg(ctx context.Context, l *Leg) error
	// EndCall stores the final record (call fields and every leg in
	// c.Legs), removes the call from the live index and lets it expire
	// after retention (0: keep forever).
	EndCall(ctx context.Context, c *Call, retention time.Duration, events ...Event) error
	// GetCall returns the call with its legs ordered by Seq.
	GetCall(ctx context.Context, id string) (*Call, error)
	// ListCalls returns a tenant's calls newest first.
	ListCalls(ctx context.Context, q CallQuery) (CallPage, error)
	// LiveCalls returns the ids of calls not yet ended that the node owns
	// (every node when node is empty).
	LiveCalls(ctx context.Context, node string) ([]string, error)
	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// CallQuery selects a page of a tenant's calls.
type CallQuery struct {
	Tenant string
	// State filters by CallState when not empty; "live" matches every
	// state but ended.
	State string
	// Since and Until bound CreatedAt (inclusive, exclusive) when not zero.
	Since, Until time.Time
	// Limit is the page size: 0 means 50, at most 500.
	Limit int
	// Cursor continues a previous page; empty starts at the newest.
	Cursor string
}

// CallPage is one page of calls, newest first. NextCursor is empty on the
// last page.
type CallPage struct {
	Calls      []*Call `json:"calls"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// CheckLegs refuses, before a store writes anything, a leg that is not
// c's (SaveCall): a caller's mistake, which would otherwise store it in
// the wrong call.
func CheckLegs(c *Call, legs []*Leg) error {
	for _, l := range legs {
		if l == nil {
			return errors.New("nil leg")
		}
		if l.CallID != c.ID {
			return fmt.Errorf("leg %s belongs to call %q", l.ID, l.CallID)
		}
	}
	return nil
}
