package aritest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/websocket"
)

// eventConn is one event WebSocket: a queue that never drops and one writer.
type eventConn struct {
	apps   map[string]bool
	ws     *websocket.Conn
	notify chan struct{}
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	queue [][]byte
}

func (c *eventConn) has(app string) bool { return c.apps[app] }

func (c *eventConn) enqueue(b []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, b)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *eventConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.mu.Lock()
		ws := c.ws
		c.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
	})
}

// serveEvents is GET /ari/events?app=NAME[,NAME...][&subscribeAll=true].
// Any application name registers that application, as in Asterisk.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, q url.Values) {
	var apps []string
	for _, v := range q["app"] {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				apps = append(apps, a)
			}
		}
	}
	if len(apps) == 0 {
		httpError(w, http.StatusBadRequest, "Bad Request", "HTTP request is missing param: [app]")
		return
	}
	all := isTrue(q.Get("subscribeAll"))
	c := &eventConn{apps: map[string]bool{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
	for _, a := range apps {
		c.apps[a] = true
	}
	srv := websocket.Server{
		// Asterisk registers the applications before it completes the
		// upgrade, so no event is lost between the 101 and the first read.
		// It does not check the Origin header.
		Handshake: func(*websocket.Config, *http.Request) error {
			return s.register(c, apps, all)
		},
		Handler: func(ws *websocket.Conn) {
			s.runEvents(c, ws)
		},
	}
	if rec, ok := w.(*statusRecorder); ok {
		rec.status = http.StatusSwitchingProtocols
		w = rec.ResponseWriter
	}
	srv.ServeHTTP(w, r)
	// A handshake that failed after registering leaves nothing behind.
	select {
	case <-c.done:
	default:
		c.mu.Lock()
		started := c.ws != nil
		c.mu.Unlock()
		if !started {
			c.close()
			s.dropConn(c)
		}
	}
}

func (s *Server) register(c *eventConn, apps []string, all bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server closed")
	}
	for _, a := range apps {
		app, ok := s.apps[a]
		if !ok {
			app = &application{name: a}
			s.apps[a] = app
		}
		if all {
			app.all = true
		}
	}
	s.conns[c] = struct{}{}
	return nil
}

func (s *Server) runEvents(c *eventConn, ws *websocket.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(2)
	s.mu.Unlock()
	defer s.wg.Done()
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()
	select {
	case <-c.done: // dropped before it started
		_ = ws.Close()
	default:
	}

	// The reader notices the client going away; Asterisk ignores what a
	// client sends on the event socket here.
	go func() {
		defer s.wg.Done()
		var msg []byte
		for {
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				c.close()
				return
			}
		}
	}()

	for {
		select {
		case <-c.done:
			s.dropConn(c)
			return
		case <-c.notify:
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, b := range batch {
			if err := websocket.Message.Send(ws, string(b)); err != nil {
				c.close()
				break
			}
			s.eventsSt.Add(1)
		}
	}
}

func (s *Server) dropConn(c *eventConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// DropWebSockets closes every event WebSocket now; clients may reconnect.
// Channels stay in Stasis; events meant for an application while it has no
// WebSocket are lost, as with Asterisk.
func (s *Server) DropWebSockets() {
	s.mu.Lock()
	conns := make([]*eventConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// Connected reports how many event WebSockets are open for an application.
func (s *Server) Connected(app string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.has(app) {
			n++
		}
	}
	return n
}

// httpError is Asterisk's plain HTTP error page (used before a WebSocket
// upgrade, where ARI's JSON bodies do not apply).
func httpError(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n"+
		"<html><head>\r\n<title>%d %s</title>\r\n</head><body>\r\n<h1>%s</h1>\r\n<p>%s</p>\r\n<hr />\r\n"+
		"<address>Asterisk Server</address>\r\n</body></html>\r\n", status, title, title, text)
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}
