package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// The call log: the filters of CallQuery beyond state and time, the
// incremental listing (After), the count and numbered pages. Every case
// compares a store's answer with what the calls created say it must be,
// so both stores are held to one answer.
//
// The contract, beyond the comments on engine.CallQuery:
//
//   - Filters are and-ed, and apply to the call's record with its legs as
//     stored (a leg saved later moves a call into a Group or Caller
//     filter).
//   - After lists the calls before the named call in the listing order
//     (newer millisecond, or the same millisecond and a greater id); an
//     After that names no call of the tenant is engine.ErrUnknownAfter.
//   - Page n holds the matching calls a walk by cursor would put on its
//     n-th page, with the same NextCursor. A page past the end is empty; a
//     page that starts beyond ScanLimit calls examined is
//     engine.ErrPageTooDeep when calls remain.
//   - Count gives Total, the matching calls after Cursor. When skipping
//     and counting would examine more than ScanLimit calls, Total is the
//     matches among those examined and TotalCapped is set; it is never set
//     when no call remains unexamined.

// testCallLog runs the call-log cases, each on a store of its own.
func testCallLog(t *testing.T, newStore func(t *testing.T) engine.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s engine.Store)
	}{
		{"Filters", testCallLogFilters},
		{"After", testCallLogAfter},
		{"Count", testCallLogCount},
		{"PageNumbers", testCallLogPageNumbers},
		{"ScanLimit", testCallLogScanLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// logCall returns a plain ended call of tenant-a: outbound, Number to
// Number, answered, with no legs; edit adjusts it before it is stored.
func logCall(id string, created time.Time, edit func(c *engine.Call)) *engine.Call {
	c := fullCall(id, "tenant-a", "node-1", created)
	c.Direction = engine.DirectionOutbound
	c.Request.From = engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+15550001"}}
	c.Request.To = engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+15550002"}}
	c.State, c.Outcome = engine.StateEnded, engine.OutcomeCompleted
	c.Legs = nil
	if edit != nil {
		edit(c)
	}
	return c
}

// logLeg returns leg seq of c, dialing number through group (may be
// empty).
func logLeg(c *engine.Call, seq int, number, group string) *engine.Leg {
	l := fullLeg(c.ID, seq, c.CreatedAt)
	l.Number, l.GroupID = number, group
	l.TargetType, l.Target = engine.TargetNumber, number
	if group != "" {
		l.TargetType, l.Target = engine.TargetGroup, group
	}
	return l
}

// storeLog stores c as it is: created, then ended with its legs unless it
// is live, or saved with its legs when live.
func storeLog(t *testing.T, s engine.Store, c *engine.Call) {
	t.Helper()
	mustCreate(t, s, c)
	if c.Live() {
		if err := s.SaveCall(t.Context(), c, c.Legs); err != nil {
			t.Fatalf("SaveCall(%s): %v", c.ID, err)
		}
		return
	}
	mustEnd(t, s, c, 0)
}

func testCallLogFilters(t *testing.T, s engine.Store) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	calls := []*engine.Call{
		// An old record without Direction: outbound.
		logCall("f-00", at(0), func(c *engine.Call) { c.Direction = "" }),
		// Through group sales by a leg, the caller number dialed by it.
		logCall("f-01", at(1), func(c *engine.Call) {
			c.Request.To = engine.SideRequest{Type: engine.TargetAgent, Values: []string{"a1"}}
			c.Legs = []*engine.Leg{logLeg(c, 1, "+15550001", ""), logLeg(c, 2, "+15557777", "sales")}
		}),
		// Group named by the request side, no leg offered yet: live.
		logCall("f-02", at(2), func(c *engine.Call) {
			c.Request.To = engine.SideRequest{Type: engine.TargetGroup, Values: []string{"support"}}
			c.State, c.Outcome = engine.StateDialingTo, ""
		}),
		// Inbound, app app-1, caller +15559999, routed to sales, missed.
		logCall("f-03", at(3), func(c *engine.Call) {
			c.Direction, c.App, c.Caller, c.Called = engine.DirectionInbound, "app-1", "+15559999", "+15550500"
			c.Request.From = engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+15559999"}}
			c.Request.To = engine.SideRequest{Type: engine.TargetGroup, Values: []string{"sales"}}
			c.Outcome = engine.OutcomeFromHungUp
			in := logLeg(c, 1, "+15559999", "")
			in.Inbound = true
			c.Legs = []*engine.Leg{in, logLeg(c, 2, "+15551111", "sales")}
		}),
		// Inbound, app app-2, answered; a leg dialed +15550002 (an
		// agent's number), which is no caller of an inbound call.
		logCall("f-04", at(4), func(c *engine.Call) {
			c.Direction, c.App, c.Caller = engine.DirectionInbound, "app-2", "+15558888"
			c.Request.From = engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+15558888"}}
			c.Legs = []*engine.Leg{logLeg(c, 1, "+15550002", "")}
		}),
		logCall("f-05", at(5), func(c *engine.Call) { c.Outcome = engine.OutcomeToUnanswered }),
		logCall("f-06", at(6), func(c *engine.Call) { c.Outcome = engine.OutcomeCanceled }),
		logCall("f-07", at(7), func(c *engine.Call) { c.Outcome = engine.OutcomeFailed }),
		logCall("f-08", at(8), func(c *engine.Call) {
			c.Direction, c.App, c.Caller = engine.DirectionInbound, "app-1", "+15558888"
			c.Outcome = engine.OutcomeIVRHangup
		}),
		logCall("f-09", at(9), func(c *engine.Call) { c.Outcome = engine.OutcomeFromUnanswered }),
	}
	for _, c := range calls {
		storeLog(t, s, c)
	}
	// Another tenant's call that every filter below would match.
	storeLog(t, s, logCall("other", at(5), func(c *engine.Call) {
		c.Tenant, c.Direction, c.App, c.Caller = "tenant-b", engine.DirectionInbound, "app-1", "+15559999"
		c.Legs = []*engine.Leg{logLeg(c, 1, "+15550001", "sales")}
	}))

	for _, tc := range []struct {
		name string
		q    engine.CallQuery
		want []string
	}{
		{"none", engine.CallQuery{}, []string{"f-09", "f-08", "f-07", "f-06", "f-05", "f-04", "f-03", "f-02", "f-01", "f-00"}},
		{"outbound", engine.CallQuery{Direction: engine.DirectionOutbound}, []string{"f-09", "f-07", "f-06", "f-05", "f-02", "f-01", "f-00"}},
		{"inbound", engine.CallQuery{Direction: engine.DirectionInbound}, []string{"f-08", "f-04", "f-03"}},
		{"group by leg or side", engine.CallQuery{Group: "sales"}, []string{"f-03", "f-01"}},
		{"group by side", engine.CallQuery{Group: "support"}, []string{"f-02"}},
		{"group unknown", engine.CallQuery{Group: "nobody"}, nil},
		{"app", engine.CallQuery{App: "app-1"}, []string{"f-08", "f-03"}},
		{"caller inbound", engine.CallQuery{Caller: "+15559999"}, []string{"f-03"}},
		{"caller of two calls", engine.CallQuery{Caller: "+15558888"}, []string{"f-08", "f-04"}},
		{"caller outbound side", engine.CallQuery{Caller: "+15550002"}, []string{"f-09", "f-07", "f-06", "f-05", "f-00"}},
		{"caller outbound leg", engine.CallQuery{Caller: "+15557777"}, []string{"f-01"}},
		{"caller is exact", engine.CallQuery{Caller: "15557777"}, nil},
		{"status live", engine.CallQuery{Status: engine.StatusLive}, []string{"f-02"}},
		{"status answered", engine.CallQuery{Status: engine.StatusAnswered}, []string{"f-04", "f-01", "f-00"}},
		{"status completed", engine.CallQuery{Status: "completed"}, []string{"f-04", "f-01", "f-00"}},
		{"status missed", engine.CallQuery{Status: engine.StatusMissed}, []string{"f-09", "f-05", "f-03"}},
		{"status unanswered", engine.CallQuery{Status: "unanswered"}, []string{"f-09", "f-05", "f-03"}},
		{"status canceled", engine.CallQuery{Status: "canceled"}, []string{"f-06"}},
		{"status failed", engine.CallQuery{Status: "failed"}, []string{"f-07"}},
		{"status ivr_hangup", engine.CallQuery{Status: "ivr_hangup"}, []string{"f-08"}},
		{"status from_hungup", engine.CallQuery{Status: "from_hungup"}, []string{"f-03"}},
		{"status unknown", engine.CallQuery{Status: "nonsense"}, nil},
		{"and-ed", engine.CallQuery{Direction: engine.DirectionInbound, Status: engine.StatusMissed, Group: "sales", App: "app-1", Caller: "+15559999"}, []string{"f-03"}},
		{"and-ed, one fails", engine.CallQuery{Direction: engine.DirectionOutbound, Group: "sales", Status: engine.StatusMissed}, nil},
		{"with time", engine.CallQuery{Direction: engine.DirectionOutbound, Since: at(2), Until: at(7)}, []string{"f-06", "f-05", "f-02"}},
		{"with state", engine.CallQuery{State: "ended", Group: "support"}, nil},
	} {
		tc.q.Tenant = "tenant-a"
		assertIDs(t, tc.name, ids(mustList(t, s, tc.q).Calls), tc.want)
		// Paged one call at a time, the filter holds across pages.
		tc.q.Limit = 1
		assertIDs(t, tc.name+", by cursor", ids(walk(t, s, tc.q, func() {})), tc.want)
	}

	// A leg stored later brings the live call into the group.
	live := calls[2]
	if err := s.SaveCall(t.Context(), live, []*engine.Leg{logLeg(live, 1, "+15556666", "night")}); err != nil {
		t.Fatalf("SaveCall: %v", err)
	}
	assertIDs(t, "group of a leg saved later", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Group: "night"}).Calls), []string{"f-02"})
	assertIDs(t, "caller of a leg saved later", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Caller: "+15556666"}).Calls), []string{"f-02"})
}

