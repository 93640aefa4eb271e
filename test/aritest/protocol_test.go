package aritest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/websocket"
)

func TestAuth(t *testing.T) {
	s := Start(t, Options{})
	base := s.URL()

	get := func(u string, basic bool, user, pass string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		if basic {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get(base+"/asterisk/info", true, "switchboard", "secret"); r.StatusCode != 200 {
		t.Fatalf("basic: %d", r.StatusCode)
	}
	if r := get(base+"/asterisk/info?api_key=switchboard:secret", false, "", ""); r.StatusCode != 200 {
		t.Fatalf("api_key: %d", r.StatusCode)
	}
	for _, r := range []*http.Response{
		get(base+"/asterisk/info", false, "", ""),
		get(base+"/asterisk/info", true, "switchboard", "wrong"),
		get(base+"/asterisk/info?api_key=switchboard:wrong", false, "", ""),
	} {
		if r.StatusCode != 401 {
			t.Fatalf("bad credentials: %d", r.StatusCode)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="Asterisk REST Interface"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	}
	// The event socket refuses bad credentials before the upgrade.
	if _, err := websocket.Dial(wsURL(s, "switchboard", false), "", "http://localhost/"); err == nil {
		t.Fatal("websocket without credentials was accepted")
	}
	// A missing app is a 400 before the upgrade.
	resp := get(base+"/events?api_key=switchboard:secret", false, "", "")
	if resp.StatusCode != 400 {
		t.Fatalf("events without app: %d", resp.StatusCode)
	}
	for _, r := range s.Requests() {
		if r.Path == "/ari/asterisk/info" && r.Status == 0 {
			t.Fatalf("request without status: %+v", r)
		}
	}
}

func TestErrorBodies(t *testing.T) {
	s := Start(t, Options{})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	r.errorBody(404, "Channel not found", "GET", "/channels/nope", nil)
	r.errorBody(404, "Channel not found", "DELETE", "/channels/nope", nil)
	r.errorBody(404, "Channel not found", "POST", "/channels/nope/answer", nil)
	r.errorBody(404, "Bridge not found", "GET", "/bridges/nope", nil)
	r.errorBody(404, "Bridge not found", "POST", "/bridges/nope/addChannel", vals("channel", "x"))
	r.errorBody(404, "Playback not found", "GET", "/playbacks/nope", nil)
	r.errorBody(404, "Recording not found", "GET", "/recordings/live/nope", nil)
	r.errorBody(404, "Recording not found", "GET", "/recordings/stored/nope", nil)
	r.errorBody(404, "Resource not found", "GET", "/nothing", nil)
	r.errorBody(404, "Application not found", "GET", "/applications/nope", nil)
	r.errorBody(400, "Endpoint must be specified", "POST", "/channels", vals("app", "switchboard"))
	r.errorBody(400, "Invalid endpoint specified", "POST", "/channels", vals("endpoint", "PJSIP", "app", "switchboard"))
	r.errorBody(400, "Application or extension must be specified", "POST", "/channels", vals("endpoint", "PJSIP/1000@trunk"))

	// Asterisk's allocation failure uses an "error" key, not "message".
	st, b := r.do("POST", "/channels", vals("endpoint", "Bogus/1000", "app", "switchboard"), nil)
	if st != 500 || !strings.Contains(string(b), `"error":"Allocation failed"`) {
		t.Fatalf("unknown technology: %d %s", st, b)
	}

	ch := r.must(200, "POST", "/channels/c1", vals("endpoint", "PJSIP/1000@trunk", "app", "switchboard"), nil)
	if ch["id"] != "c1" {
		t.Fatalf("originate with id: %v", ch)
	}
	r.errorBody(409, "Channel with given unique ID already exists", "POST", "/channels/c1", vals("endpoint", "PJSIP/1000@trunk", "app", "switchboard"))
	// Not yet answered: not in Stasis.
	r.errorBody(409, "Channel not in Stasis application", "POST", "/channels/c1/answer", nil)
	ev.next(func(e event) bool { return e.Type == "StasisStart" })
	r.errorBody(400, "Invalid reason for hangup reason provided", "DELETE", "/channels/c1", vals("reason", "bogus"))
	r.errorBody(400, "The reason and reason_code can't both be specified", "DELETE", "/channels/c1", vals("reason", "busy", "reason_code", "17"))
	r.errorBody(400, "DTMF is required", "POST", "/channels/c1/dtmf", nil)
	r.errorBody(422, "specified format is unknown on this system", "POST", "/channels/c1/record", vals("name", "r", "format", "mp9"))
	r.must(200, "POST", "/bridges/b", nil, nil)
	r.errorBody(400, "Missing parameter channel", "POST", "/bridges/b/addChannel", nil)
	r.errorBody(400, "Channel not found", "POST", "/bridges/b/addChannel", vals("channel", "nope"))
	r.errorBody(409, "Bridge with id 'b' already exists", "POST", "/bridges/b", nil)
}

func TestAsteriskAndApplications(t *testing.T) {
	s := Start(t, Options{App: "sb"})
	r := newRest(t, s)
	info := r.must(200, "GET", "/asterisk/info", nil, nil)
	sys, _ := info["system"].(map[string]any)
	if sys["version"] != Version || sys["entity_id"] == "" {
		t.Fatalf("info: %v", info)
	}
	connect(t, s, "other")
	st, b := r.do("GET", "/applications", nil, nil)
	var apps []map[string]any
	if st != 200 || json.Unmarshal(b, &apps) != nil || len(apps) != 2 {
		t.Fatalf("applications: %d %s", st, b)
	}
	app := r.must(200, "GET", "/applications/sb", nil, nil)
	if app["name"] != "sb" {
		t.Fatalf("application: %v", app)
	}
}
