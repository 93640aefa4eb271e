package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

func TestParsePeriod(t *testing.T) {
	ist := time.FixedZone("+05:30", 5*3600+1800)
	d := func(loc *time.Location, v ...int) time.Time {
		for len(v) < 6 {
			v = append(v, 0)
		}
		return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc)
	}
	for _, tc := range []struct {
		in       string
		loc      *time.Location
		from, to time.Time
	}{
		{"2025-01", time.UTC, d(time.UTC, 2025, 1, 1), d(time.UTC, 2025, 2, 1)},
		{"2025-12", time.UTC, d(time.UTC, 2025, 12, 1), d(time.UTC, 2026, 1, 1)},
		{"2024-02-29", time.UTC, d(time.UTC, 2024, 2, 29), d(time.UTC, 2024, 3, 1)},
		{"2025-03-31", ist, d(ist, 2025, 3, 31), d(ist, 2025, 4, 1)},
		{"2025-06-07 08:09:10", time.UTC, d(time.UTC, 2025, 6, 7, 8, 9, 10), time.Time{}},
		{"2025-06-07T08:09:10", ist, d(ist, 2025, 6, 7, 8, 9, 10), time.Time{}},
	} {
		from, to, err := parsePeriod(tc.in, tc.loc)
		if err != nil || !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("%q: [%v, %v) %v; want [%v, %v)", tc.in, from, to, err, tc.from, tc.to)
		}
	}
	// A day of a zone with daylight saving: 23 hours long.
	ny, err := parseTZ("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	if from, to, err := parsePeriod("2025-03-09", ny); err != nil || to.Sub(from) != 23*time.Hour {
		t.Errorf("a spring-forward day: [%v, %v) %v", from, to, err)
	}
	for _, bad := range []string{
		"", "2025", "2025-1", "2025-13", "2025-00", "25-01-01", "2025/01/01", "2025-02-30", "2025-01-32",
		"2025-01-01 24:00:00", "2025-01-01 12:60:00", "2025-01-01 12:00", "2025-01-01 12:00:00Z",
		"2025-01-01T12:00:00+05:30", "2025-01-01X12:00:00", "yesterday", "2025-01-01 12:00:00.5",
		" 2025-01", "2025-01 ",
	} {
		if from, to, err := parsePeriod(bad, time.UTC); err == nil {
			t.Errorf("%q: [%v, %v), want an error", bad, from, to)
		}
	}
}