func testCallLogAfter(t *testing.T, s engine.Store) {
	ms := base.Truncate(time.Millisecond)
	// Three calls share a millisecond: After orders them by id.
	created := map[string]time.Time{
		"af-1": ms, "af-2": ms.Add(time.Millisecond), "af-3a": ms.Add(2 * time.Millisecond),
		"af-3b": ms.Add(2*time.Millisecond + time.Microsecond), "af-3c": ms.Add(2*time.Millisecond + 2*time.Microsecond),
		"af-4": ms.Add(3 * time.Millisecond),
	}
	for _, id := range []string{"af-3b", "af-1", "af-4", "af-3c", "af-2", "af-3a"} {
		storeLog(t, s, logCall(id, created[id], func(c *engine.Call) {
			if id == "af-4" {
				c.Direction = engine.DirectionInbound
			}
		}))
	}
	storeLog(t, s, logCall("af-other", ms.Add(time.Hour), func(c *engine.Call) { c.Tenant = "tenant-b" }))

	for _, tc := range []struct {
		after string
		q     engine.CallQuery
		want  []string
	}{
		{"af-1", engine.CallQuery{}, []string{"af-4", "af-3c", "af-3b", "af-3a", "af-2"}},
		{"af-3b", engine.CallQuery{}, []string{"af-4", "af-3c"}},
		{"af-3c", engine.CallQuery{}, []string{"af-4"}},
		{"af-4", engine.CallQuery{}, nil},
		{"af-1", engine.CallQuery{Direction: engine.DirectionOutbound}, []string{"af-3c", "af-3b", "af-3a", "af-2"}},
		{"af-1", engine.CallQuery{Until: created["af-3a"]}, []string{"af-2"}},
		{"af-1", engine.CallQuery{Since: created["af-3b"]}, []string{"af-4", "af-3c", "af-3b"}},
	} {
		q := tc.q
		q.Tenant, q.After = "tenant-a", tc.after
		name := fmt.Sprintf("after %s %+v", tc.after, tc.q)
		assertIDs(t, name, ids(mustList(t, s, q).Calls), tc.want)
		q.Limit = 2
		assertIDs(t, name+", by cursor", ids(walk(t, s, q, func() {})), tc.want)
	}
	for _, after := range []string{"no-such-call", "af-other"} {
		_, err := s.ListCalls(t.Context(), engine.CallQuery{Tenant: "tenant-a", After: after})
		if !errors.Is(err, engine.ErrUnknownAfter) {
			t.Fatalf("After %q: %v, want engine.ErrUnknownAfter", after, err)
		}
	}
}

