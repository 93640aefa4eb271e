package aritest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configure a Server; the zero value is usable.
type Options struct {
	App      string // the Stasis application the server knows; default "switchboard"
	User     string // HTTP Basic / api_key user; default "switchboard"
	Password string // default "secret"
	// Far says how the far end of an originated channel behaves, given the
	// endpoint it was originated to (for example "PJSIP/1000@trunk" or
	// "SIP/trunk/1000"); nil: every far end answers after ringing 50 ms.
	Far func(endpoint string) Far

	// PlaybackDuration is how long one media URI plays; 0: 20 ms.
	PlaybackDuration time.Duration
	// MediaExists says whether a media URI can be played. nil: every URI with
	// a scheme Asterisk knows (sound, recording, number, digits, characters,
	// tone) exists, except sound names beginning with "missing" or
	// "nonexistent" and recordings that are not stored.
	MediaExists func(uri string) bool
	// EntityID is the asterisk_id of every event; default "02:42:ac:11:00:02".
	EntityID string
}

// Far is one far end's behaviour.
type Far struct {
	Ring   time.Duration // time in Ringing before the outcome (0: none)
	Answer bool          // answer after Ring
	// Cause, when !Answer and !Never: hang up with this Q.850 cause after Ring
	// (17 busy, 19 no answer, 21 rejected, 34 congestion, 1 unallocated,
	// 27 out of order, ...).
	Cause int
	// Status, when !Answer and !Never: the SIP final response the far end
	// refuses with (486, 603, 404, ...), as a real phone does. The channel
	// ends the way that response ends it on Asterisk: chan_sip turns
	// 486/600/603 into a BUSY indication and 400/404/410/482/500/502/503/504
	// into a CONGESTION indication, chan_pjsip reports the status as
	// tech_cause, and the cause is the one both derive from it
	// (hangup_sip2cause) unless Cause is set. 0: the far end refuses with
	// the response chan_pjsip sends for Cause (hangup_cause2sip).
	Status int
	// Never: ring until the client hangs up or the originate timeout passes
	// (then cause 19).
	Never bool
	// HangupAfter: when answered, the far end hangs up (cause 16) after this
	// long; 0: never.
	HangupAfter time.Duration
	// DTMF: when answered, the far end presses these keys
	// (ChannelDtmfReceived) DTMFAfter after the answer.
	DTMF      string
	DTMFAfter time.Duration
}

// Request is one REST request the server received. Query holds the URL's
// query merged with the parameters of a JSON body, as Asterisk reads them.
type Request struct {
	Method, Path string
	Query        url.Values
	Status       int
}

// Server is an ARI server for tests. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	ln       net.Listener
	http     *http.Server
	started  time.Time
	eventsSt atomic.Int64

	mu        sync.Mutex
	closed    bool
	apps      map[string]*application
	channels  map[string]*channel // every channel ever made, ended ones too
	order     []string            // channel ids in creation order
	bridges   map[string]*bridge
	border    []string
	playbacks map[string]*playback
	live      map[string]*liveRecording
	stored    map[string]*storedRecording
	requests  []Request
	conns     map[*eventConn]struct{}
	timers    map[*time.Timer]struct{}
	seq       int // channel name sequence
	idseq     int // unique id sequence
	pbseq     int // playback sequence

	wg sync.WaitGroup // timer callbacks and WebSocket goroutines
}

// Start starts a server and stops it at t's cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := newServer(opts)
	if err != nil {
		t.Fatalf("aritest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newServer(opts Options) (*Server, error) {
	if opts.App == "" {
		opts.App = "switchboard"
	}
	if opts.User == "" {
		opts.User = "switchboard"
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	if opts.PlaybackDuration <= 0 {
		opts.PlaybackDuration = 20 * time.Millisecond
	}
	if opts.EntityID == "" {
		opts.EntityID = "02:42:ac:11:00:02"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      opts,
		ln:        ln,
		started:   time.Now(),
		apps:      map[string]*application{},
		channels:  map[string]*channel{},
		bridges:   map[string]*bridge{},
		playbacks: map[string]*playback{},
		live:      map[string]*liveRecording{},
		stored:    map[string]*storedRecording{},
		conns:     map[*eventConn]struct{}{},
		timers:    map[*time.Timer]struct{}{},
	}
	s.apps[opts.App] = &application{name: opts.App}
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the REST base, "http://127.0.0.1:PORT/ari"; the event WebSocket is
// URL()+"/events".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/ari" }

// Close stops the server: every WebSocket ends, every far-end timer stops.
// It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for t := range s.timers {
		if t.Stop() {
			s.wg.Done()
		}
	}
	s.timers = nil
	conns := make([]*eventConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	_ = s.http.Close()
	s.wg.Wait()
}

// after runs fn with s.mu held after d, unless the server closes first.
func (s *Server) after(d time.Duration, fn func()) *time.Timer {
	if s.closed {
		return nil
	}
	s.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		delete(s.timers, t)
		fn()
	})
	s.timers[t] = struct{}{}
	return t
}