func TestParseTZ(t *testing.T) {
	at := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
	for in, off := range map[string]int{
		"UTC": 0, "utc": 0, "Z": 0, "+05:30": 19800, "+0530": 19800, "-08": -28800, "+14:00": 50400,
		"-00:30": -1800, "Asia/Kolkata": 19800, "America/New_York": -18000, "Etc/GMT+2": -7200,
	} {
		loc, err := parseTZ(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if _, got := at.In(loc).Zone(); got != off {
			t.Errorf("%q: offset %d, want %d", in, got, off)
		}
	}
	for _, bad := range []string{"Local", "Mars/Olympus", "+15:00", "+05:60", "+5:30", "+053", "05:30", "+05:30:00", "+-5:00", "++0530", "/etc/localtime", "../zoneinfo", "+", "-"} {
		if loc, err := parseTZ(bad); err == nil {
			t.Errorf("%q: %v, want an error", bad, loc)
		}
	}
}

// TestCallLogQuery checks what each parameter becomes in the query the
// engine is asked.
func TestCallLogQuery(t *testing.T) {
	eng := newFakeEngine()
	eng.put(&engine.Call{ID: "c-known", Tenant: "101"})
	c := v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		params string
		want   engine.CallQuery
	}{
		{"", engine.CallQuery{}},
		{"status=MISSED", engine.CallQuery{Status: "missed"}},
		{"status=from_hungup&state=ended", engine.CallQuery{Status: "from_hungup", State: "ended"}},
		{"state=ivr", engine.CallQuery{State: "ivr"}},
		{"direction=Incoming", engine.CallQuery{Direction: engine.DirectionInbound}},
		{"direction=OUTGOING", engine.CallQuery{Direction: engine.DirectionOutbound}},
		{"direction=inbound", engine.CallQuery{Direction: engine.DirectionInbound}},
		{"group=sales.eu&app=app_1", engine.CallQuery{Group: "sales.eu", App: "app_1"}},
		{"caller=%2B919876543210", engine.CallQuery{Caller: "+919876543210"}},
		{"since=c-known", engine.CallQuery{After: "c-known"}},
		{"since=c-known&until=2025-01-02T00:00:00Z", engine.CallQuery{After: "c-known", Until: d("2025-01-02T00:00:00Z")}},
		{"datetime=2025-02", engine.CallQuery{Since: d("2025-02-01T00:00:00Z"), Until: d("2025-03-01T00:00:00Z")}},
		{"datetime=2025-02-03&tz=%2B05:30", engine.CallQuery{Since: d("2025-02-03T00:00:00+05:30"), Until: d("2025-02-04T00:00:00+05:30")}},
		{"datetime=2025-02-03&tz=Asia/Kolkata", engine.CallQuery{Since: d("2025-02-03T00:00:00+05:30"), Until: d("2025-02-04T00:00:00+05:30")}},
		{"datetime=2025-02-03+10:11:12", engine.CallQuery{Since: d("2025-02-03T10:11:12Z")}},
		{"datetime=2025-02-03%2010:11:12&until=2025-02-04T00:00:00Z", engine.CallQuery{Since: d("2025-02-03T10:11:12Z"), Until: d("2025-02-04T00:00:00Z")}},
		// datetime and since/until are and-ed: the later start, the
		// earlier end.
		{"datetime=2025-02&since=2025-02-10T00:00:00Z", engine.CallQuery{Since: d("2025-02-10T00:00:00Z"), Until: d("2025-03-01T00:00:00Z")}},
		{"datetime=2025-02&since=2025-01-10T00:00:00Z&until=2025-02-20T00:00:00Z", engine.CallQuery{Since: d("2025-02-01T00:00:00Z"), Until: d("2025-02-20T00:00:00Z")}},
		{"tz=Asia/Kolkata", engine.CallQuery{}},
		{"pg=3&limit=20", engine.CallQuery{Page: 3, Limit: 20, Count: true}},
		{"format=spec", engine.CallQuery{Page: 1, Count: true}},
		{"format=SPEC&pg=2", engine.CallQuery{Page: 2, Count: true}},
		// A repeat of the same value is the same request.
		{"group=g1&group=g1", engine.CallQuery{Group: "g1"}},
	} {
		resp, b := c.do("GET", "/v1/calls?"+tc.params, "")
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", tc.params, resp.StatusCode, b)
			continue
		}
		eng.mu.Lock()
		q := eng.queries[len(eng.queries)-1]
		eng.mu.Unlock()
		tc.want.Tenant = "101"
		if !q.Since.Equal(tc.want.Since) || !q.Until.Equal(tc.want.Until) {
			t.Errorf("%s: since %v until %v, want %v and %v", tc.params, q.Since, q.Until, tc.want.Since, tc.want.Until)
		}
		q.Since, q.Until, tc.want.Since, tc.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if q != tc.want {
			t.Errorf("%s: query %+v, want %+v", tc.params, q, tc.want)
		}
	}
}

