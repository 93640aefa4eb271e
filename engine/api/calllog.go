package api

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	// The time zones of tz are built in, so that they do not depend on
	// the host's zoneinfo.
	_ "time/tzdata"

	"github.com/switchboard/switchboard/engine"
)

// The call log: GET /v1/calls and GET /v1/calls/{callid} show each call
// as a callView, and GET /v1/calls takes the filters and paging of the
// call-log specs (see "Call log" in the package comment).

// callView is a call as the call log shows it: the record, its direction
// spelt out, and its transfer attempts.
type callView struct {
	*engine.Call
	// Direction is the record's, outbound for a record without one.
	Direction engine.Direction `json:"direction"`
	// CallDirection is the spec's spelling: Incoming or Outgoing.
	CallDirection string `json:"call_direction"`
	// Attempts are the legs dialed or considered for the call, by Seq.
	Attempts []attemptView `json:"attempts"`
}

// attemptView is one attempt to reach an endpoint, with the keys of the
// spec's transfer attempts.
type attemptView struct {
	AttemptID string          `json:"attemptId"`
	Seq       int             `json:"seq"`
	Side      engine.SideName `json:"side"`
	// To is the number dialed; for an attempt that dialed nothing (an
	// agent skipped), the agent or else the target the request named.
	To      string `json:"to"`
	Name    string `json:"name,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
	Group   string `json:"group,omitempty"`
	// Time is when the attempt was made (the leg's CreatedAt).
	Time time.Time `json:"time"`
	// Du is the ring time in whole seconds: from the attempt to its
	// answer, or to its end when unanswered; absent while it rings.
	Du *int64 `json:"du,omitempty"`
	// Disposition is how the attempt ended, or while it is live its
	// state (dialing, ringing, answered).
	Disposition string `json:"disposition"`
	// Reason says why, for a skipped agent above all.
	Reason string `json:"reason,omitempty"`
}

// newCallView returns the call-log view of c.
func newCallView(c *engine.Call) callView {
	v := callView{Call: c, Direction: c.Direction, CallDirection: "Outgoing", Attempts: []attemptView{}}
	if v.Direction == "" {
		v.Direction = engine.DirectionOutbound
	}
	if v.Direction == engine.DirectionInbound {
		v.CallDirection = "Incoming"
	}
	legs := slices.Clone(c.Legs)
	slices.SortStableFunc(legs, func(a, b *engine.Leg) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, l := range legs {
		if l == nil || l.Inbound {
			continue // the caller's own leg: answered, not dialed
		}
		v.Attempts = append(v.Attempts, newAttemptView(l))
	}
	return v
}

func newAttemptView(l *engine.Leg) attemptView {
	a := attemptView{
		AttemptID: l.ID, Seq: l.Seq, Side: l.Side, To: cmp.Or(l.Number, l.AgentID, l.Target),
		Name: l.AgentName, AgentID: l.AgentID, Group: l.GroupID, Time: l.CreatedAt,
		Disposition: cmp.Or(string(l.Disposition), string(l.State)), Reason: l.Reason,
	}
	end := l.AnsweredAt
	if end == nil {
		end = l.EndedAt
	}
	if end != nil {
		du := int64(math.Round(max(end.Sub(l.CreatedAt), 0).Seconds()))
		a.Du = &du
	}
	return a
}

// callListJSON is GET /v1/calls without pg or format=spec.
type callListJSON struct {
	Calls      []callView `json:"calls"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// callLogJSON is GET /v1/calls with pg or format=spec: the spec's call
// log page.
type callLogJSON struct {
	Page       pageJSON   `json:"page"`
	Data       []callView `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// pageJSON is the spec's page object, with pageSize, next and prev
// besides.
type pageJSON struct {
	TotalItems int `json:"totalItems"`
	// TotalItemsCapped: the count stopped at engine.DefaultScanLimit
	// calls examined with calls left, so totalItems and totalPages are
	// lower bounds.
	TotalItemsCapped bool   `json:"totalItemsCapped,omitempty"`
	PageItems        int    `json:"pageItems"`
	PageNumber       int    `json:"pageNumber"`
	PageSize         int    `json:"pageSize"`
	TotalPages       int    `json:"totalPages"`
	StartIndex       int    `json:"startIndex"`
	EndIndex         int    `json:"endIndex"`
	Cur              string `json:"cur"`
	First            string `json:"first"`
	Last             string `json:"last"`
	Next             string `json:"next,omitempty"`
	Prev             string `json:"prev,omitempty"`
}

// callLogRequest is a parsed GET /v1/calls.
type callLogRequest struct {
	q engine.CallQuery
	// spec: answer with the spec's page envelope (pg or format=spec).
	spec bool
}

// The parameters GET /v1/calls reads; each may be given once.
var callLogParams = []string{
	"state", "status", "direction", "group", "app", "caller",
	"since", "until", "datetime", "tz", "limit", "cursor", "pg", "format",
}

// maxPageNumber bounds pg (the store refuses far smaller pages anyway,
// unless they lie past every call).
const maxPageNumber = 1_000_000_000

// parseCallLog reads the parameters of GET /v1/calls; a message says what
// is wrong.
func parseCallLog(r *http.Request, tenant string) (callLogRequest, string) {
	qv := r.URL.Query()
	for _, name := range callLogParams {
		if vs := qv[name]; len(vs) > 1 && slices.ContainsFunc(vs[1:], func(v string) bool { return v != vs[0] }) {
			return callLogRequest{}, name + " is given more than once with different values"
		}
	}
	req := callLogRequest{q: engine.CallQuery{Tenant: tenant, State: qv.Get("state"), Cursor: qv.Get("cursor")}}
	q := &req.q
	switch engine.CallState(q.State) {
	case "", "live", engine.StateIVR, engine.StateDialingFrom, engine.StateDialingTo, engine.StateBridged, engine.StateEnded:
	default:
		return req, "state must be live, ivr, dialing_from, dialing_to, bridged or ended"
	}
	if v := qv.Get("status"); v != "" {
		q.Status = strings.ToLower(v)
		if !engine.ValidCallStatus(q.Status) {
			return req, "status must be one of " + strings.Join(engine.CallStatuses, ", ")
		}
	}
	if v := qv.Get("direction"); v != "" {
		switch strings.ToLower(v) {
		case "inbound", "incoming":
			q.Direction = engine.DirectionInbound
		case "outbound", "outgoing":
			q.Direction = engine.DirectionOutbound
		default:
			return req, "direction must be inbound (or Incoming) or outbound (or Outgoing)"
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"group", &q.Group}, {"app", &q.App}} {
		if v := qv.Get(f.name); v != "" {
			if !validID(v) {
				return req, f.name + " must be an id: 1 to 50 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
			}
			*f.v = v
		}
	}
	if v := qv.Get("caller"); v != "" {
		if !validCaller(v) {
			return req, "caller must be a number as calls carry it: 1 to 64 printable characters without spaces"
		}
		q.Caller = v
	}
	if msg := parseCallLogTimes(qv, q); msg != "" {
		return req, msg
	}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 500 {
			return req, "limit must be an integer from 0 (the default page of 50) to 500"
		}
		q.Limit = n
	}
	if len(q.Cursor) > 256 {
		return req, "cursor is not one this API handed out"
	}
	switch v := qv.Get("format"); strings.ToLower(v) {
	case "":
	case "spec":
		req.spec = true
	default:
		return req, "format must be spec (the page envelope) or absent"
	}
	if v := qv.Get("pg"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageNumber {
			return req, "pg must be a page number from 1"
		}
		if q.Cursor != "" {
			return req, "pg and cursor cannot be combined: page by number (pg) or by next_cursor"
		}
		q.Page, req.spec = n, true
	}
	if req.spec {
		q.Count = true
		q.Page = max(q.Page, 1)
	}
	return req, ""
}

// parseCallLogTimes reads since, until, datetime and tz into q.
func parseCallLogTimes(qv url.Values, q *engine.CallQuery) string {
	if v := qv.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case err == nil:
			q.Since = t
		case looksLikeTime(v):
			return "since must be an RFC 3339 time, like 2025-01-02T15:04:05Z, or a call id"
		case len(v) > maxCallIDLen || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return "since must be an RFC 3339 time, like 2025-01-02T15:04:05Z, or a call id"
		default:
			q.After = v
		}
	}
	if v := qv.Get("until"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return "until must be an RFC 3339 time, like 2025-01-02T15:04:05Z"
		}
		q.Until = t
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return "since must be before until"
	}
	loc := time.UTC
	if v := qv.Get("tz"); v != "" {
		var err error
		if loc, err = parseTZ(v); err != nil {
			return "tz must be an IANA time zone, like Asia/Kolkata, or an offset from UTC, like +05:30: " + err.Error()
		}
	}
	if v := qv.Get("datetime"); v != "" {
		from, to, err := parsePeriod(v, loc)
		if err != nil {
			return "datetime must be YYYY-MM (that month), YYYY-MM-DD (that day) or YYYY-MM-DD HH:MM:SS (from that second on): " + err.Error()
		}
		// And-ed with since and until: the later start, the earlier end.
		if q.Since.IsZero() || from.After(q.Since) {
			q.Since = from
		}
		if !to.IsZero() && (q.Until.IsZero() || to.Before(q.Until)) {
			q.Until = to
		}
	}
	return ""
}

// looksLikeTime reports whether v starts as a date does (four digits and
// a dash): such a since is a time written wrong, not a call id.
func looksLikeTime(v string) bool {
	if len(v) < 5 || v[4] != '-' {
		return false
	}
	for i := range 4 {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// validCaller: 1 to 64 printable ASCII characters, no spaces.
func validCaller(v string) bool {
	if len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return false
		}
	}
	return v != ""
}

// parsePeriod reads the datetime of the call-log specs in loc: YYYY-MM is
// that month and YYYY-MM-DD that day, [from, to); YYYY-MM-DD HH:MM:SS
// (or with a T) is from that second on, to being zero.
func parsePeriod(v string, loc *time.Location) (from, to time.Time, err error) {
	switch len(v) {
	case len("2006-01"):
		from, err = time.ParseInLocation("2006-01", v, loc)
		return from, from.AddDate(0, 1, 0), err
	case len("2006-01-02"):
		from, err = time.ParseInLocation(time.DateOnly, v, loc)
		return from, from.AddDate(0, 0, 1), err
	case len("2006-01-02 15:04:05"):
		layout := time.DateTime
		if v[10] == 'T' {
			layout = "2006-01-02T15:04:05"
		}
		from, err = time.ParseInLocation(layout, v, loc)
		return from, time.Time{}, err
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q has none of these lengths", v)
}

// parseTZ reads tz: an IANA zone name, UTC or Z, or an offset ±HH:MM (or
// ±HHMM, ±HH) of at most 14 hours.
func parseTZ(v string) (*time.Location, error) {
	if v == "Z" || strings.EqualFold(v, "UTC") {
		return time.UTC, nil
	}
	if v[0] == '+' || v[0] == '-' {
		digits := strings.Replace(v[1:], ":", "", 1)
		if len(digits) == 2 {
			digits += "00"
		}
		h, herr := strconv.Atoi(digits[:min(2, len(digits))])
		m, merr := strconv.Atoi(digits[min(2, len(digits)):])
		if len(digits) != 4 || herr != nil || merr != nil || h > 14 || m > 59 || strings.ContainsAny(digits, "+-") {
			return nil, fmt.Errorf("offset %q is not ±HH:MM within 14 hours", v)
		}
		off := (h*60 + m) * 60
		if v[0] == '-' {
			off = -off
		}
		return time.FixedZone(v, off), nil
	}
	if v == "Local" || strings.HasPrefix(v, "/") {
		return nil, fmt.Errorf("unknown time zone %q", v)
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", v)
	}
	return loc, nil
}

// callLogFailure answers the client mistakes a store finds in a listing
// (400) and reports whether err was one.
func callLogFailure(w http.ResponseWriter, q engine.CallQuery, err error) bool {
	switch {
	case errors.Is(err, engine.ErrBadCursor):
		// The client's mistake, which a retry would repeat: no 503.
		writeV1Error(w, http.StatusBadRequest, "invalid_value",
			"cursor is not one this API handed out: pass next_cursor exactly as received, or leave cursor out to start from the newest call")
	case errors.Is(err, engine.ErrUnknownAfter):
		writeV1Error(w, http.StatusBadRequest, "invalid_value",
			fmt.Sprintf("since names no call of yours (%q is unknown, or past its retention): pass the id of a call a listing returned, or an RFC 3339 time", q.After))
	case errors.Is(err, engine.ErrPageTooDeep):
		writeV1Error(w, http.StatusBadRequest, "invalid_value",
			fmt.Sprintf("pg %d starts beyond the %d calls a listing examines: narrow the listing (since, until, datetime) or page on with next_cursor", q.Page, engine.DefaultScanLimit))
	default:
		return false
	}
	return true
}

// callLogPage builds the spec's envelope for a page of r's listing.
func callLogPage(r *http.Request, q engine.CallQuery, page engine.CallPage) callLogJSON {
	size := max(q.Limit, 0)
	if size == 0 {
		size = 50
	}
	size = min(size, 500)
	out := callLogJSON{Data: views(page.Calls), NextCursor: page.NextCursor}
	p := &out.Page
	p.TotalItems, p.TotalItemsCapped = page.Total, page.TotalCapped
	p.PageItems, p.PageNumber, p.PageSize = len(page.Calls), q.Page, size
	p.TotalPages = max(1, (page.Total+size-1)/size)
	if p.PageItems > 0 {
		p.StartIndex = (q.Page-1)*size + 1
		p.EndIndex = p.StartIndex + p.PageItems - 1
	}
	link := func(pg int) string {
		v := r.URL.Query()
		v.Del("cursor")
		v.Set("pg", strconv.Itoa(pg))
		return "/v1/calls?" + v.Encode()
	}
	p.Cur, p.First, p.Last = link(q.Page), link(1), link(p.TotalPages)
	if page.NextCursor != "" {
		p.Next = link(q.Page + 1)
	}
	if q.Page > 1 {
		p.Prev = link(q.Page - 1)
	}
	return out
}

func views(calls []*engine.Call) []callView {
	out := make([]callView, len(calls))
	for i, c := range calls {
		out[i] = newCallView(c)
	}
	return out
}
