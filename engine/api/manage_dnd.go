package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/switchboard/switchboard/dialer"
)

// maxDNDPerRequest bounds the numbers one POST /v1/dnd adds.
const maxDNDPerRequest = 1000

// listDND serves GET /v1/dnd: {"numbers":[…]}, sorted.
func (s *Server) listDND(w http.ResponseWriter, r *http.Request, tenant string) {
	nums, err := s.agents.ListDND(r.Context(), tenant)
	if err != nil {
		s.agentStoreFailure(w, "list DND", tenant, err)
		return
	}
	nums = slices.Clone(nums)
	if nums == nil {
		nums = []string{}
	}
	slices.Sort(nums)
	writeJSON(w, http.StatusOK, map[string][]string{"numbers": nums})
}

// addDND serves POST /v1/dnd {"numbers":[…]}: 1 to 1000 valid numbers,
// added as written (the list matches numbers exactly as they are dialed).
// 204.
func (s *Server) addDND(w http.ResponseWriter, r *http.Request, tenant string) {
	var b struct {
		Numbers *[]string `json:"numbers"`
	}
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.Numbers == nil || len(*b.Numbers) == 0 || len(*b.Numbers) > maxDNDPerRequest {
		writeJSONError(w, invalid(fmt.Sprintf("numbers must hold 1 to %d numbers", maxDNDPerRequest)))
		return
	}
	nums := *b.Numbers
	for i, n := range nums {
		if !dialer.ValidNumber(n) {
			writeJSONError(w, invalid(fmt.Sprintf("numbers[%d] %s is not a valid number (an optional + and 3 to 15 digits)", i, quoteKey(n))))
			return
		}
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	if err := s.agents.AddDND(r.Context(), tenant, nums...); err != nil {
		s.agentStoreFailure(w, "add DND", tenant, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dndNumber reads the {number} of a DND path; an invalid one is 400.
func dndNumber(w http.ResponseWriter, r *http.Request) (string, bool) {
	n := r.PathValue("number")
	if !dialer.ValidNumber(n) {
		writeJSONError(w, invalid("the path must end in a valid number (an optional + and 3 to 15 digits), not "+quoteKey(n)))
		return "", false
	}
	return n, true
}

// isDND asks the store about one number.
func (s *Server) isDND(w http.ResponseWriter, r *http.Request, tenant, n string) (bool, bool) {
	on, err := s.agents.IsDND(r.Context(), tenant, n)
	if err == nil && len(on) != 1 {
		err = fmt.Errorf("%d answers for 1 number", len(on))
	}
	if err != nil {
		s.agentStoreFailure(w, "DND look-up", tenant, err)
		return false, false
	}
	return on[0], true
}

// getDND serves GET /v1/dnd/{number}: {"number":…,"dnd":true|false}.
func (s *Server) getDND(w http.ResponseWriter, r *http.Request, tenant string) {
	n, ok := dndNumber(w, r)
	if !ok {
		return
	}
	on, ok := s.isDND(w, r, tenant, n)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": n, "dnd": on})
}

// removeDND serves DELETE /v1/dnd/{number}: 204, or 404 when the number is
// not on the list.
func (s *Server) removeDND(w http.ResponseWriter, r *http.Request, tenant string) {
	n, ok := dndNumber(w, r)
	if !ok {
		return
	}
	on, ok := s.isDND(w, r, tenant, n)
	if !ok {
		return
	}
	if !on {
		writeJSONError(w, notFound("number on the DND list"))
		return
	}
	if err := s.agents.RemoveDND(r.Context(), tenant, n); err != nil {
		s.agentStoreFailure(w, "remove DND", tenant, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
