package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/ivr"
)

// The apps API, /v1/apps: a tenant's virtual numbers and what a call to
// each meets (an IVR flow or a direct route). Bodies are the JSON of
// engine.App; every app the API returns also carries the spec's names of
// its id and number, "guid" and "number.virtual" (read-only). An app is
// checked by ValidateApp against the tenant's announcements (prompts,
// ring_tone) and agents and groups (routes) as the server's Directory
// knows them, and refused with 400 and the list of every problem.

// appBody is the JSON an app is written with. A nil field is absent and
// takes its zero value: POST and PUT replace the whole app.
type appBody struct {
	ID                    *string     `json:"app_id"`
	Name                  *string     `json:"name"`
	Number                *string     `json:"number"`
	Flow                  *ivr.Flow   `json:"flow"`
	Route                 *ivr.Action `json:"route"`
	RingTime              *int        `json:"ring_time"`
	RingTone              *string     `json:"ring_tone"`
	TimeLimit             *int        `json:"time_limit"`
	Record                *bool       `json:"record"`
	Department            *string     `json:"department"`
	CallerLookupURL       *string     `json:"caller_lookup_url"`
	CallerLookupTimeoutMS *int        `json:"caller_lookup_timeout_ms"`
	StatusCallback        *string     `json:"status_callback"`
	// The aliases of app_id and number in what the API returns; refused
	// when written.
	GUID          *string `json:"guid"`
	VirtualNumber *string `json:"number.virtual"`
}

func (b *appBody) apply(a *engine.App) {
	set(&a.Name, b.Name)
	set(&a.Number, b.Number)
	a.Flow, a.Route = b.Flow, b.Route
	set(&a.RingTime, b.RingTime)
	set(&a.RingTone, b.RingTone)
	set(&a.TimeLimit, b.TimeLimit)
	set(&a.Record, b.Record)
	set(&a.Department, b.Department)
	set(&a.CallerLookupURL, b.CallerLookupURL)
	set(&a.CallerLookupTimeoutMS, b.CallerLookupTimeoutMS)
	set(&a.StatusCallback, b.StatusCallback)
}

// readOnly refuses the aliases the API adds to what it returns.
func (b *appBody) readOnly() *jsonError {
	for key, v := range map[string]*string{"guid": b.GUID, "number.virtual": b.VirtualNumber} {
		if v != nil {
			return &jsonError{http.StatusBadRequest, "read_only", key + " is set by Switchboard and cannot be written (write app_id and number)"}
		}
	}
	return nil
}

// appView is an app as the API returns it: the record with the spec's
// names of its id and number.
type appView struct {
	GUID          string `json:"guid"`
	VirtualNumber string `json:"number.virtual"`
	*engine.App
}

func newAppView(a *engine.App) appView {
	return appView{GUID: a.ID, VirtualNumber: a.Number, App: a}
}

// appPage is the page of GET /v1/apps, in the spec's shape. Every app of
// the tenant is on the one page.
type appPage struct {
	StartIndex int `json:"startIndex"`
	EndIndex   int `json:"endIndex"`
	PageNumber int `json:"pageNumber"`
	PageItems  int `json:"pageItems"`
	TotalItems int `json:"totalItems"`
	TotalPages int `json:"totalPages"`
}

// appErrorBody is a refused app: the /v1 error with every problem.
type appErrorBody struct {
	Error appErrorDetail `json:"error"`
}

type appErrorDetail struct {
	Code     string        `json:"code"`
	Message  string        `json:"message"`
	Problems []ivr.Problem `json:"problems"`
}

// appRoutes wires /v1/apps under HTTP Basic like the rest of /v1.
func (s *Server) appRoutes(mux *http.ServeMux) {
	m := func(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return s.authed(s.withApps(h))
	}
	mux.HandleFunc("POST /v1/apps", m(s.createApp))
	mux.HandleFunc("GET /v1/apps", m(s.listApps))
	mux.HandleFunc("GET /v1/apps/{appid}", m(s.getApp))
	mux.HandleFunc("PUT /v1/apps/{appid}", m(s.replaceApp))
	mux.HandleFunc("DELETE /v1/apps/{appid}", m(s.deleteApp))
}

