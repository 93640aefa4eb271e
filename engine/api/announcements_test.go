package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/announce"
)

// goodWAV is n samples of 8 kHz mono 16-bit PCM, written by media's own
// encoder.
func goodWAV(t testing.TB, n int) []byte {
	t.Helper()
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((i%40)*800 - 16000)
	}
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, 1, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wavWith is a WAV with any fmt fields and data bytes.
func wavWith(channels uint16, rate uint32, bits uint16, data []byte) []byte {
	le := binary.LittleEndian
	align := channels * bits / 8
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, channels)
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, rate*uint32(align))
	b = le.AppendUint16(b, align)
	b = le.AppendUint16(b, bits)
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// annEnv is a server with a real announcement store (on disk) and the
// test Directory for everything else.
type annEnv struct {
	store *announce.Store
	dir   string
	eng   *fakeEngine
	url   string
}

func newAnnEnv(t *testing.T, opts announce.Options) annEnv {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	st, err := announce.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return newAnnEnvWith(t, st, st, opts.Dir)
}

func newAnnEnvWith(t *testing.T, st *announce.Store, ann Announcements, dir string) annEnv {
	t.Helper()
	eng := newFakeEngine()
	s := NewServer(Config{
		Engine: eng, Tenants: testTenants, Directory: testDir{}, Announcements: ann,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return annEnv{store: st, dir: dir, eng: eng, url: srv.URL}
}

// send does a request as tenant (user:pass, "" for none) and returns the
// response and its body.
func send(t *testing.T, method, u, auth, ctype string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if user, pass, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const (
	auth101 = "101:tok101"
	auth202 = "202:tok202"
)

func (e annEnv) upload(t *testing.T, auth, query string, file []byte) (*http.Response, []byte) {
	t.Helper()
	return send(t, "POST", e.url+"/v1/announcements"+query, auth, "audio/wav", file)
}

func mustStatus(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if code != "" {
		if got := v1Code(t, body); got != code {
			t.Fatalf("%s %s: code %s (%s), want %s", resp.Request.Method, resp.Request.URL.Path, got, body, code)
		}
	}
}

func TestAnnouncementLifecycle(t *testing.T) {
	e := newAnnEnv(t, announce.Options{})
	file := goodWAV(t, 12000)

	resp, body := e.upload(t, auth101, "?id=1610448601_84.wav&name=Welcome", file)
	mustStatus(t, resp, body, 201, "")
	v := decodeAs[announcementView](t, body)
	if v.ID != "1610448601_84.wav" || v.UserID != "101" || v.Name != "Welcome" || v.Shared || v.DurationMS != 1500 || v.Size != int64(len(file)) || v.CreatedAt.IsZero() {
		t.Errorf("uploaded: %s", body)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/announcements/1610448601_84.wav" {
		t.Errorf("Location %q", loc)
	}
	if got, err := os.ReadFile(filepath.Join(e.dir, "101", "1610448601_84.wav")); err != nil || !bytes.Equal(got, file) {
		t.Errorf("file on disk: %v", err)
	}

	// Without an id one is generated, in the spec's style.
	resp, body = e.upload(t, auth101, "", file)
	mustStatus(t, resp, body, 201, "")
	gen := decodeAs[announcementView](t, body).ID
	if !regexp.MustCompile(`^[0-9]{10,}_[0-9]+\.wav$`).MatchString(gen) {
		t.Errorf("generated id %q", gen)
	}

	resp, body = send(t, "GET", e.url+"/v1/announcements/1610448601_84.wav", auth101, "", nil)
	mustStatus(t, resp, body, 200, "")
	if got := decodeAs[announcementView](t, body); got != v {
		t.Errorf("GET %s, want %+v", body, v)
	}

	resp, body = send(t, "GET", e.url+"/v1/announcements", auth101, "", nil)
	mustStatus(t, resp, body, 200, "")
	list := decodeAs[struct{ Announcements []announcementView }](t, body).Announcements
	var ids []string
	hold := ""
	for _, a := range list {
		ids = append(ids, a.ID)
		if a.Hold {
			hold = a.ID
		}
	}
	want := []string{gen, "1610448601_84.wav", announce.BeepID, announce.HoldID, announce.RingbackID}
	slices.Sort(want)
	if fmt.Sprint(ids) != fmt.Sprint(want) || hold != announce.HoldID {
		t.Errorf("list %v (hold %q), want %v", ids, hold, want)
	}

	resp, body = send(t, "GET", e.url+"/v1/announcements/1610448601_84.wav/audio", auth101, "", nil)
	mustStatus(t, resp, body, 200, "")
	if !bytes.Equal(body, file) || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("audio: %d bytes, %s", len(body), resp.Header.Get("Content-Type"))
	}
	resp, body = send(t, "GET", e.url+"/v1/announcements/ringback.wav/audio", auth101, "", nil)
	if pcm, err := media.DecodeWAV(bytes.NewReader(body)); resp.StatusCode != 200 || err != nil || pcm.Duration().Seconds() != 6 {
		t.Errorf("built-in audio: %d %v", resp.StatusCode, err)
	}

	resp, body = send(t, "DELETE", e.url+"/v1/announcements/1610448601_84.wav", auth101, "", nil)
	mustStatus(t, resp, body, 204, "")
	for _, path := range []string{"/v1/announcements/1610448601_84.wav", "/v1/announcements/1610448601_84.wav/audio"} {
		resp, body = send(t, "GET", e.url+path, auth101, "", nil)
		mustStatus(t, resp, body, 404, "not_found")
	}
	resp, body = send(t, "DELETE", e.url+"/v1/announcements/1610448601_84.wav", auth101, "", nil)
	mustStatus(t, resp, body, 404, "not_found")
	if _, err := os.Stat(filepath.Join(e.dir, "101", "1610448601_84.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file after delete: %v", err)
	}
}

func TestAnnouncementMultipartUpload(t *testing.T) {
	e := newAnnEnv(t, announce.Options{})
	file := goodWAV(t, 800)
	form := func(fields map[string]string, files map[string][]byte) ([]byte, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		for name, data := range files {
			fw, _ := mw.CreateFormFile("file", name)
			fw.Write(data)
		}
		mw.Close()
		return b.Bytes(), mw.FormDataContentType()
	}

	body, ctype := form(map[string]string{"id": "promo.wav"}, map[string][]byte{"Spring promo.wav": file})
	resp, b := send(t, "POST", e.url+"/v1/announcements", auth101, ctype, body)
	mustStatus(t, resp, b, 201, "")
	if v := decodeAs[announcementView](t, b); v.ID != "promo.wav" || v.Name != "Spring promo.wav" || v.DurationMS != 100 {
		t.Errorf("multipart upload: %s", b)
	}

	body, ctype = form(map[string]string{"name": "Hello"}, map[string][]byte{"x.wav": file})
	resp, b = send(t, "POST", e.url+"/v1/announcements?id=hello.wav", auth101, ctype, body)
	mustStatus(t, resp, b, 201, "")
	if v := decodeAs[announcementView](t, b); v.ID != "hello.wav" || v.Name != "Hello" {
		t.Errorf("multipart upload with the id in the query: %s", b)
	}

	tests := []struct {
		name   string
		query  string
		fields map[string]string
		files  map[string][]byte
		status int
		code   string
	}{
		{"no file", "", map[string]string{"id": "a.wav"}, nil, 400, "invalid_value"},
		{"two files", "", nil, map[string][]byte{"a.wav": file, "b.wav": file}, 400, "invalid_value"},
		{"unknown field", "", map[string]string{"colour": "red"}, map[string][]byte{"a.wav": file}, 400, "unknown_parameter"},
		{"ids disagree", "?id=a.wav", map[string]string{"id": "b.wav"}, map[string][]byte{"a.wav": file}, 400, "invalid_value"},
		{"stereo file", "", nil, map[string][]byte{"a.wav": wavWith(2, 8000, 16, make([]byte, 400))}, 400, "invalid_audio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := form(tc.fields, tc.files)
			resp, b := send(t, "POST", e.url+"/v1/announcements"+tc.query, auth101, ctype, body)
			mustStatus(t, resp, b, tc.status, tc.code)
		})
	}
	resp, b = send(t, "POST", e.url+"/v1/announcements", auth101, "multipart/form-data", []byte("x"))
	mustStatus(t, resp, b, 400, "read_failed")
	resp, b = send(t, "POST", e.url+"/v1/announcements", auth101, "multipart/form-data; boundary=zz", []byte("not multipart"))
	mustStatus(t, resp, b, 400, "read_failed")
}

// TestAnnouncementUploadRefused: every bad upload is a 4xx with a code
// and a message, and stores nothing.
func TestAnnouncementUploadRefused(t *testing.T) {
	e := newAnnEnv(t, announce.Options{MaxBytes: 64 << 10})
	good := goodWAV(t, 800)
	if resp, b := e.upload(t, auth101, "?id=taken.wav", good); resp.StatusCode != 201 {
		t.Fatalf("setup: %s", b)
	}
	tests := []struct {
		name   string
		query  string
		ctype  string
		file   []byte
		status int
		code   string
		msg    string
	}{
		{"44.1 kHz", "", "audio/wav", wavWith(1, 44100, 16, make([]byte, 800)), 400, "invalid_audio", "sample rate must be 8000 Hz, got 44100"},
		{"stereo", "", "audio/wav", wavWith(2, 8000, 16, make([]byte, 800)), 400, "invalid_audio", "mono"},
		{"8-bit PCM", "", "audio/x-wav", wavWith(1, 8000, 8, make([]byte, 800)), 400, "invalid_audio", "16-bit"},
		{"truncated", "", "audio/wav", good[:len(good)-99], 400, "invalid_audio", "truncated"},
		{"not a WAV", "", "application/octet-stream", []byte("ID3\x04\x00\x00\x00\x00\x00\x00an mp3"), 400, "invalid_audio", "not a RIFF file"},
		{"empty", "", "audio/wav", []byte{}, 400, "invalid_audio", "empty"},
		{"too big", "", "audio/wav", goodWAV(t, 40000), 413, "body_too_large", "64 KiB"},
		{"too big, chunked", "?chunked", "audio/wav", goodWAV(t, 40000), 413, "body_too_large", "64 KiB"},
		{"form body", "", "application/x-www-form-urlencoded", good, 415, "unsupported_media_type", "audio/wav"},
		{"JSON body", "", "application/json", []byte(`{"id":"x.wav"}`), 415, "unsupported_media_type", "multipart"},
		{"bad Content-Type", "", "audio/", good, 415, "unsupported_media_type", "Content-Type"},
		{"id with a path", "?id=..%2Fx.wav", "audio/wav", good, 400, "invalid_value", ".wav"},
		{"id without .wav", "?id=welcome", "audio/wav", good, 400, "invalid_value", ".wav"},
		{"id too long", "?id=" + strings.Repeat("a", 47) + ".wav", "audio/wav", good, 400, "invalid_value", "50"},
		{"id twice", "?id=a.wav&id=b.wav", "audio/wav", good, 400, "invalid_value", "more than once"},
		{"unknown parameter", "?colour=red", "audio/wav", good, 400, "unknown_parameter", "colour"},
		{"name too long", "?name=" + strings.Repeat("n", 101), "audio/wav", good, 400, "invalid_value", "100"},
		{"id taken", "?id=taken.wav", "audio/wav", good, 409, "exists", "taken.wav"},
		{"shared id", "?id=" + announce.HoldID, "audio/wav", good, 409, "exists", "shared"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := e.url + "/v1/announcements" + strings.TrimSuffix(tc.query, "?chunked")
			var body io.Reader = bytes.NewReader(tc.file)
			if strings.HasSuffix(tc.query, "?chunked") {
				body = io.MultiReader(body) // no Content-Length: the body is read up to the limit
			}
			req, _ := http.NewRequest("POST", u, body)
			req.SetBasicAuth("101", "tok101")
			req.Header.Set("Content-Type", tc.ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			mustStatus(t, resp, b, tc.status, tc.code)
			var eb v1ErrorBody
			json.Unmarshal(b, &eb)
			if !strings.Contains(eb.Error.Message, tc.msg) {
				t.Errorf("message %q does not say %q", eb.Error.Message, tc.msg)
			}
		})
	}
	list, err := e.store.List("101")
	if err != nil || len(list) != 4 { // taken.wav and the three built-ins
		t.Errorf("after refusals the tenant has %d announcements (%v)", len(list), err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.dir, "101"))
	for _, en := range entries {
		if en.Name() != "taken.wav" && en.Name() != "taken.wav.json" {
			t.Errorf("file left behind: %s", en.Name())
		}
	}
}

func TestAnnouncementTenantIsolation(t *testing.T) {
	e := newAnnEnv(t, announce.Options{})
	if resp, b := e.upload(t, auth101, "?id=mine.wav", goodWAV(t, 800)); resp.StatusCode != 201 {
		t.Fatalf("upload: %s", b)
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/announcements/mine.wav"},
		{"GET", "/v1/announcements/mine.wav/audio"},
		{"DELETE", "/v1/announcements/mine.wav"},
	} {
		resp, b := send(t, tc.method, e.url+tc.path, auth202, "", nil)
		mustStatus(t, resp, b, 404, "not_found")
	}
	resp, b := send(t, "GET", e.url+"/v1/announcements", auth202, "", nil)
	mustStatus(t, resp, b, 200, "")
	if bytes.Contains(b, []byte("mine.wav")) {
		t.Errorf("tenant 202 lists tenant 101's: %s", b)
	}
	// 202 may use the same id for its own.
	resp, b = e.upload(t, auth202, "?id=mine.wav", goodWAV(t, 1600))
	mustStatus(t, resp, b, 201, "")
	resp, b = send(t, "GET", e.url+"/v1/announcements/mine.wav", auth101, "", nil)
	if v := decodeAs[announcementView](t, b); v.DurationMS != 100 || v.UserID != "101" {
		t.Errorf("101's announcement after 202's upload: %s", b)
	}
	// Shared ones are read-only for everybody.
	resp, b = send(t, "DELETE", e.url+"/v1/announcements/"+announce.RingbackID, auth101, "", nil)
	mustStatus(t, resp, b, 403, "read_only")
	// An id that breaks the rules is simply unknown.
	resp, b = send(t, "GET", e.url+"/v1/announcements/..%2F202%2Fmine.wav", auth101, "", nil)
	mustStatus(t, resp, b, 404, "")
}

func TestAnnouncementAuthAndNotConfigured(t *testing.T) {
	e := newAnnEnv(t, announce.Options{})
	for _, auth := range []string{"", "101:wrong", "999:tok101"} {
		resp, b := send(t, "GET", e.url+"/v1/announcements", auth, "", nil)
		mustStatus(t, resp, b, 401, "unauthorized")
		resp, b = send(t, "POST", e.url+"/v1/announcements", auth, "audio/wav", goodWAV(t, 80))
		mustStatus(t, resp, b, 401, "unauthorized")
	}
	srv := newTestServer(t, newFakeEngine()) // no announcement store
	resp, b := send(t, "GET", srv.URL+"/v1/announcements", auth101, "", nil)
	mustStatus(t, resp, b, 501, "not_configured")
}

// failingAnnouncements is a store whose look-ups and writes fail, as a
// disk that cannot be read would.
type failingAnnouncements struct{ Announcements }

var errDiskGone = errors.New("input/output error")

func (failingAnnouncements) Lookup(string, string) (*announce.Announcement, error) {
	return nil, errDiskGone
}
func (failingAnnouncements) List(string) ([]*announce.Announcement, error) { return nil, errDiskGone }
func (failingAnnouncements) Add(string, announce.Upload, io.Reader) (*announce.Announcement, error) {
	return nil, errDiskGone
}
func (failingAnnouncements) Delete(string, string) error { return errDiskGone }

func TestAnnouncementStoreFails(t *testing.T) {
	st, err := announce.New(announce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newAnnEnvWith(t, st, failingAnnouncements{st}, "")
	for _, tc := range []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/v1/announcements", nil},
		{"GET", "/v1/announcements/a.wav", nil},
		{"DELETE", "/v1/announcements/a.wav", nil},
		{"POST", "/v1/announcements", goodWAV(t, 80)},
	} {
		resp, b := send(t, tc.method, e.url+tc.path, auth101, "audio/wav", tc.body)
		mustStatus(t, resp, b, 503, "1501")
		if resp.Header.Get("Retry-After") != "5" || bytes.Contains(b, []byte(errDiskGone.Error())) {
			t.Errorf("%s %s: Retry-After %q, body %s", tc.method, tc.path, resp.Header.Get("Retry-After"), b)
		}
	}
	// Click-to-call naming an announcement: 1501, nothing dialed.
	resp := postForm(t, e.url+"/v2/clickToCall/para", params("ringTone=ringback.wav"))
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 503 || body["code"] != "1501" || e.eng.originateCount() != 0 {
		t.Errorf("click-to-call with a failing store: %d %v", resp.StatusCode, body)
	}
}

// TestClickToCallAnnouncementCodes: ringTone and alertAudio are checked
// against the store for the request's tenant (its own uploads and the
// shared announcements): unknown ids are 1535 and 1546, in the spec's
// order of checks.
func TestClickToCallAnnouncementCodes(t *testing.T) {
	shared := t.TempDir()
	os.WriteFile(filepath.Join(shared, "music.wav"), goodWAV(t, 800), 0o644)
	e := newAnnEnv(t, announce.Options{SharedDir: shared})
	for _, id := range []string{"1610448601_84.wav", "1610448601_85.wav"} {
		if resp, b := e.upload(t, auth101, "?id="+id, goodWAV(t, 800)); resp.StatusCode != 201 {
			t.Fatalf("upload: %s", b)
		}
	}
	tests := []struct {
		name   string
		tenant string
		mods   []string
		code   string
	}{
		{"own ringTone", "101", []string{"ringTone=1610448601_84.wav"}, "200"},
		{"built-in ringTone", "101", []string{"ringTone=ringback.wav"}, "200"},
		{"shared-directory ringTone", "202", []string{"ringTone=music.wav"}, "200"},
		{"unknown ringTone", "101", []string{"ringTone=nosuch.wav"}, "1535"},
		{"ringTone without .wav", "101", []string{"ringTone=ann1"}, "1535"},
		{"ringTone of another tenant", "202", []string{"ringTone=1610448601_84.wav"}, "1535"},
		{"ringTone with a path", "101", []string{"ringTone=../101/1610448601_84.wav"}, "1535"},
		{"own alertAudio", "101", []string{"timeLimit=300", "timeLimtAlert=120,240", "alertAudio=1610448601_84.wav,1610448601_85.wav"}, "200"},
		{"shared alertAudio", "202", []string{"timeLimit=300", "timeLimitAlert=120", "alertAudio=beep.wav"}, "200"},
		{"unknown alertAudio", "101", []string{"timeLimit=300", "timeLimtAlert=120,240", "alertAudio=1610448601_84.wav,nosuch.wav"}, "1546"},
		{"alertAudio of another tenant", "202", []string{"timeLimit=300", "timeLimitAlert=120", "alertAudio=1610448601_85.wav"}, "1546"},
		// alertAudio (step 9) is checked before ringTone (step 10).
		{"both unknown", "101", []string{"timeLimit=300", "timeLimitAlert=120", "alertAudio=nosuch.wav", "ringTone=nosuch.wav"}, "1546"},
		{"alertAudio known, ringTone unknown", "101", []string{"timeLimit=300", "timeLimitAlert=120", "alertAudio=beep.wav", "ringTone=nosuch.wav"}, "1535"},
		// timeLimitAlert's own checks come first.
		{"bad mark before unknown audio", "101", []string{"timeLimit=300", "timeLimitAlert=0", "alertAudio=nosuch.wav"}, "1545"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := params(append(tc.mods, "mode=developer")...)
			if tc.tenant == "202" {
				v.Set("user_id", "202")
				v.Set("token", "tok202")
			}
			resp := postForm(t, e.url+"/v2/clickToCall/para", v)
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body["code"] != tc.code {
				t.Fatalf("code %s (%v), want %s", body["code"], body, tc.code)
			}
			if tc.code != "200" && resp.StatusCode != 400 {
				t.Errorf("HTTP %d", resp.StatusCode)
			}
		})
	}

	// The JSON API runs the same checks.
	c := v1Client{t, e.url, "101", "tok101"}
	c.want("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789","ringTone":"nosuch.wav"}`, 400, "1535")
	c.want("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789","timeLimit":300,"timeLimitAlert":[60],"alertAudio":["nosuch.wav"]}`, 400, "1546")
	b := c.want("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789","ringTone":"1610448601_84.wav","timeLimit":300,"timeLimitAlert":[60,120],"alertAudio":["beep.wav"]}`, 201, "")
	if !bytes.Contains(b, []byte(`"ring_tone":"1610448601_84.wav"`)) {
		t.Errorf("call record: %s", b)
	}
	if reqs := e.eng.requests(); len(reqs) != 1 || reqs[0].RingTone != "1610448601_84.wav" || fmt.Sprint(reqs[0].AlertAudio) != "[beep.wav]" {
		t.Errorf("originated %+v", reqs)
	}

	// Deleted, the id is unknown again.
	resp, body := send(t, "DELETE", e.url+"/v1/announcements/1610448601_84.wav", auth101, "", nil)
	mustStatus(t, resp, body, 204, "")
	r := postForm(t, e.url+"/v2/clickToCall/para", params("ringTone=1610448601_84.wav"))
	var got map[string]string
	json.NewDecoder(r.Body).Decode(&got)
	if got["code"] != "1535" {
		t.Errorf("ringTone after delete: %v", got)
	}
}

// TestAnnouncementDirectoryWraps: with an announcement store the other
// look-ups still come from the Directory.
func TestAnnouncementDirectoryWraps(t *testing.T) {
	st, err := announce.New(announce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := announcementDirectory{Directory: testDir{}, ann: st}
	ctx := context.Background()
	if _, ok, _ := d.Agent(ctx, "101", "a1"); !ok {
		t.Error("agent a1 lost")
	}
	if ok, _ := d.Announcement(ctx, "101", "ann1"); ok {
		t.Error("the Directory's announcements still answer")
	}
	if ok, err := d.Announcement(ctx, "101", announce.HoldID); !ok || err != nil {
		t.Errorf("hold: %v %v", ok, err)
	}
}
