package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/engine"
)

func decodeSpec(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body: %v", err)
	}
	return body
}

func TestClickToCallQueryString(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	// The spec's own example: everything in the query, an empty body.
	resp, err := http.Post(srv.URL+"/v2/clickToCall/para?"+params().Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := decodeSpec(t, resp)
	if resp.StatusCode != 200 || body["status"] != "success" || body["code"] != "200" || body["callid"] == "" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	if reqs := eng.requests(); len(reqs) != 1 || reqs[0].From.Values[0] != "9876543210" {
		t.Fatalf("originated %+v", reqs)
	}
	if c, err := eng.Get(context.Background(), "101", body["callid"]); err != nil || c.Tenant != "101" {
		t.Fatalf("call %v %v", c, err)
	}
	raw, _ := json.Marshal(specSuccessBody{CallID: "x", Status: "success", Code: "200"})
	if string(raw) != `{"callid":"x","status":"success","code":"200"}` {
		t.Fatalf("success shape %s", raw)
	}
}

func TestClickToCallBodies(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)

	// Form body, credentials in the query.
	v := params("-user_id", "-token")
	resp, err := http.Post(srv.URL+"/v2/clickToCall/para?user_id=101&token=tok101", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("form body: %d", resp.StatusCode)
	}

	// multipart/form-data, as PHP's cURL sends an array of fields.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vals := range params("toRingTime=30") {
		_ = mw.WriteField(k, vals[0])
	}
	fw, _ := mw.CreateFormFile("upload", "x.txt")
	_, _ = fw.Write([]byte("ignored"))
	_ = mw.Close()
	resp, err = http.Post(srv.URL+"/v2/clickToCall/para", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || eng.requests()[1].To.RingTime != 30 {
		t.Fatalf("multipart: %d", resp.StatusCode)
	}
}

func TestClickToCallDeveloperMode(t *testing.T) {
	eng := newFakeEngine()
	eng.OriginateFn = func(context.Context, string, engine.CallRequest) (*engine.Call, error) {
		t.Error("developer mode dialed")
		return nil, errors.New("no")
	}
	srv := newTestServer(t, eng)
	for _, mode := range []string{"developer", "DEVELOPER"} {
		resp := postForm(t, srv.URL+"/v2/clickToCall/para", params("mode="+mode))
		body := decodeSpec(t, resp)
		if resp.StatusCode != 200 || body["status"] != "success" || body["code"] != "200" {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
		if id, ok := body["callid"]; !ok || id != "" {
			t.Fatalf("developer callid = %q, %v", id, ok)
		}
	}
	// Developer mode still validates.
	resp := postForm(t, srv.URL+"/v2/clickToCall/para", params("mode=developer", "fromRingTime=99"))
	if body := decodeSpec(t, resp); body["code"] != "1550" {
		t.Fatalf("got %v", body)
	}
	if eng.originateCount() != 0 {
		t.Fatal("Originate called")
	}
}

func TestClickToCallEngineErrors(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		retryAfter string
	}{
		{engine.ErrDraining, 503, "5"},
		{fmt.Errorf("wrapped: %w", engine.ErrTooManyCalls), 429, "1"},
		{errors.New("record call: redis: connection refused"), 503, ""},
	}
	for _, tc := range cases {
		eng := newFakeEngine()
		eng.OriginateFn = func(context.Context, string, engine.CallRequest) (*engine.Call, error) { return nil, tc.err }
		srv := newTestServer(t, eng)
		resp := postForm(t, srv.URL+"/v2/clickToCall/para", params())
		body := decodeSpec(t, resp)
		if resp.StatusCode != tc.status || body["code"] != "1501" || body["status"] != "error" {
			t.Errorf("%v: %d %v", tc.err, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%v: Retry-After %q", tc.err, got)
		}
		if strings.Contains(body["message"], "redis") {
			t.Errorf("internal error leaked: %q", body["message"])
		}
	}
}

func TestClickToCallHostileInput(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	endpoint := srv.URL + "/v2/clickToCall/para"

	resp, err := http.Get(endpoint + "?" + params().Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body := decodeSpec(t, resp); resp.StatusCode != 405 || body["code"] != "1539" || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d %v", resp.StatusCode, body)
	}

	huge := params("ringTone=" + strings.Repeat("a", 70<<10)).Encode()
	resp, err = http.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(huge))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body := decodeSpec(t, resp); resp.StatusCode != 413 || body["code"] != "1539" || body["status"] != "error" {
		t.Fatalf("huge body: %d %v", resp.StatusCode, body)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("from", strings.Repeat("9", 70<<10))
	_ = mw.Close()
	resp, err = http.Post(endpoint, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("huge multipart body: %d", resp.StatusCode)
	}

	many := params()
	for i := 0; i < 100; i++ {
		many.Set(fmt.Sprintf("k%d", i), "x")
	}
	if resp := postForm(t, endpoint, many); resp.StatusCode != 400 || decodeSpec(t, resp)["code"] != "1539" {
		t.Fatalf("too many parameters: %d", resp.StatusCode)
	}

	resp, err = http.Post(endpoint+"?user_id=101&from=%zz", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body := decodeSpec(t, resp); resp.StatusCode != 400 || body["code"] != "1539" {
		t.Fatalf("bad escape: %d %v", resp.StatusCode, body)
	}
	if eng.originateCount() != 0 {
		t.Fatal("Originate called")
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	eng := newFakeEngine()
	eng.OriginateFn = func(context.Context, string, engine.CallRequest) (*engine.Call, error) { panic("boom") }
	s := NewServer(Config{Engine: eng, Tenants: testTenants, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := s.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v2/clickToCall/para?"+params().Encode(), nil))
	var body map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 500 || body["status"] != "error" || body["code"] != "1501" {
		t.Fatalf("v2 panic: %d %s", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/calls", strings.NewReader(`{"from":"9876543210","to":"9123456789"}`))
	req.SetBasicAuth("101", "tok101")
	h.ServeHTTP(rec, req)
	var v1 v1ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &v1)
	if rec.Code != 500 || v1.Error.Code != "internal" {
		t.Fatalf("v1 panic: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestHealth(t *testing.T) {
	eng := newFakeEngine()
	var ready error
	draining := false
	eng.ReadyFn = func(context.Context) error { return ready }
	eng.DrainingFn = func() bool { return draining }
	srv := newTestServer(t, eng)
	get := func(path string) (int, map[string]string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	if code, m := get("/healthz"); code != 200 || m["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, m)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	ready = errors.New("store: dial tcp: connection refused")
	if code, m := get("/readyz"); code != 503 || !strings.Contains(m["reason"], "store") {
		t.Fatalf("readyz %d %v", code, m)
	}
	ready, draining = nil, true
	if code, m := get("/readyz"); code != 503 || m["reason"] != engine.ErrDraining.Error() {
		t.Fatalf("readyz draining %d %v", code, m)
	}
}