// TestCallLogBadParams checks that every bad value is 400 invalid_value
// with a message naming the parameter, and reaches no store.
func TestCallLogBadParams(t *testing.T) {
	eng := newFakeEngine()
	eng.put(&engine.Call{ID: "c-other", Tenant: "202"})
	c := v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}
	for _, tc := range []struct{ params, names string }{
		{"state=ringing", "state"},
		{"status=done", "status"},
		{"status=", ""}, // empty: absent
		{"direction=sideways", "direction"},
		{"direction=in", "direction"},
		{"group=" + strings.Repeat("g", 51), "group"},
		{"group=a%20b", "group"},
		{"group=a/b", "group"},
		{"app=%C3%A9", "app"},
		{"caller=" + strings.Repeat("1", 65), "caller"},
		{"caller=%2B91%20987", "caller"},
		{"caller=%00", "caller"},
		{"since=2025-13-01T00:00:00Z", "since"},
		{"since=2025-01-01", "since"},
		{"since=2025-01-01%2012:00:00", "since"},
		{"since=" + strings.Repeat("c", 129), "since"},
		{"since=a%20b", "since"},
		{"since=no-such-call", "since"},
		{"since=c-other", "since"}, // another tenant's call
		{"until=c-known", "until"},
		{"until=2025-01-01", "until"},
		{"since=2025-01-02T00:00:00Z&until=2025-01-02T00:00:00Z", "since"},
		{"datetime=2025", "datetime"},
		{"datetime=2025-02-30", "datetime"},
		{"datetime=2025-01-01T00:00:00Z", "datetime"},
		{"datetime=yesterday", "datetime"},
		{"tz=Mars/Olympus", "tz"},
		{"tz=Local", "tz"},
		{"tz=%2B25:00&datetime=2025-01", "tz"},
		{"limit=501", "limit"},
		{"limit=-1", "limit"},
		{"pg=0", "pg"},
		{"pg=-2", "pg"},
		{"pg=two", "pg"},
		{"pg=1.5", "pg"},
		{"pg=99999999999", "pg"},
		{"pg=2&cursor=abc", "pg"},
		{"format=xml", "format"},
		{"group=g1&group=g2", "group"},
		{"pg=1&pg=2", "pg"},
	} {
		before := len(eng.queries)
		resp, b := c.do("GET", "/v1/calls?"+tc.params, "")
		if tc.names == "" {
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %s", tc.params, resp.StatusCode, b)
			}
			continue
		}
		var e v1ErrorBody
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != 400 || e.Error.Code != "invalid_value" || !strings.Contains(e.Error.Message, tc.names) {
			t.Errorf("%s: %d %s; want 400 invalid_value naming %s", tc.params, resp.StatusCode, b, tc.names)
		}
		eng.mu.Lock()
		if len(eng.queries) != before {
			t.Errorf("%s: reached the engine's List", tc.params)
		}
		eng.mu.Unlock()
	}
}

// TestCallLogStoreRefusals checks the store's own refusals: 400 for the
// client's mistakes, 503 for a failure.
func TestCallLogStoreRefusals(t *testing.T) {
	eng := newFakeEngine()
	eng.put(&engine.Call{ID: "c1", Tenant: "101"})
	c := v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}
	for _, tc := range []struct {
		err    error
		params string
		status int
		code   string
		says   string
	}{
		{fmt.Errorf("store: %w", engine.ErrPageTooDeep), "pg=900&limit=20", 400, "invalid_value", "pg 900"},
		{fmt.Errorf("store: %w", engine.ErrUnknownAfter), "since=c1", 400, "invalid_value", "since"},
		{fmt.Errorf("store: %w", engine.ErrBadCursor), "cursor=abc", 400, "invalid_value", "cursor"},
		{fmt.Errorf("store: %w", context.DeadlineExceeded), "pg=2", 503, "1501", ""},
	} {
		eng.ListFn = func(context.Context, engine.CallQuery) (engine.CallPage, error) { return engine.CallPage{}, tc.err }
		resp, b := c.do("GET", "/v1/calls?"+tc.params, "")
		var e v1ErrorBody
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.says) {
			t.Errorf("%v: %d %s", tc.err, resp.StatusCode, b)
		}
	}
}

// callLogEnv is a server over a memory store holding calls of tenant 101.
type callLogEnv struct {
	c   v1Client
	st  *memory.Store
	eng *fakeEngine
}

