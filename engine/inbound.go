package engine

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard/switchboard/ivr"
)

// Direction says who placed a call.
type Direction string

const (
	// DirectionOutbound: a click-to-call; the engine placed both sides.
	DirectionOutbound Direction = "outbound"
	// DirectionInbound: a caller dialed one of a tenant's apps.
	DirectionInbound Direction = "inbound"
)

// CallerInfo is what an app's caller lookup (the callerInformation
// webhook) said about an inbound caller.
type CallerInfo struct {
	Name  string `json:"caller_name,omitempty"`
	Email string `json:"caller_email,omitempty"`
	// Info is the free text the lookup wants shown with the call.
	Info string `json:"customer_info,omitempty"`
}

// App is a virtual number of a tenant and what a call to it meets: an IVR
// flow, or a direct route to a group, an agent or a number.
type App struct {
	Tenant string `json:"user_id"`
	// ID is the app's guid, named in its calls and events.
	ID   string `json:"app_id"`
	Name string `json:"name"`
	// Number is the virtual number callers dial: unique over every
	// tenant, since it alone says whose call an INVITE is.
	Number string `json:"number"`
	// Flow is the IVR the caller meets; when nil, Route is taken at once.
	Flow *ivr.Flow `json:"flow,omitempty"`
	// Route is the direct route (route_group, route_agent or
	// route_number, optionally after its prompt) of an app without Flow.
	Route *ivr.Action `json:"route,omitempty"`
	// RingTime is how long each attempt of a route rings, in seconds (a
	// group's own ring time wins); 0 means 20.
	RingTime int `json:"ring_time,omitempty"`
	// RingTone is what the caller hears while the route rings; empty
	// means the ringback built in.
	RingTone string `json:"ring_tone,omitempty"`
	// TimeLimit bounds talk time in seconds; 0 means none.
	TimeLimit int `json:"time_limit,omitempty"`
	// Record records the conversation.
	Record bool `json:"record,omitempty"`
	// Department is what the callerInformation and callSummary webhooks
	// name as call_department; empty means the app id.
	Department string `json:"department,omitempty"`
	// CallerLookupURL, when set, is sent the callerInformation webhook
	// before the call is routed; its answer names the caller.
	CallerLookupURL string `json:"caller_lookup_url,omitempty"`
	// CallerLookupTimeoutMS bounds the lookup; 0 means 1500 ms.
	CallerLookupTimeoutMS int `json:"caller_lookup_timeout_ms,omitempty"`
	// StatusCallback receives the events of every call of the app, as a
	// click-to-call's statusCallback does.
	StatusCallback string `json:"status_callback,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrNumberTaken is returned by PutApp for a virtual number another app
// (of any tenant) already answers.
var ErrNumberTaken = errors.New("virtual number taken by another app")

// AppStore keeps the apps. The memory and Redis stores implement it and
// pass the same conformance suite.
type AppStore interface {
	// PutApp creates or replaces the app (by tenant and id). ErrNumberTaken
	// when another app holds its number; replacing an app with a new
	// number frees the old one.
	PutApp(ctx context.Context, a *App) error
	GetApp(ctx context.Context, tenant, id string) (*App, error)
	// ListApps returns a tenant's apps ordered by id.
	ListApps(ctx context.Context, tenant string) ([]*App, error)
	// DeleteApp removes the app and frees its number; ErrNotFound when
	// there is none.
	DeleteApp(ctx context.Context, tenant, id string) error
	// AppByNumber returns the app answering a virtual number, whatever
	// its tenant; ErrNotFound when none does.
	AppByNumber(ctx context.Context, number string) (*App, error)
}

// InboundCall is a call a backend offers the engine: a caller dialed a
// number that reached Switchboard from one of its trunks. It is not
// answered yet; the engine answers or rejects it exactly once.
type InboundCall interface {
	// Caller is the caller's number (the user part of From), CallerName
	// the display name it came with; Called is the number dialed (the
	// user part of the Request-URI).
	Caller() string
	CallerName() string
	Called() string
	// Context ends when the caller gives up before the answer (CANCEL)
	// or the backend closes; its cause says which.
	Context() context.Context
	// Ringing tells the caller its call is ringing (SIP 180). Optional;
	// idempotent.
	Ringing() error
	// Answer answers (SIP 200 with SDP, then waits for the ACK) and
	// returns the call's session, whose lifetime and features are those
	// of a dialed leg's (Player, DTMFSession, MediaCounter on the native
	// backend).
	Answer(ctx context.Context) (Session, error)
	// Reject refuses the call with a final status (404 unknown number,
	// 480 nobody can take it, 503 draining, …).
	Reject(code int, reason string) error
}