func testCallLogCount(t *testing.T, s engine.Store) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	const n = 23
	for i := range n {
		storeLog(t, s, logCall(fmt.Sprintf("cn-%02d", i), at(i), func(c *engine.Call) {
			if i%3 == 0 {
				c.Direction = engine.DirectionInbound
			}
		}))
	}
	storeLog(t, s, logCall("cn-other", at(1), func(c *engine.Call) { c.Tenant = "tenant-b" }))
	for _, tc := range []struct {
		q     engine.CallQuery
		total int
		page  int
	}{
		{engine.CallQuery{}, n, n},
		{engine.CallQuery{Limit: 5}, n, 5},
		{engine.CallQuery{Limit: 5, Direction: engine.DirectionInbound}, 8, 5},
		{engine.CallQuery{Direction: engine.DirectionOutbound}, 15, 15},
		{engine.CallQuery{Since: at(10), Until: at(20)}, 10, 10},
		{engine.CallQuery{Group: "none"}, 0, 0},
		{engine.CallQuery{After: "cn-19"}, 3, 3},
		{engine.CallQuery{Limit: 4, Page: 3}, n, 4},
		{engine.CallQuery{Limit: 4, Page: 6}, n, 3},
		{engine.CallQuery{Limit: 4, Page: 7}, n, 0},
	} {
		q := tc.q
		q.Tenant, q.Count = "tenant-a", true
		p := mustList(t, s, q)
		if p.Total != tc.total || p.TotalCapped || len(p.Calls) != tc.page {
			t.Fatalf("%+v: Total %d (capped %v), %d calls; want %d, not capped, %d calls", tc.q, p.Total, p.TotalCapped, len(p.Calls), tc.total, tc.page)
		}
		// Without Count, no Total.
		q.Count = false
		if p := mustList(t, s, q); p.Total != 0 || p.TotalCapped {
			t.Fatalf("%+v without Count: Total %d, capped %v", tc.q, p.Total, p.TotalCapped)
		}
	}
	// With a cursor, what follows it.
	first := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 10})
	p := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 10, Cursor: first.NextCursor, Count: true})
	if p.Total != n-10 || len(p.Calls) != 10 || p.NextCursor == "" {
		t.Fatalf("count after a cursor: Total %d, %d calls, cursor %q; want %d, 10 and a cursor", p.Total, len(p.Calls), p.NextCursor, n-10)
	}
}