func newCallLogEnv(t *testing.T, n int) callLogEnv {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	eng := newFakeEngine()
	eng.ListFn = st.ListCalls
	base := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
	for i := range n {
		c := &engine.Call{ID: fmt.Sprintf("call-%02d", i), Tenant: "101", Node: "n1", State: engine.StateEnded,
			Outcome: engine.OutcomeCompleted, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if i%2 == 1 {
			c.Direction, c.Caller, c.App = engine.DirectionInbound, "+15550001", "app-1"
		}
		if err := st.CreateCall(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if err := st.EndCall(t.Context(), c, 0); err != nil {
			t.Fatal(err)
		}
		eng.put(c)
	}
	return callLogEnv{v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}, st, eng}
}

func (e callLogEnv) page(params string) callLogJSON {
	e.c.t.Helper()
	resp, b := e.c.do("GET", "/v1/calls?"+params, "")
	if resp.StatusCode != 200 {
		e.c.t.Fatalf("%s: %d %s", params, resp.StatusCode, b)
	}
	var out callLogJSON
	if err := json.Unmarshal(b, &out); err != nil {
		e.c.t.Fatalf("%s: %v in %s", params, err, b)
	}
	return out
}

func callIDs(vs []callView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func TestCallLogEnvelope(t *testing.T) {
	e := newCallLogEnv(t, 12)
	p := e.page("pg=2&limit=5&direction=Incoming&format=spec")
	want := pageJSON{
		TotalItems: 6, PageItems: 1, PageNumber: 2, PageSize: 5, TotalPages: 2, StartIndex: 6, EndIndex: 6,
		Cur:   "/v1/calls?direction=Incoming&format=spec&limit=5&pg=2",
		First: "/v1/calls?direction=Incoming&format=spec&limit=5&pg=1",
		Last:  "/v1/calls?direction=Incoming&format=spec&limit=5&pg=2",
		Prev:  "/v1/calls?direction=Incoming&format=spec&limit=5&pg=1",
	}
	if p.Page != want {
		t.Fatalf("page\n got %+v\nwant %+v", p.Page, want)
	}
	if !slices.Equal(callIDs(p.Data), []string{"call-01"}) || p.NextCursor != "" {
		t.Fatalf("data %v, cursor %q", callIDs(p.Data), p.NextCursor)
	}

	// format=spec alone is page 1; links carry the query, pg set.
	p = e.page("format=spec&limit=5")
	if p.Page.PageNumber != 1 || p.Page.TotalItems != 12 || p.Page.TotalPages != 3 || p.Page.StartIndex != 1 || p.Page.EndIndex != 5 ||
		p.Page.Next != "/v1/calls?format=spec&limit=5&pg=2" || p.Page.Prev != "" || p.Page.Last != "/v1/calls?format=spec&limit=5&pg=3" {
		t.Fatalf("first page: %+v", p.Page)
	}
	if !slices.Equal(callIDs(p.Data), []string{"call-11", "call-10", "call-09", "call-08", "call-07"}) || p.NextCursor == "" {
		t.Fatalf("first page data %v, cursor %q", callIDs(p.Data), p.NextCursor)
	}
	// Following next walks every page once, and the cursor of a page
	// continues where pg+1 starts.
	var walked []string
	for link, n := "/v1/calls?format=spec&limit=5&pg=1", 0; link != ""; n++ {
		if n > 5 {
			t.Fatal("next links do not end")
		}
		p := e.page(strings.TrimPrefix(link, "/v1/calls?"))
		walked = append(walked, callIDs(p.Data)...)
		if p.Page.Next != "" {
			next := e.page(strings.TrimPrefix(p.Page.Next, "/v1/calls?"))
			resp, b := e.c.do("GET", "/v1/calls?limit=5&cursor="+url.QueryEscape(p.NextCursor), "")
			var plain callListJSON
			if err := json.Unmarshal(b, &plain); err != nil || resp.StatusCode != 200 {
				t.Fatalf("by cursor: %d %s", resp.StatusCode, b)
			}
			if !slices.Equal(callIDs(plain.Calls), callIDs(next.Data)) {
				t.Fatalf("cursor page %v, pg+1 %v", callIDs(plain.Calls), callIDs(next.Data))
			}
		}
		link = p.Page.Next
	}
	if len(walked) != 12 || walked[0] != "call-11" || walked[11] != "call-00" {
		t.Fatalf("walked %v", walked)
	}

	// Past the end: empty data, the page object still right.
	p = e.page("pg=9&limit=5")
	if len(p.Data) != 0 || p.Data == nil || p.Page.PageItems != 0 || p.Page.StartIndex != 0 || p.Page.EndIndex != 0 ||
		p.Page.TotalItems != 12 || p.Page.Next != "" || p.Page.Prev != "/v1/calls?limit=5&pg=8" {
		t.Fatalf("past the end: %+v %v", p.Page, p.Data)
	}
	// Nothing matches: one empty page.
	p = e.page("pg=1&group=nobody")
	if p.Page.TotalItems != 0 || p.Page.TotalPages != 1 || p.Page.Last != "/v1/calls?group=nobody&pg=1" || len(p.Data) != 0 {
		t.Fatalf("no match: %+v", p.Page)
	}
	// The plain shape stays without pg or format.
	resp, b := e.c.do("GET", "/v1/calls?limit=2", "")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || resp.StatusCode != 200 || raw["calls"] == nil || raw["page"] != nil || raw["next_cursor"] == nil {
		t.Fatalf("plain shape: %d %s", resp.StatusCode, b)
	}
}

// TestCallLogCapped checks the envelope of a count cut short by the scan
// limit.
func TestCallLogCapped(t *testing.T) {
	eng := newFakeEngine()
	eng.ListFn = func(_ context.Context, q engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{Calls: []*engine.Call{{ID: "c", Tenant: q.Tenant}}, Total: engine.DefaultScanLimit, TotalCapped: true, NextCursor: "x"}, nil
	}
	c := v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}
	_, b := c.do("GET", "/v1/calls?pg=1&limit=1", "")
	var raw struct {
		Page map[string]any `json:"page"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Page["totalItemsCapped"] != true || raw.Page["totalItems"] != float64(engine.DefaultScanLimit) ||
		raw.Page["totalPages"] != float64(engine.DefaultScanLimit) {
		t.Fatalf("capped: %s", b)
	}
	eng.ListFn = func(_ context.Context, q engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{Total: 3}, nil
	}
	if _, b = c.do("GET", "/v1/calls?pg=1", ""); strings.Contains(string(b), "totalItemsCapped") {
		t.Fatalf("exact count says capped: %s", b)
	}
}

// TestCallLogIncremental polls with since=<the newest call seen>.
func TestCallLogIncremental(t *testing.T) {
	e := newCallLogEnv(t, 6)
	first := e.page("format=spec&limit=2")
	newest := first.Data[0].ID
	if p := e.page("format=spec&since=" + newest); p.Page.TotalItems != 0 || len(p.Data) != 0 {
		t.Fatalf("nothing new: %+v", p.Page)
	}
	p := e.page("format=spec&since=call-02")
	if !slices.Equal(callIDs(p.Data), []string{"call-05", "call-04", "call-03"}) || p.Page.TotalItems != 3 {
		t.Fatalf("after call-02: %v %+v", callIDs(p.Data), p.Page)
	}
	// With a filter, and by time too.
	if p := e.page("format=spec&since=call-02&direction=outbound"); !slices.Equal(callIDs(p.Data), []string{"call-04"}) {
		t.Fatalf("after call-02, outbound: %v", callIDs(p.Data))
	}
	if p := e.page("format=spec&since=2025-02-03T10:04:00Z"); !slices.Equal(callIDs(p.Data), []string{"call-05", "call-04"}) {
		t.Fatalf("since a time: %v", callIDs(p.Data))
	}
	if p := e.page("format=spec&datetime=2025-02-03%2010:03:00&caller=%2B15550001"); !slices.Equal(callIDs(p.Data), []string{"call-05", "call-03"}) {
		t.Fatalf("datetime from a second on, caller: %v", callIDs(p.Data))
	}
	if p := e.page("format=spec&datetime=2025-02-03&tz=%2B05:30"); len(p.Data) != 6 {
		t.Fatalf("the day in +05:30 holds 10:00 UTC: %v", callIDs(p.Data))
	}
	if p := e.page("format=spec&datetime=2025-02-04&tz=%2B13:55"); !slices.Equal(callIDs(p.Data), []string{"call-05"}) {
		t.Fatalf("the 4th in +13:55 starts at 10:05 UTC on the 3rd: %v", callIDs(p.Data))
	}
	if p := e.page("format=spec&datetime=2025-02-02&tz=-14:00"); len(p.Data) != 6 {
		t.Fatalf("the 2nd in -14:00 ends at 14:00 UTC on the 3rd: %v", callIDs(p.Data))
	}
}

func TestCallView(t *testing.T) {
	at := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
	ptr := func(d time.Duration) *time.Time { v := at.Add(d); return &v }
	c := &engine.Call{ID: "cv", Tenant: "101", Direction: engine.DirectionInbound, Caller: "+1555", State: engine.StateBridged,
		CreatedAt: at, RecordingURL: "/v1/calls/cv/recording",
		Legs: []*engine.Leg{
			{ID: "cv-4", Seq: 4, Side: engine.SideTo, Number: "+1444", AgentID: "a2", AgentName: "Ravi", GroupID: "sales",
				State: engine.LegRinging, CreatedAt: at.Add(9 * time.Second)},
			{ID: "cv-1", Seq: 1, Side: engine.SideFrom, Number: "+1555", Inbound: true, State: engine.LegAnswered, CreatedAt: at},
			{ID: "cv-2", Seq: 2, Side: engine.SideTo, Number: "+1222", AgentID: "a1", AgentName: "Asha", GroupID: "sales",
				State: engine.LegEnded, Disposition: engine.DispNoAnswer, CreatedAt: at.Add(time.Second), EndedAt: ptr(21*time.Second + 600*time.Millisecond)},
			{ID: "cv-3", Seq: 3, Side: engine.SideTo, AgentID: "a3", TargetType: engine.TargetGroup, Target: "sales", GroupID: "sales",
				State: engine.LegEnded, Disposition: engine.DispSkipped, Reason: "not logged in", CreatedAt: at.Add(8 * time.Second), EndedAt: ptr(8 * time.Second)},
			{ID: "cv-5", Seq: 5, Side: engine.SideTo, Number: "+1555", TargetType: engine.TargetNumber, Target: "+1555",
				State: engine.LegAnswered, CreatedAt: at.Add(30 * time.Second), AnsweredAt: ptr(32*time.Second + 400*time.Millisecond)},
		}}
	b, err := json.Marshal(newCallView(c))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID            string            `json:"callid"`
		Direction     string            `json:"direction"`
		CallDirection string            `json:"call_direction"`
		RecordingURL  string            `json:"recording_url"`
		Legs          []json.RawMessage `json:"legs"`
		Attempts      []map[string]any  `json:"attempts"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "cv" || got.Direction != "inbound" || got.CallDirection != "Incoming" || got.RecordingURL != "/v1/calls/cv/recording" || len(got.Legs) != 5 {
		t.Fatalf("call: %s", b)
	}
	want := []map[string]any{
		{"attemptId": "cv-2", "seq": 2.0, "side": "to", "to": "+1222", "name": "Asha", "agent_id": "a1", "group": "sales",
			"time": "2025-02-03T10:00:01Z", "du": 21.0, "disposition": "noanswer"},
		{"attemptId": "cv-3", "seq": 3.0, "side": "to", "to": "a3", "agent_id": "a3", "group": "sales",
			"time": "2025-02-03T10:00:08Z", "du": 0.0, "disposition": "skipped", "reason": "not logged in"},
		{"attemptId": "cv-4", "seq": 4.0, "side": "to", "to": "+1444", "name": "Ravi", "agent_id": "a2", "group": "sales",
			"time": "2025-02-03T10:00:09Z", "disposition": "ringing"},
		{"attemptId": "cv-5", "seq": 5.0, "side": "to", "to": "+1555",
			"time": "2025-02-03T10:00:30Z", "du": 2.0, "disposition": "answered"},
	}
	if len(got.Attempts) != len(want) {
		t.Fatalf("attempts: %s", b)
	}
	for i := range want {
		if g, w := fmt.Sprint(got.Attempts[i]), fmt.Sprint(want[i]); g != w {
			t.Errorf("attempt %d\n got %s\nwant %s", i, g, w)
		}
	}

	// An old record: no direction is outbound; no legs, no attempts.
	b, _ = json.Marshal(newCallView(&engine.Call{ID: "old", CreatedAt: at}))
	if !strings.Contains(string(b), `"direction":"outbound","call_direction":"Outgoing","attempts":[]`) {
		t.Fatalf("old record: %s", b)
	}
}

// TestCallLogGetAndList checks that GET /v1/calls/{id} and both list
// shapes carry the view.
func TestCallLogGetAndList(t *testing.T) {
	eng := newFakeEngine()
	at := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
	call := &engine.Call{ID: "g1", Tenant: "101", CreatedAt: at, State: engine.StateEnded,
		Legs: []*engine.Leg{{ID: "g1-1", Seq: 1, Side: engine.SideFrom, Number: "+1222", Disposition: engine.DispBusy, CreatedAt: at, EndedAt: &at}}}
	eng.put(call)
	eng.ListFn = func(context.Context, engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{Calls: []*engine.Call{call.Clone()}, Total: 1}, nil
	}
	c := v1Client{t, newTestServer(t, eng).URL, "101", "tok101"}
	for _, path := range []string{"/v1/calls/g1", "/v1/calls", "/v1/calls?pg=1"} {
		resp, b := c.do("GET", path, "")
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"attempts":[{"attemptId":"g1-1","seq":1,"side":"from","to":"+1222","time":"2025-02-03T10:00:00Z","du":0,"disposition":"busy"}]`) ||
			!strings.Contains(string(b), `"call_direction":"Outgoing"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}
