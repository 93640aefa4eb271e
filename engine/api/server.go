package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Engine is what the HTTP surfaces use of *engine.Engine.
type Engine interface {
	Originate(ctx context.Context, tenant string, req engine.CallRequest) (*engine.Call, error)
	Get(ctx context.Context, tenant, id string) (*engine.Call, error)
	List(ctx context.Context, q engine.CallQuery) (engine.CallPage, error)
	Hangup(ctx context.Context, tenant, id string) error
	Subscribe(callID string) (<-chan engine.Event, func())
	SendDTMF(ctx context.Context, tenant, callID, legID, digits string) error
	Ready(ctx context.Context) error
	Draining() bool
}

var _ Engine = (*engine.Engine)(nil)

// DefaultMaxBodyBytes bounds a request body unless Config says otherwise.
const DefaultMaxBodyBytes = 64 << 10

// lookupTimeout bounds the Directory look-ups of one click-to-call
// request, and storeTimeout the agent-store work of one management
// request.
const (
	lookupTimeout = 5 * time.Second
	storeTimeout  = 10 * time.Second
)

// maxFormValues bounds the parameters of one request (query and body
// together, repeats counted).
const maxFormValues = 100

// Config configures a Server.
type Config struct {
	// Engine originates and looks up calls. Required.
	Engine Engine
	// Tenants maps user_id to token. It is copied by NewServer.
	Tenants map[string]string
	// Agents keeps agents, groups and DND lists for the management API
	// (/v1/agents, /v1/groups, /v1/dnd). Nil: those routes answer 501.
	Agents engine.AgentStore
	// Apps keeps the apps (virtual numbers) of /v1/apps. Nil: those
	// routes answer 501.
	Apps engine.AppStore
	// Directory answers agent, group, announcement and DND questions for
	// click-to-call validation; nil means StoreDirectory{Agents} when
	// Agents is set, else NoDirectory.
	Directory Directory
	// Announcements keeps the announcements of /v1/announcements (nil:
	// those routes answer 501). When set, it also answers the
	// announcement questions of click-to-call validation (ringTone,
	// alertAudio), whatever Directory is.
	Announcements Announcements
	// Recordings is the directory of call recordings, named
	// "<tenant>/<callid>.wav" (GET /v1/calls/{callid}/recording); nil:
	// that route answers 501.
	Recordings fs.FS
	// DeadLetters keeps the webhook deliveries that failed for good
	// (GET /v1/webhooks/dead-letters, POST …/{id}/redrive); nil: those
	// routes answer 501, as when the store keeps no event log.
	DeadLetters DeadLetters
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means 64 KiB.
	MaxBodyBytes int64
	// SSEHeartbeat is how often an idle event stream gets a comment line
	// and a look at the stored record; 0 means 15 s.
	SSEHeartbeat time.Duration
}

// Server serves the click-to-call API (/v2/clickToCall/para), the JSON API
// (/v1) and the health probes (/healthz, /readyz).
type Server struct {
	eng         Engine
	tenants     map[string]string
	agents      engine.AgentStore
	apps        engine.AppStore
	dir         Directory
	ann         Announcements
	recordings  fs.FS
	deadLetters DeadLetters
	now         func() time.Time
	log         *slog.Logger
	maxBody     int64
	heartbeat   time.Duration
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	s := &Server{
		eng:         cfg.Engine,
		tenants:     canonicalTenants(cfg.Tenants),
		agents:      cfg.Agents,
		apps:        cfg.Apps,
		dir:         cfg.Directory,
		ann:         cfg.Announcements,
		recordings:  cfg.Recordings,
		deadLetters: cfg.DeadLetters,
		now:         time.Now,
		log:         cfg.Logger,
		maxBody:     cfg.MaxBodyBytes,
		heartbeat:   cfg.SSEHeartbeat,
	}
	if s.tenants == nil {
		s.tenants = map[string]string{}
	}
	switch {
	case s.dir != nil:
	case s.agents != nil:
		s.dir = StoreDirectory{Agents: s.agents}
	default:
		s.dir = NoDirectory{}
	}
	if s.ann != nil {
		s.dir = announcementDirectory{Directory: s.dir, ann: s.ann}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	return s
}

// Handler returns the routes, wrapped so that a panic becomes a logged
// 500 with a JSON body.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/clickToCall/para", s.clickToCall)
	mux.HandleFunc("POST /v1/calls", s.authed(s.createCall))
	mux.HandleFunc("GET /v1/calls", s.authed(s.listCalls))
	mux.HandleFunc("GET /v1/calls/{callid}", s.authed(s.getCall))
	mux.HandleFunc("DELETE /v1/calls/{callid}", s.authed(s.hangupCall))
	mux.HandleFunc("GET /v1/calls/{callid}/events", s.authed(s.callEvents))
	s.manageRoutes(mux)
	s.appRoutes(mux)
	s.announcementRoutes(mux)
	s.callMediaRoutes(mux)
	s.webhookRoutes(mux)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	return s.recoverPanics(mux)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.eng.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": engine.ErrDraining.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.eng.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// recoverPanics turns a handler's panic into a logged 500 with the JSON
// error body of the surface it hit. When the response has already begun
// the connection is aborted instead.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in HTTP handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if tw.wrote {
				panic(http.ErrAbortHandler)
			}
			const msg = "internal error"
			if strings.HasPrefix(r.URL.Path, "/v1/") {
				writeV1Error(tw, http.StatusInternalServerError, "internal", msg)
				return
			}
			writeSpecError(tw, &Error{HTTPStatus: http.StatusInternalServerError, Code: "1501", Message: specMessages["1501"] + ": " + msg})
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Flush lets event streams flush through the wrapper.
func (t *trackingWriter) Flush() {
	t.wrote = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"message":"internal error","status":"error","code":"1501"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeSpecError answers with the spec's error body.
func writeSpecError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.HTTPStatus, e)
}

type v1ErrorBody struct {
	Error v1Error `json:"error"`
}

type v1Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeV1Error answers with the JSON API's error body.
func writeV1Error(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, v1ErrorBody{Error: v1Error{Code: code, Message: msg}})
}

// canonicalTenants copies the tenants with their user ids as integers
// are written canonically ("007" → "7"), the form CheckCredentials
// looks them up by.
func canonicalTenants(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for id, token := range in {
		if allDigits(id) {
			if id = strings.TrimLeft(id, "0"); id == "" {
				id = "0"
			}
		}
		out[id] = token
	}
	return out
}
