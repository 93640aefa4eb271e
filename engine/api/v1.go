package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/switchboard/switchboard/engine"
)

// maxCallIDLen bounds a call id in a path; longer ids are unknown.
const maxCallIDLen = 128

// authed wraps a /v1 handler with HTTP Basic authentication: the user
// name is the user_id, the password its token.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		tenant, aerr := CheckCredentials(url.Values{"user_id": {user}, "token": {pass}}, s.tenants)
		if !ok || aerr != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="switchboard", charset="UTF-8"`)
			writeV1Error(w, http.StatusUnauthorized, "unauthorized", "HTTP Basic credentials are missing or wrong: user name user_id, password token")
			return
		}
		h(w, r, tenant)
	}
}

// createCall serves POST /v1/calls.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request, tenant string) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	v, jerr := decodeCallJSON(r.Body)
	if jerr != nil {
		writeV1Error(w, jerr.status, jerr.code, jerr.msg)
		return
	}
	v.Set("user_id", tenant)
	req, perr := s.parse(w, r, v, tenant)
	if perr != nil {
		writeV1Error(w, perr.HTTPStatus, perr.Code, perr.Message)
		return
	}
	if req.Mode == ModeDeveloper {
		writeJSON(w, http.StatusOK, map[string]any{"mode": ModeDeveloper, "valid": true})
		return
	}
	call, err := s.eng.Originate(r.Context(), tenant, req)
	if err != nil {
		status, detail := s.originateFailure(w, tenant, err)
		writeV1Error(w, status, "1501", specMessages["1501"]+": "+detail)
		return
	}
	w.Header().Set("Location", "/v1/calls/"+call.ID)
	writeJSON(w, http.StatusCreated, call)
}

// getCall serves GET /v1/calls/{callid}.
func (s *Server) getCall(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("callid")
	call, ok := s.lookup(w, r, tenant, id)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, newCallView(call))
}

// lookup fetches a tenant's call, answering 404 or 503 itself when it
// cannot.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, tenant, id string) (*engine.Call, bool) {
	if id == "" || len(id) > maxCallIDLen {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
		return nil, false
	}
	call, err := s.eng.Get(r.Context(), tenant, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
		return nil, false
	case err != nil:
		s.storeFailure(w, "get call", tenant, err)
		return nil, false
	case call.Tenant != tenant:
		// The engine already hides other tenants' calls; this guards any
		// other Engine.
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
		return nil, false
	}
	return call, true
}

func (s *Server) storeFailure(w http.ResponseWriter, what, tenant string, err error) {
	s.log.Error(what+" failed", "user_id", tenant, "err", err)
	w.Header().Set("Retry-After", "5")
	writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": call records are unavailable; retry")
}

// listCalls serves GET /v1/calls: the call log (see "Call log" in the
// package comment).
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request, tenant string) {
	req, msg := parseCallLog(r, tenant)
	if msg != "" {
		writeV1Error(w, http.StatusBadRequest, "invalid_value", msg)
		return
	}
	q := req.q
	if q.After != "" {
		// Looked up here too, so that an unknown call is refused
		// whatever the Engine; the store checks it again as it lists.
		_, err := s.eng.Get(r.Context(), tenant, q.After)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			callLogFailure(w, q, engine.ErrUnknownAfter)
			return
		case err != nil:
			s.storeFailure(w, "list calls", tenant, err)
			return
		}
	}
	page, err := s.eng.List(r.Context(), q)
	if err != nil {
		if !callLogFailure(w, q, err) {
			s.storeFailure(w, "list calls", tenant, err)
		}
		return
	}
	if req.spec {
		writeJSON(w, http.StatusOK, callLogPage(r, q, page))
		return
	}
	writeJSON(w, http.StatusOK, callListJSON{Calls: views(page.Calls), NextCursor: page.NextCursor})
}

// hangupCall serves DELETE /v1/calls/{callid}.
func (s *Server) hangupCall(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("callid")
	if id == "" || len(id) > maxCallIDLen {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
		return
	}
	err := s.eng.Hangup(r.Context(), tenant, id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, map[string]string{"callid": id, "status": "hangup_requested"})
	case errors.Is(err, engine.ErrNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
	case errors.Is(err, engine.ErrCallEnded):
		writeV1Error(w, http.StatusConflict, "call_ended", "the call has already ended")
	case errors.Is(err, engine.ErrNotOwner):
		writeV1Error(w, http.StatusConflict, "not_owner",
			"the call is live on another Switchboard node, which alone can hang it up; retry, or send the request to that node")
	default:
		s.storeFailure(w, "hang up call", tenant, err)
	}
}
