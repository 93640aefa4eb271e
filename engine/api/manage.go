package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// manageRoutes wires the management API: agents, groups and their
// members, and the DND list, all under HTTP Basic like the rest of /v1.
func (s *Server) manageRoutes(mux *http.ServeMux) {
	m := func(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return s.authed(s.withAgents(h))
	}
	mux.HandleFunc("POST /v1/agents", m(s.createAgent))
	mux.HandleFunc("GET /v1/agents", m(s.listAgents))
	mux.HandleFunc("GET /v1/agents/{id}", m(s.getAgent))
	mux.HandleFunc("PUT /v1/agents/{id}", m(s.replaceAgent))
	mux.HandleFunc("PATCH /v1/agents/{id}", m(s.patchAgent))
	mux.HandleFunc("DELETE /v1/agents/{id}", m(s.deleteAgent))

	mux.HandleFunc("POST /v1/groups", m(s.createGroup))
	mux.HandleFunc("GET /v1/groups", m(s.listGroups))
	mux.HandleFunc("GET /v1/groups/{id}", m(s.getGroup))
	mux.HandleFunc("PUT /v1/groups/{id}", m(s.replaceGroup))
	mux.HandleFunc("PATCH /v1/groups/{id}", m(s.patchGroup))
	mux.HandleFunc("DELETE /v1/groups/{id}", m(s.deleteGroup))
	mux.HandleFunc("GET /v1/groups/{id}/members", m(s.listMembers))
	mux.HandleFunc("POST /v1/groups/{id}/members", m(s.addMember))
	mux.HandleFunc("DELETE /v1/groups/{id}/members/{agent_id}", m(s.removeMember))

	mux.HandleFunc("GET /v1/dnd", m(s.listDND))
	mux.HandleFunc("POST /v1/dnd", m(s.addDND))
	mux.HandleFunc("GET /v1/dnd/{number}", m(s.getDND))
	mux.HandleFunc("DELETE /v1/dnd/{number}", m(s.removeDND))
}

// withAgents answers 501 when the server has no agent store, and bounds
// the store work of one request by storeTimeout.
func (s *Server) withAgents(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, tenant string) {
		if s.agents == nil {
			writeV1Error(w, http.StatusNotImplemented, "not_configured",
				"agent, group and DND management needs an agent store, and this server has none configured")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		h(w, r.WithContext(ctx), tenant)
	}
}

// agentStoreFailure answers 503 for a store operation that failed and
// logs why; the client sees no internal detail.
func (s *Server) agentStoreFailure(w http.ResponseWriter, what, tenant string, err error) {
	s.log.Error(what+" failed", "user_id", tenant, "err", err)
	w.Header().Set("Retry-After", "5")
	writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": the agent store is unavailable; retry")
}

func writeJSONError(w http.ResponseWriter, e *jsonError) {
	writeV1Error(w, e.status, e.code, e.msg)
}

func invalid(msg string) *jsonError {
	return &jsonError{http.StatusBadRequest, "invalid_value", msg}
}

func notFound(what string) *jsonError {
	return &jsonError{http.StatusNotFound, "not_found", "no such " + what}
}

func conflict(code, msg string) *jsonError {
	return &jsonError{http.StatusConflict, code, msg}
}

// maxIDLen bounds agent and group ids: they are click-to-call values,
// which the spec holds to 50 characters (1569).
const maxIDLen = 50

// validID: 1 to 50 characters of A-Z, a-z, 0-9, '_', '.' and '-', so an
// id is a click-to-call value as it is, in a list or a path.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

const idRule = "1 to 50 characters of A-Z, a-z, 0-9, '_', '.' and '-'"

// newID generates an agent or group id: 16 lower-case hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readOnlyKeys are keys of the records the API returns that a client
// cannot write.
var readOnlyKeys = map[string]bool{
	"user_id": true, "created_at": true, "updated_at": true,
	"active_calls": true, "wrap_up_until": true, "last_call_end": true, "calls_taken": true, "status": true,
	"maxPriority": true, "group_id": true,
}

// jsonKeys returns the JSON names of the fields of the struct v points to.
func jsonKeys(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	keys := make(map[string]bool, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// decodeBody reads a management request body, bounded by MaxBodyBytes,
// into dst (a pointer to a struct of pointer fields). The body must be one
// JSON object whose keys, exactly as spelt, are dst's: unknown, read-only
// and repeated keys are refused, as are wrong types and trailing data.
// null is the same as an absent key.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any) *jsonError {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		return readFailure(err)
	}
	if jerr := checkKeys(data, jsonKeys(dst)); jerr != nil {
		return jerr
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badType(te.Field, typeName(te.Type))
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return &jsonError{http.StatusBadRequest, "unknown_parameter", strings.TrimPrefix(err.Error(), "json: ")}
		}
		return readFailure(err)
	}
	return nil
}

// checkKeys reads the top level of a JSON object: every key known, none
// repeated, nothing after the object.
func checkKeys(data []byte, known map[string]bool) *jsonError {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return readFailure(err)
	}
	if tok != json.Delim('{') {
		return malformed("the body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return readFailure(err)
		}
		key, _ := tok.(string)
		switch {
		case readOnlyKeys[key] && !known[key]:
			return &jsonError{http.StatusBadRequest, "read_only", key + " is set by Switchboard and cannot be written"}
		case !known[key]:
			return &jsonError{http.StatusBadRequest, "unknown_parameter", "unknown key " + quoteKey(key)}
		case seen[key]:
			return malformed(key + " is given twice")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return readFailure(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return readFailure(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return readFailure(err)
		}
		return malformed("data after the JSON object")
	}
	return nil
}

// typeName describes a Go type as JSON, for messages.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Struct:
		return "an object"
	}
	return "of another type"
}