// cancel stops a timer made by after; s.mu is held.
func (s *Server) cancel(t *time.Timer) {
	if t == nil || s.timers == nil {
		return
	}
	if _, ok := s.timers[t]; !ok {
		return
	}
	delete(s.timers, t)
	if t.Stop() {
		s.wg.Done()
	}
}

// Requests returns every REST request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// EventsSent is the number of events written to WebSockets so far.
func (s *Server) EventsSent() int { return int(s.eventsSt.Load()) }

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// call is one REST request being served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	path  string   // below /ari, without a leading slash
	seg   []string // path segments
	query url.Values
}

// param is a query (or JSON body) parameter.
func (c *call) param(name string) string { return c.query.Get(name) }

// params returns a multi-valued parameter. Like Asterisk, a repeated query
// parameter keeps only its last value, which is a comma separated list; a
// JSON body may give a list.
func (c *call) params(name string) []string {
	vs := c.query[name]
	if len(vs) == 0 {
		return nil
	}
	var out []string
	for _, p := range strings.Split(vs[len(vs)-1], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	query := r.URL.Query()
	defer func() {
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		q := cloneValues(query)
		delete(q, "\x00variables")
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: q, Status: rec.status})
		s.mu.Unlock()
	}()
	path, ok := strings.CutPrefix(r.URL.Path, "/ari/")
	if !ok {
		http.NotFound(rec, r)
		return
	}
	if !s.authorized(r, query) {
		rec.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeError(rec, http.StatusUnauthorized, "Authentication required")
		return
	}
	if path == "events" && r.Method == http.MethodGet {
		s.serveEvents(rec, r, query)
		return
	}
	if strings.HasSuffix(path, "/") {
		writeError(rec, http.StatusNotFound, "ARI URLs do not end with a slash. Try /ari/"+strings.TrimRight(path, "/"))
		return
	}
	if err := mergeBody(r, query); err != nil {
		writeError(rec, http.StatusBadRequest, "Error parsing request body")
		return
	}
	c := &call{w: rec, r: r, path: path, seg: strings.Split(path, "/"), query: query}
	s.route(c)
}

// mergeBody folds a JSON body's keys into the query the way Asterisk does:
// every key but "variables" (and "fields") is a parameter.
func mergeBody(r *http.Request, query url.Values) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for k, raw := range body {
		if k == "variables" {
			query.Set("\x00variables", string(raw))
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		switch v := v.(type) {
		case string:
			query.Set(k, v)
		case float64, bool:
			query.Set(k, fmt.Sprint(v))
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			query.Set(k, strings.Join(parts, ","))
		}
	}
	return nil
}

func (s *Server) authorized(r *http.Request, q url.Values) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return u == s.opts.User && p == s.opts.Password
	}
	if key := q.Get("api_key"); key != "" {
		u, p, ok := strings.Cut(key, ":")
		return ok && u == s.opts.User && p == s.opts.Password
	}
	return false
}

// route dispatches a REST call by its path segments.
func (s *Server) route(c *call) {
	switch c.seg[0] {
	case "asterisk":
		s.routeAsterisk(c)
	case "applications":
		s.routeApplications(c)
	case "channels":
		s.routeChannels(c)
	case "bridges":
		s.routeBridges(c)
	case "playbacks":
		s.routePlaybacks(c)
	case "recordings":
		s.routeRecordings(c)
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

// methods answers 405 unless the method is one of those allowed.
func methodNotAllowed(c *call) {
	writeError(c.w, http.StatusMethodNotAllowed, "Invalid method")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes ARI's error body, {"message": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// allocFailed is ast_ari_response_alloc_failed: note the "error" key.
func allocFailed(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Allocation failed"})
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// created writes 201 with a Location header, as Asterisk does for playbacks
// and recordings.
func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}

// timeString is Asterisk's JSON time format.
func timeString(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

// newUniqueID makes an id like Asterisk's: "<unix seconds>.<sequence>".
func (s *Server) newUniqueID() string {
	s.idseq++
	return fmt.Sprintf("%d.%d", s.started.Unix(), s.idseq)
}
