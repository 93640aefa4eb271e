package api

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/switchboard/switchboard/engine"
)

// The media routes of a call:
//
//	POST /v1/calls/{callid}/legs/{leg}/dtmf   {"digits": "12#"}
//	GET  /v1/calls/{callid}/recording         audio/wav, two channels
//
// DTMF goes to an answered leg of a live call on the node that runs it
// (409 not_owner elsewhere, like DELETE). A recording is served from the
// recordings directory to the tenant that owns the call only; while the
// call is live the file is still growing, and what is served is the
// playable part recorded so far.
func (s *Server) callMediaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/calls/{callid}/legs/{leg}/dtmf", s.authed(s.sendDTMF))
	mux.HandleFunc("GET /v1/calls/{callid}/recording", s.authed(s.recording))
}

type dtmfBody struct {
	Digits *string `json:"digits"`
}

// maxDTMFDigits bounds one request: a phone number with its extension and
// a PIN fit well within it.
const maxDTMFDigits = 64

func (s *Server) sendDTMF(w http.ResponseWriter, r *http.Request, tenant string) {
	id, legID := r.PathValue("callid"), r.PathValue("leg")
	if id == "" || len(id) > maxCallIDLen || legID == "" || len(legID) > maxCallIDLen+8 {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call or leg")
		return
	}
	var body dtmfBody
	if jerr := s.decodeBody(w, r, &body); jerr != nil {
		writeV1Error(w, jerr.status, jerr.code, jerr.msg)
		return
	}
	if body.Digits == nil {
		writeV1Error(w, http.StatusBadRequest, "missing_parameter", "digits is required")
		return
	}
	digits := *body.Digits
	if len(digits) > maxDTMFDigits || !engine.ValidDTMF(digits) {
		writeV1Error(w, http.StatusBadRequest, "invalid_parameter",
			"digits must be 1 to 64 of 0-9, *, #, A-D")
		return
	}
	err := s.eng.SendDTMF(r.Context(), tenant, id, legID, digits)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"callid": id, "leg_id": legID, "digits": digits, "status": "sent"})
	case errors.Is(err, engine.ErrNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "no such call")
	case errors.Is(err, engine.ErrLegNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "the call has no such leg")
	case errors.Is(err, engine.ErrCallEnded):
		writeV1Error(w, http.StatusConflict, "call_ended", "the call has already ended")
	case errors.Is(err, engine.ErrLegNotAnswered):
		writeV1Error(w, http.StatusConflict, "leg_not_answered", "the leg is not an answered party of the call")
	case errors.Is(err, engine.ErrNotOwner):
		writeV1Error(w, http.StatusConflict, "not_owner",
			"the call is live on another Switchboard node; send the request to that node")
	case errors.Is(err, engine.ErrNotSupported):
		writeV1Error(w, http.StatusNotImplemented, "not_supported", "the backend cannot send DTMF on this leg")
	case errors.Is(err, engine.ErrBadDTMF):
		writeV1Error(w, http.StatusBadRequest, "invalid_parameter", err.Error())
	case r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		writeV1Error(w, http.StatusServiceUnavailable, "canceled", "request cancelled")
	default:
		s.log.Warn("send dtmf failed", "user_id", tenant, "callid", id, "leg_id", legID, "err", err)
		writeV1Error(w, http.StatusConflict, "dtmf_failed", err.Error())
	}
}

func (s *Server) recording(w http.ResponseWriter, r *http.Request, tenant string) {
	call, ok := s.lookup(w, r, tenant, r.PathValue("callid"))
	if !ok {
		return
	}
	if call.RecordingURL == "" {
		writeV1Error(w, http.StatusNotFound, "not_found", "the call was not recorded")
		return
	}
	if s.recordings == nil {
		writeV1Error(w, http.StatusNotImplemented, "not_configured", "this node keeps no recordings")
		return
	}
	name := engine.RecordingName(call.Tenant, call.ID) + ".wav"
	if !fs.ValidPath(name) || strings.Contains(name, "\\") {
		writeV1Error(w, http.StatusNotFound, "not_found", "no such recording")
		return
	}
	f, err := s.recordings.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		writeV1Error(w, http.StatusNotFound, "not_found",
			"the recording is not on this node: recordings are kept where the call ran (share the directory between nodes)")
		return
	}
	if err != nil {
		s.storeFailure(w, "open recording", tenant, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.storeFailure(w, "stat recording", tenant, err)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+path.Base(name)+`"`)
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", st.ModTime(), rs)
		return
	}
	w.WriteHeader(http.StatusOK)
	io.Copy(w, f)
}
