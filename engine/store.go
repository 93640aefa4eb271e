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

// ErrUnknownAfter is returned by ListCalls when CallQuery.After names no
// call of the tenant (never existed, another tenant's, or expired): a
// client mistake, answered with 400.
var ErrUnknownAfter = errors.New("no such call to list after")

// ErrPageTooDeep is returned by ListCalls when a page of CallQuery.Page
// starts beyond the calls one listing examines (CallQuery.ScanLimit): a
// client mistake, answered with 400.
var ErrPageTooDeep = errors.New("page lies beyond the calls a listing examines")

// DefaultScanLimit is how many calls a listing examines at most to skip to
// a numbered page and to count the matching calls (CallQuery.ScanLimit).
const DefaultScanLimit = 10000

// CallQuery selects a page of a tenant's calls. Every filter that is set
// must hold (they are and-ed); the stores apply them alike (package
// engine/store/internal/listing).
type CallQuery struct {
	Tenant string
	// State filters by CallState when not empty; "live" matches every
	// state but ended.
	State string
	// Status filters by how the call ended, when not empty: a value of
	// CallStatuses (see CallStatusOutcomes).
	Status string
	// Direction filters by Call.Direction when not empty; an empty
	// Call.Direction (a record older than inbound calls) is outbound.
	Direction Direction
	// Group matches calls that went through the group: a leg offered by
	// it (Leg.GroupID), or a request side of type Group naming it.
	Group string
	// App matches the calls an app answered (Call.App).
	App string
	// Caller matches an inbound call whose Call.Caller is Caller, and an
	// outbound call one of whose Number sides names it or one of whose
	// legs dialed it (Leg.Number). Numbers are compared exactly.
	Caller string
	// Since and Until bound CreatedAt (inclusive, exclusive) when not zero.
	Since, Until time.Time
	// After, when not empty, is the id of one of the tenant's calls: only
	// the calls listed before it (created after it: a later CreatedAt
	// millisecond, or the same with a greater id) match. ErrUnknownAfter
	// when the store holds no such call of the tenant.
	After string
	// Limit is the page size: 0 means 50, at most 500.
	Limit int
	// Cursor continues a previous page; empty starts at the newest.
	Cursor string
	// Page, when above 1, skips the first Page-1 pages of matching calls
	// (after Cursor, if any) and returns the next one. ErrPageTooDeep when
	// the page does not start within the first ScanLimit calls examined.
	Page int
	// Count asks for CallPage.Total: the matching calls (after Cursor, if
	// any), counted among the first ScanLimit calls examined.
	Count bool
	// ScanLimit bounds the calls a listing examines to skip to Page and to
	// Count (calls examined to fill the page itself do not stop); 0 means
	// DefaultScanLimit. "Examined" counts every call of the tenant in the
	// time range (Since, Until, After) read from the store, matching or
	// not.
	ScanLimit int
}

// CallPage is one page of calls, newest first. NextCursor is empty on the
// last page.
type CallPage struct {
	Calls      []*Call `json:"calls"`
	NextCursor string  `json:"next_cursor,omitempty"`
	// Total is the number of matching calls, when CallQuery.Count asked
	// for it; TotalCapped says the count stopped at the scan limit with
	// calls left unexamined, so Total is a lower bound.
	Total       int  `json:"total,omitempty"`
	TotalCapped bool `json:"total_capped,omitempty"`
}

// The values of CallQuery.Status beyond the Outcomes themselves.
const (
	// StatusLive: the call has not ended (as State "live").
	StatusLive = "live"
	// StatusAnswered (or "completed"): both sides answered and were
	// bridged.
	StatusAnswered = "answered"
	// StatusMissed (or "unanswered"): the call ended unanswered — nobody
	// answered a side, or the caller (from side) hung up before the other
	// side answered, IVR included.
	StatusMissed = "missed"
)

// callStatuses maps each Status to the outcomes it stands for (none for
// StatusLive).
var callStatuses = map[string][]Outcome{
	StatusLive:                    nil,
	StatusAnswered:                {OutcomeCompleted},
	string(OutcomeCompleted):      {OutcomeCompleted},
	StatusMissed:                  {OutcomeFromUnanswered, OutcomeToUnanswered, OutcomeFromHungUp},
	"unanswered":                  {OutcomeFromUnanswered, OutcomeToUnanswered, OutcomeFromHungUp},
	string(OutcomeFromUnanswered): {OutcomeFromUnanswered},
	string(OutcomeToUnanswered):   {OutcomeToUnanswered},
	string(OutcomeFromHungUp):     {OutcomeFromHungUp},
	string(OutcomeCanceled):       {OutcomeCanceled},
	string(OutcomeIVRHangup):      {OutcomeIVRHangup},
	string(OutcomeFailed):         {OutcomeFailed},
}

// CallStatuses lists the values CallQuery.Status takes: live, answered
// (alias completed), missed (alias unanswered), and every Outcome.
var CallStatuses = []string{
	StatusLive, StatusAnswered, StatusMissed, "unanswered",
	string(OutcomeCompleted), string(OutcomeFromUnanswered), string(OutcomeToUnanswered),
	string(OutcomeFromHungUp), string(OutcomeCanceled), string(OutcomeIVRHangup), string(OutcomeFailed),
}

// HasStatus reports whether c has the status s (a value of CallStatuses):
// live for a call not ended, else whether its Outcome is one s stands
// for. An unknown s matches no call.
func (c *Call) HasStatus(s string) bool {
	outcomes, ok := callStatuses[s]
	switch {
	case !ok:
		return false
	case s == StatusLive:
		return c.Live()
	case c.Live():
		return false
	}
	for _, o := range outcomes {
		if c.Outcome == o {
			return true
		}
	}
	return false
}

// ValidCallStatus reports whether s is a value of CallStatuses.
func ValidCallStatus(s string) bool {
	_, ok := callStatuses[s]
	return ok
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

// CallTaker is implemented by stores that can move a live call to
// another node atomically: the node adopting a dead node's call takes it
// only while the stored record is still live and still the old node's,
// so two nodes can never both carry the same call on.
type CallTaker interface {
	// TakeCall writes c's own fields (c.Node the new owner) and indexes
	// it as live for c.Node, if the stored call is live and owned by from;
	// ErrNotOwner, writing nothing, if it is not (ended, or another node
	// took it first); ErrNotFound if there is no such call.
	TakeCall(ctx context.Context, c *Call, from string) error
}
