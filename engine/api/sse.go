package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// callEvents serves GET /v1/calls/{callid}/events as Server-Sent Events:
// first an event "call" carrying the current record, then every
// engine.Event of the call as "event: <type>" and "data: <json>", ending
// after call.ended. A call that has already ended gets its record and the
// end of the stream.
//
// The subscription is taken before the record is read, so no event is
// lost in between; an event may therefore repeat what the first record
// already shows. Events come from this node's engine: while the stream is
// idle, every heartbeat writes a comment line and looks at the stored
// record, and when that says the call ended (on another node, or after a
// slow stream lost events) the stream sends a call.ended built from the
// record and ends.
func (s *Server) callEvents(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("callid")
	if id == "" || len(id) > maxCallIDLen {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
		return
	}
	events, unsubscribe := s.eng.Subscribe(id)
	defer unsubscribe()
	call, ok := s.lookup(w, r, tenant, id)
	if !ok {
		return
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &sseStream{w: w, rc: rc}
	if st.send("call", call) != nil || !call.Live() {
		return
	}

	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if done, err := st.event(ev, id, tenant); done || err != nil {
				return
			}
		case <-tick.C:
			if s.endedElsewhere(r.Context(), st, events, tenant, id) {
				return
			}
			if st.comment("keepalive") != nil {
				return
			}
		}
	}
}

// endedElsewhere sends what is still queued and, when the stored record
// says the call has ended, a call.ended built from it. It reports whether
// the stream is over.
func (s *Server) endedElsewhere(ctx context.Context, st *sseStream, events <-chan engine.Event, tenant, id string) bool {
	c, err := s.eng.Get(ctx, tenant, id)
	if err != nil || c.Live() {
		return false
	}
queued:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return true
			}
			if done, err := st.event(ev, id, tenant); done || err != nil {
				return true
			}
		default:
			break queued
		}
	}
	at := c.CreatedAt
	if c.EndedAt != nil {
		at = *c.EndedAt
	}
	_ = st.send(string(engine.EventCallEnded), engine.Event{Type: engine.EventCallEnded, CallID: id, Tenant: tenant, Time: at, Call: c})
	return true
}

type sseStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// event sends one engine event of call id and reports whether it ended
// the call.
func (st *sseStream) event(ev engine.Event, id, tenant string) (bool, error) {
	if ev.CallID != id || (ev.Tenant != "" && ev.Tenant != tenant) {
		return false, nil
	}
	if err := st.send(string(ev.Type), ev); err != nil {
		return false, err
	}
	return ev.Type == engine.EventCallEnded, nil
}

func (st *sseStream) send(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", name, data); err != nil {
		return err
	}
	return st.flush()
}

func (st *sseStream) comment(text string) error {
	if _, err := fmt.Fprintf(st.w, ": %s\n\n", text); err != nil {
		return err
	}
	return st.flush()
}

func (st *sseStream) flush() error {
	if err := st.rc.Flush(); err != nil && err != http.ErrNotSupported {
		return err
	}
	return nil
}