// withApps answers 501 when the server has no app store, and bounds the
// store work of one request by storeTimeout.
func (s *Server) withApps(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, tenant string) {
		if s.apps == nil {
			writeV1Error(w, http.StatusNotImplemented, "not_configured",
				"app management needs an app store, and this server has none configured")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		h(w, r.WithContext(ctx), tenant)
	}
}

// appStoreFailure answers 503 for a store operation that failed and logs
// why; the client sees no internal detail.
func (s *Server) appStoreFailure(w http.ResponseWriter, what, tenant string, err error) {
	s.log.Error(what+" failed", "user_id", tenant, "err", err)
	w.Header().Set("Retry-After", "5")
	writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": the app store is unavailable; retry")
}

// appKnown returns the names an app of tenant may use, as the server's
// Directory knows them: prompts are the tenant's announcements, groups
// and agents its own, numbers those the dialer dials. Each name is looked
// up once; a look-up that fails makes the check pass and is returned by
// the func, so the request is answered 503 rather than refused.
func (s *Server) appKnown(ctx context.Context, tenant string) (ivr.Known, func() error) {
	var (
		mu      sync.Mutex
		failure error
		seen    = map[string]bool{}
	)
	check := func(kind, name string, look func() (bool, error)) bool {
		mu.Lock()
		defer mu.Unlock()
		key := kind + "\x00" + name
		if ok, done := seen[key]; done {
			return ok
		}
		ok, err := look()
		if err != nil {
			if failure == nil {
				failure = fmt.Errorf("%s %s: %w", kind, name, err)
			}
			return true
		}
		seen[key] = ok
		return ok
	}
	known := ivr.Known{
		Prompt: func(id string) bool {
			return check("announcement", id, func() (bool, error) { return s.dir.Announcement(ctx, tenant, id) })
		},
		Group: func(id string) bool {
			return check("group", id, func() (bool, error) { _, ok, err := s.dir.Group(ctx, tenant, id); return ok, err })
		},
		Agent: func(id string) bool {
			return check("agent", id, func() (bool, error) { _, ok, err := s.dir.Agent(ctx, tenant, id); return ok, err })
		},
		Number: dialer.ValidNumber,
	}
	return known, func() error { mu.Lock(); defer mu.Unlock(); return failure }
}

// checkApp validates a, answering 400 (every problem) or 503 (a look-up
// failed) itself when it is not fit to store.
func (s *Server) checkApp(w http.ResponseWriter, r *http.Request, tenant string, a *engine.App) bool {
	known, failed := s.appKnown(r.Context(), tenant)
	err := ValidateApp(a, known)
	if lerr := failed(); lerr != nil {
		s.log.Error("app validation look-up failed", "user_id", tenant, "app", a.ID, "err", lerr)
		w.Header().Set("Retry-After", "5")
		writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": the directory of announcements, agents and groups is unavailable; retry")
		return false
	}
	var ae *AppError
	if errors.As(err, &ae) {
		msgs := make([]string, len(ae.Problems))
		for i, p := range ae.Problems {
			msgs[i] = p.String()
		}
		noun := "problems"
		if len(msgs) == 1 {
			noun = "problem"
		}
		writeJSON(w, http.StatusBadRequest, appErrorBody{Error: appErrorDetail{
			Code:     "invalid_app",
			Message:  fmt.Sprintf("the app has %d %s: %s", len(msgs), noun, strings.Join(msgs, "; ")),
			Problems: ae.Problems,
		}})
		return false
	}
	return true
}

// loadApp fetches a tenant's app, answering 404 or 503 itself when it
// cannot.
func (s *Server) loadApp(w http.ResponseWriter, r *http.Request, tenant, id string) (*engine.App, bool) {
	if !validID(id) {
		writeJSONError(w, notFound("app"))
		return nil, false
	}
	a, err := s.apps.GetApp(r.Context(), tenant, id)
	switch {
	case isNotFound(err) || (err == nil && (a == nil || a.Tenant != tenant)):
		writeJSONError(w, notFound("app"))
		return nil, false
	case err != nil:
		s.appStoreFailure(w, "get app", tenant, err)
		return nil, false
	}
	return a, true
}