func testCallLogPageNumbers(t *testing.T, s engine.Store) {
	ms := base.Truncate(time.Millisecond)
	for i := range 31 {
		// Four calls per millisecond, ids not in creation order.
		c := logCall(fmt.Sprintf("pn-%02d", (i*13)%31), ms.Add(time.Duration(i/4)*time.Millisecond), func(c *engine.Call) {
			if i%4 == 1 {
				c.Outcome = engine.OutcomeFailed
			}
		})
		storeLog(t, s, c)
	}
	for _, q := range []engine.CallQuery{{Limit: 1}, {Limit: 4}, {Limit: 5}, {Limit: 30}, {Limit: 31}, {Limit: 50}, {Limit: 3, Status: "failed"}} {
		q.Tenant = "tenant-a"
		// The pages by cursor, and their cursors.
		var pages [][]string
		var cursors []string
		for cq := q; ; {
			p := mustList(t, s, cq)
			pages, cursors = append(pages, ids(p.Calls)), append(cursors, p.NextCursor)
			if p.NextCursor == "" {
				break
			}
			cq.Cursor = p.NextCursor
		}
		for i := range pages {
			pq := q
			pq.Page = i + 1
			p := mustList(t, s, pq)
			name := fmt.Sprintf("limit %d status %q page %d", q.Limit, q.Status, i+1)
			assertIDs(t, name, ids(p.Calls), pages[i])
			if p.NextCursor != cursors[i] {
				t.Fatalf("%s: NextCursor %q, want the cursor walk's %q", name, p.NextCursor, cursors[i])
			}
		}
		pq := q
		pq.Page = len(pages) + 1
		if p := mustList(t, s, pq); len(p.Calls) != 0 || p.NextCursor != "" {
			t.Fatalf("limit %d: page past the end has %d calls, cursor %q", q.Limit, len(p.Calls), p.NextCursor)
		}
	}
	// Page 0 and 1 are the first page.
	want := ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 3}).Calls)
	for _, pg := range []int{-1, 0, 1} {
		assertIDs(t, fmt.Sprintf("page %d", pg), ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 3, Page: pg}).Calls), want)
	}
	// A page after a cursor counts from the cursor.
	first := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 3})
	third := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 3, Page: 3})
	assertIDs(t, "page 2 after a cursor", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 3, Page: 2, Cursor: first.NextCursor}).Calls), ids(third.Calls))
}

