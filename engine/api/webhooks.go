package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/switchboard/switchboard/engine"
)

// DeadLetters keeps the webhook deliveries that failed for good and sends
// them again on request (webhook.Dispatcher is one).
type DeadLetters interface {
	// ListDeadLetters returns a tenant's dead letters, oldest first,
	// after cursor; next is "" on the last page.
	ListDeadLetters(ctx context.Context, tenant, cursor string, limit int) (letters []*engine.DeadLetter, next string, err error)
	// Redrive takes a tenant's dead letter and queues its event again
	// for its target, with a new retry window; engine.ErrNotFound when
	// the tenant has none with that id.
	Redrive(ctx context.Context, tenant, id string) (*engine.DeadLetter, error)
}

// maxDeadLetterIDLen bounds a dead letter id in a path; longer ids are
// unknown.
const maxDeadLetterIDLen = 256

// webhookRoutes wires the dead letters of webhook delivery.
func (s *Server) webhookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/webhooks/dead-letters", s.authed(s.withDeadLetters(s.listDeadLetters)))
	mux.HandleFunc("POST /v1/webhooks/dead-letters/{id}/redrive", s.authed(s.withDeadLetters(s.redriveDeadLetter)))
}

// withDeadLetters answers 501 when the server keeps no dead letters (its
// store keeps no event log), and bounds the store work by storeTimeout.
func (s *Server) withDeadLetters(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, tenant string) {
		if s.deadLetters == nil {
			writeV1Error(w, http.StatusNotImplemented, "not_configured",
				"webhook delivery needs a store that keeps an event log, and this server has none")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		h(w, r.WithContext(ctx), tenant)
	}
}

type deadLetterPage struct {
	DeadLetters []*engine.DeadLetter `json:"dead_letters"`
	NextCursor  string               `json:"next_cursor,omitempty"`
}

// listDeadLetters serves GET /v1/webhooks/dead-letters?limit=&cursor=.
func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 500 {
			writeV1Error(w, http.StatusBadRequest, "invalid_value", "limit must be an integer from 0 (the default page of 50) to 500")
			return
		}
		if n > 0 {
			limit = n
		}
	}
	cursor := q.Get("cursor")
	if len(cursor) > 256 {
		writeV1Error(w, http.StatusBadRequest, "invalid_value", "cursor is not one this API handed out")
		return
	}
	letters, next, err := s.deadLetters.ListDeadLetters(r.Context(), tenant, cursor, limit)
	switch {
	case errors.Is(err, engine.ErrBadCursor):
		writeV1Error(w, http.StatusBadRequest, "invalid_value",
			"cursor is not one this API handed out: pass next_cursor exactly as received, or leave cursor out to start from the oldest")
		return
	case err != nil:
		s.webhookStoreFailure(w, "list dead letters", tenant, err)
		return
	}
	if letters == nil {
		letters = []*engine.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, deadLetterPage{DeadLetters: letters, NextCursor: next})
}

// redriveDeadLetter serves POST /v1/webhooks/dead-letters/{id}/redrive.
func (s *Server) redriveDeadLetter(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxDeadLetterIDLen {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such dead letter")
		return
	}
	dl, err := s.deadLetters.Redrive(r.Context(), tenant, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "no such dead letter")
		return
	case err != nil:
		s.webhookStoreFailure(w, "redrive dead letter", tenant, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{
		"id": dl.ID, "event_id": dl.Event.ID, "target": dl.Target, "status": "redriven",
	})
}

func (s *Server) webhookStoreFailure(w http.ResponseWriter, what, tenant string, err error) {
	s.log.Error(what+" failed", "user_id", tenant, "err", err)
	w.Header().Set("Retry-After", "5")
	writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": the event log is unavailable; retry")
}