// saveApp stores a and answers with it, or answers 409 when its number
// is taken.
func (s *Server) saveApp(w http.ResponseWriter, r *http.Request, tenant string, status int, a *engine.App) {
	err := s.apps.PutApp(r.Context(), a)
	switch {
	case errors.Is(err, engine.ErrNumberTaken):
		writeJSONError(w, conflict("number_taken", "the virtual number "+quote(a.Number)+" is taken by another app"))
		return
	case err != nil:
		s.appStoreFailure(w, "put app", tenant, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/apps/"+a.ID)
	}
	writeJSON(w, status, newAppView(a))
}

// createApp serves POST /v1/apps: app_id is given or generated; 409 if
// it is taken, or if the number is.
func (s *Server) createApp(w http.ResponseWriter, r *http.Request, tenant string) {
	var b appBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if jerr := b.readOnly(); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	now := s.now().UTC()
	a := &engine.App{Tenant: tenant, CreatedAt: now, UpdatedAt: now}
	if b.ID != nil {
		a.ID = *b.ID
	} else {
		a.ID = newID()
	}
	b.apply(a)
	if !s.checkApp(w, r, tenant, a) {
		return
	}
	_, err := s.apps.GetApp(r.Context(), tenant, a.ID)
	switch {
	case err == nil:
		writeJSONError(w, conflict("exists", "an app with app_id "+quote(a.ID)+" already exists"))
		return
	case !isNotFound(err):
		s.appStoreFailure(w, "get app", tenant, err)
		return
	}
	s.saveApp(w, r, tenant, http.StatusCreated, a)
}

// listApps serves GET /v1/apps: every app of the tenant, by app_id, on
// one page in the spec's shape ({"page":{…},"data":[…]}).
func (s *Server) listApps(w http.ResponseWriter, r *http.Request, tenant string) {
	all, err := s.apps.ListApps(r.Context(), tenant)
	if err != nil {
		s.appStoreFailure(w, "list apps", tenant, err)
		return
	}
	all = slices.DeleteFunc(all, func(a *engine.App) bool { return a == nil || a.Tenant != tenant })
	slices.SortFunc(all, func(a, b *engine.App) int { return strings.Compare(a.ID, b.ID) })
	data := make([]appView, len(all))
	for i, a := range all {
		data[i] = newAppView(a)
	}
	page := appPage{PageNumber: 1, PageItems: len(data), TotalItems: len(data), TotalPages: 1}
	if len(data) > 0 {
		page.StartIndex, page.EndIndex = 1, len(data)
	}
	writeJSON(w, http.StatusOK, map[string]any{"page": page, "data": data})
}

// getApp serves GET /v1/apps/{appid}.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request, tenant string) {
	a, ok := s.loadApp(w, r, tenant, r.PathValue("appid"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, newAppView(a))
}

// replaceApp serves PUT /v1/apps/{appid}: every field is replaced (an
// absent one takes its zero value); the app must exist. A new number
// frees the old one.
func (s *Server) replaceApp(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("appid")
	var b appBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if jerr := b.readOnly(); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.ID != nil && *b.ID != id {
		writeJSONError(w, invalid("app_id "+quoteKey(*b.ID)+" differs from the id in the path; an app's id cannot change"))
		return
	}
	old, ok := s.loadApp(w, r, tenant, id)
	if !ok {
		return
	}
	a := &engine.App{Tenant: tenant, ID: id, CreatedAt: old.CreatedAt, UpdatedAt: s.now().UTC()}
	b.apply(a)
	if !s.checkApp(w, r, tenant, a) {
		return
	}
	s.saveApp(w, r, tenant, http.StatusOK, a)
}

// deleteApp serves DELETE /v1/apps/{appid}: the app goes and its number
// is free.
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("appid")
	if !validID(id) {
		writeJSONError(w, notFound("app"))
		return
	}
	err := s.apps.DeleteApp(r.Context(), tenant, id)
	switch {
	case isNotFound(err):
		writeJSONError(w, notFound("app"))
	case err != nil:
		s.appStoreFailure(w, "delete app", tenant, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