// testCallLogScanLimit checks the bound on skipping and counting with a
// small ScanLimit: lower-bound counts, pages too deep, and the exact
// edges where nothing remains.
func testCallLogScanLimit(t *testing.T, s engine.Store) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	const n = 30
	for i := range n {
		storeLog(t, s, logCall(fmt.Sprintf("sl-%02d", i), at(i), func(c *engine.Call) {
			if i%2 == 0 {
				c.Direction = engine.DirectionInbound
			}
		}))
	}
	list := func(q engine.CallQuery) (engine.CallPage, error) {
		q.Tenant = "tenant-a"
		return s.ListCalls(t.Context(), q)
	}
	for _, tc := range []struct {
		name   string
		q      engine.CallQuery
		total  int
		capped bool
		calls  int
	}{
		// 10 examined, all match.
		{"capped", engine.CallQuery{Limit: 3, Count: true, ScanLimit: 10}, 10, true, 3},
		// 10 examined, every other matches.
		{"capped, filtered", engine.CallQuery{Limit: 3, Count: true, ScanLimit: 10, Direction: engine.DirectionInbound}, 5, true, 3},
		// The page itself is filled past the limit, and the next match found.
		{"page past the limit", engine.CallQuery{Limit: 12, Count: true, ScanLimit: 10}, 13, true, 12},
		// Exactly every call examined: nothing remains, not capped.
		{"limit is the size", engine.CallQuery{Limit: 3, Count: true, ScanLimit: n}, n, false, 3},
		{"limit above the size", engine.CallQuery{Limit: 3, Count: true, ScanLimit: n + 1}, n, false, 3},
		{"range within the limit", engine.CallQuery{Limit: 3, Count: true, ScanLimit: 10, Since: at(20)}, 10, false, 3},
		{"range past the limit", engine.CallQuery{Limit: 3, Count: true, ScanLimit: 10, Since: at(19)}, 10, true, 3},
		// Skipping two pages of 4 within 10 examined, the page, the next
		// match, and no more counting.
		{"page within", engine.CallQuery{Limit: 4, Page: 3, Count: true, ScanLimit: 10}, 13, true, 4},
		// Page 5 of 2 inbound calls: 8 matches to skip need 16 examined.
		{"page within, unbounded fill", engine.CallQuery{Limit: 2, Page: 5, Direction: engine.DirectionInbound, ScanLimit: 16}, 0, false, 2},
		// The last page is reached exactly at the limit.
		{"last page at the limit", engine.CallQuery{Limit: 5, Page: 7, Count: true, ScanLimit: n}, n, false, 0},
	} {
		p, err := list(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.Total != tc.total || p.TotalCapped != tc.capped || len(p.Calls) != tc.calls {
			t.Fatalf("%s: Total %d, capped %v, %d calls; want %d, %v, %d", tc.name, p.Total, p.TotalCapped, len(p.Calls), tc.total, tc.capped, tc.calls)
		}
	}
	for _, q := range []engine.CallQuery{
		{Limit: 4, Page: 4, ScanLimit: 10},
		{Limit: 4, Page: 4, ScanLimit: 10, Count: true},
		{Limit: 2, Page: 5, Direction: engine.DirectionInbound, ScanLimit: 15},
	} {
		if p, err := list(q); !errors.Is(err, engine.ErrPageTooDeep) {
			t.Fatalf("%+v: %d calls, error %v; want engine.ErrPageTooDeep", q, len(p.Calls), err)
		}
	}
	// The default limit applies when ScanLimit is 0: these calls are far
	// fewer, so the count is exact.
	if p, err := list(engine.CallQuery{Count: true}); err != nil || p.Total != n || p.TotalCapped {
		t.Fatalf("default scan limit: Total %d, capped %v, %v", p.Total, p.TotalCapped, err)
	}
	// A page far beyond the limit, but also beyond every call: empty.
	if p, err := list(engine.CallQuery{Limit: 500, Page: 1 << 60}); err != nil || len(p.Calls) != 0 || p.NextCursor != "" {
		t.Fatalf("page beyond every call: %d calls, cursor %q, %v", len(p.Calls), p.NextCursor, err)
	}
}
