package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/switchboard/switchboard/engine"
)

type specSuccessBody struct {
	CallID string `json:"callid"`
	Status string `json:"status"`
	Code   string `json:"code"`
}

// clickToCall serves POST /v2/clickToCall/para.
func (s *Server) clickToCall(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeSpecError(w, &Error{HTTPStatus: http.StatusMethodNotAllowed, Code: "1539", Message: specMessages["1539"] + ": use POST"})
		return
	}
	v, perr := s.readForm(w, r)
	if perr != nil {
		writeSpecError(w, perr)
		return
	}
	tenant, perr := CheckCredentials(v, s.tenants)
	if perr != nil {
		writeSpecError(w, perr)
		return
	}
	req, perr := s.parse(w, r, v, tenant)
	if perr != nil {
		writeSpecError(w, perr)
		return
	}
	if req.Mode == ModeDeveloper {
		writeJSON(w, http.StatusOK, specSuccessBody{CallID: "", Status: "success", Code: "200"})
		return
	}
	call, err := s.eng.Originate(r.Context(), tenant, req)
	if err != nil {
		status, detail := s.originateFailure(w, tenant, err)
		writeSpecError(w, &Error{HTTPStatus: status, Code: "1501", Message: specMessages["1501"] + ": " + detail})
		return
	}
	writeJSON(w, http.StatusOK, specSuccessBody{CallID: call.ID, Status: "success", Code: "200"})
}

// parse validates a click-to-call request, its Directory look-ups bounded
// by lookupTimeout. A refusal is logged: at Debug for the client's
// mistakes, at Error with the cause for a look-up that failed (1501,
// 1575), which also gets Retry-After.
func (s *Server) parse(w http.ResponseWriter, r *http.Request, v url.Values, tenant string) (engine.CallRequest, *Error) {
	ctx, cancel := context.WithTimeout(r.Context(), lookupTimeout)
	defer cancel()
	req, perr := ParseClickToCall(ctx, v, s.dir)
	switch {
	case perr == nil:
	case perr.cause != nil:
		s.log.Error("click-to-call look-up failed", "user_id", tenant, "code", perr.Code, "err", perr.cause)
		w.Header().Set("Retry-After", "5")
	default:
		s.log.Debug("click-to-call refused", "user_id", tenant, "code", perr.Code, "message", perr.Message)
	}
	return req, perr
}

// originateFailure maps an Originate error to an HTTP status and a message,
// setting Retry-After where a retry will help, and logs it.
func (s *Server) originateFailure(w http.ResponseWriter, tenant string, err error) (int, string) {
	switch {
	case errors.Is(err, engine.ErrDraining):
		w.Header().Set("Retry-After", "5")
		return http.StatusServiceUnavailable, "this node is shutting down; retry"
	case errors.Is(err, engine.ErrTooManyCalls):
		w.Header().Set("Retry-After", "1")
		return http.StatusTooManyRequests, "too many live calls; retry later"
	}
	s.log.Error("originate failed", "user_id", tenant, "err", err)
	return http.StatusServiceUnavailable, "the call could not be recorded; retry"
}

// readForm reads the parameters of the query string and of an
// application/x-www-form-urlencoded or multipart/form-data body (file
// parts are ignored), the body bounded by MaxBodyBytes (413) and the
// parameters to 100 (400).
func (s *Server) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		err = r.ParseMultipartForm(s.maxBody)
		if r.MultipartForm != nil {
			defer func() { _ = r.MultipartForm.RemoveAll() }()
		}
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, &Error{HTTPStatus: http.StatusRequestEntityTooLarge, Code: "1539",
				Message: fmt.Sprintf("%s: request body exceeds %d bytes", specMessages["1539"], s.maxBody)}
		}
		return nil, newError("1539", "malformed parameters: "+err.Error())
	}
	n := 0
	for _, vals := range r.Form {
		n += len(vals)
	}
	if n > maxFormValues {
		return nil, newError("1539", fmt.Sprintf("more than %d parameters", maxFormValues))
	}
	return r.Form, nil
}
