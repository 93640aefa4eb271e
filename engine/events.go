package engine

import (
	"fmt"
	"sync"
	"time"
)

// EventType names a change in a call's life.
type EventType string

const (
	EventCallCreated EventType = "call.created"
	EventLegDialing  EventType = "leg.dialing"
	EventLegRinging  EventType = "leg.ringing"
	EventLegAnswered EventType = "leg.answered"
	EventLegEnded    EventType = "leg.ended"
	EventBridged     EventType = "call.bridged"
	EventCallEnded   EventType = "call.ended"
	// EventLegDTMF: the leg's party pressed a key (Digit).
	EventLegDTMF EventType = "leg.dtmf"
	// EventDTMFSent: digits were sent to the leg's party (Digit).
	EventDTMFSent EventType = "leg.dtmf_sent"
	// EventAlertPlayed: the time-limit alert of a mark (Call.AlertsPlayed)
	// started playing to both parties.
	EventAlertPlayed EventType = "call.alert"
	// EventRecordingReady: the call has ended and its recording is
	// complete at Call.RecordingURL (published just before call.ended).
	EventRecordingReady EventType = "call.recording_ready"
)

// Event is one change, published after it was written to the store (and
// appended to the event log with it).
type Event struct {
	// ID is unique across calls: "<callid>-e<seq>"; receivers of webhooks
	// de-duplicate by it.
	ID string `json:"id"`
	// Seq numbers a call's events from 1, in the order they happened.
	Seq    int       `json:"seq"`
	Type   EventType `json:"type"`
	CallID string    `json:"callid"`
	Tenant string    `json:"user_id"`
	// App is the app an inbound call came to (empty for a click-to-call).
	App  string    `json:"app_id,omitempty"`
	Time time.Time `json:"time"`
	// Leg is a snapshot of the leg for leg events.
	Leg *Leg `json:"leg,omitempty"`
	// Call is a snapshot of the call for call events.
	Call *Call `json:"call,omitempty"`
	// Digit is the key(s) of a DTMF event.
	Digit string `json:"digit,omitempty"`
}

// eventHub fans events out to in-process subscribers.
type eventHub struct {
	mu   sync.Mutex
	next int
	subs map[int]subscription
}

type subscription struct {
	callID string
	ch     chan Event
}

func newEventHub() *eventHub { return &eventHub{subs: make(map[int]subscription)} }

// subscriberBuffer is deep enough for every event of a long ONE_BY_ONE
// hunt with retries (10 values × 4 rounds × 4 events, both sides).
const subscriberBuffer = 512

func (h *eventHub) subscribe(callID string) (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	h.mu.Lock()
	id := h.next
	h.next++
	h.subs[id] = subscription{callID: callID, ch: ch}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, id)
			h.mu.Unlock()
			close(ch)
		})
	}
}

func (h *eventHub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		if s.callID != "" && s.callID != ev.CallID {
			continue
		}
		select {
		case s.ch <- ev:
		default: // a slow subscriber loses the event; the store has it
		}
	}
}

// stamp numbers ev as the call's next event. The caller owns the call
// (its run goroutine's lock, or the call before anyone else sees it).
func (c *Call) stamp(ev *Event) {
	c.EventSeq++
	ev.Seq = c.EventSeq
	ev.ID = fmt.Sprintf("%s-e%d", c.ID, c.EventSeq)
	if ev.CallID == "" {
		ev.CallID = c.ID
	}
	if ev.Tenant == "" {
		ev.Tenant = c.Tenant
	}
	if ev.App == "" {
		ev.App = c.App
	}
}
