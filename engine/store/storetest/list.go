package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

func testListNewestFirst(t *testing.T, s engine.Store) {
	// Created out of order, tenants interleaved, one call with legs.
	for _, i := range []int{3, 0, 4, 1, 2} {
		c := fullCall(fmt.Sprintf("a-%d", i), "tenant-a", "node-1", base.Add(time.Duration(i)*time.Minute))
		mustCreate(t, s, c)
		if i == 2 {
			mustSaveLeg(t, s, c.Legs[0])
		}
		mustCreate(t, s, fullCall(fmt.Sprintf("b-%d", i), "tenant-b", "node-1", base.Add(time.Duration(i)*time.Minute+time.Second)))
	}

	page := mustList(t, s, engine.CallQuery{Tenant: "tenant-a"})
	assertIDs(t, "tenant-a", ids(page.Calls), []string{"a-4", "a-3", "a-2", "a-1", "a-0"})
	if page.NextCursor != "" {
		t.Fatalf("single page has NextCursor %q", page.NextCursor)
	}
	for _, c := range page.Calls {
		assertCall(t, c, mustGet(t, s, c.ID)) // full records, legs included
	}
	assertIDs(t, "tenant-b", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-b"}).Calls),
		[]string{"b-4", "b-3", "b-2", "b-1", "b-0"})
	empty := mustList(t, s, engine.CallQuery{Tenant: "tenant-c"})
	if len(empty.Calls) != 0 || empty.NextCursor != "" {
		t.Fatalf("unknown tenant: %d calls, cursor %q", len(empty.Calls), empty.NextCursor)
	}
}

func testListStateFilter(t *testing.T, s engine.Store) {
	states := []engine.CallState{engine.StateDialingFrom, engine.StateDialingTo, engine.StateBridged, engine.StateEnded}
	for i, st := range states {
		c := fullCall(fmt.Sprintf("st-%d", i), "tenant-a", "node-1", base.Add(time.Duration(i)*time.Second))
		mustCreate(t, s, c)
		c.State = st
		if st == engine.StateEnded {
			mustEnd(t, s, c, 0)
		} else if err := s.SaveCall(t.Context(), c, nil); err != nil {
			t.Fatalf("SaveCall: %v", err)
		}
	}
	for _, tc := range []struct {
		state string
		want  []string
	}{
		{"", []string{"st-3", "st-2", "st-1", "st-0"}},
		{"live", []string{"st-2", "st-1", "st-0"}},
		{string(engine.StateEnded), []string{"st-3"}},
		{string(engine.StateBridged), []string{"st-2"}},
		{string(engine.StateDialingTo), []string{"st-1"}},
		{"no-such-state", nil},
	} {
		got := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", State: tc.state})
		assertIDs(t, "state "+tc.state, ids(got.Calls), tc.want)
	}
}

func testListSinceUntil(t *testing.T, s engine.Store) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	for i := range 10 {
		mustCreate(t, s, fullCall(fmt.Sprintf("su-%d", i), "tenant-a", "node-1", at(i)))
	}
	want := func(from, to int) (out []string) {
		for i := to; i >= from; i-- {
			out = append(out, fmt.Sprintf("su-%d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"since inclusive", at(3), time.Time{}, want(3, 9)},
		{"until exclusive", time.Time{}, at(7), want(0, 6)},
		{"both", at(3), at(7), want(3, 6)},
		{"since is exact", at(3).Add(time.Nanosecond), time.Time{}, want(4, 9)},
		{"until is exact", time.Time{}, at(7).Add(time.Nanosecond), want(0, 7)},
		{"empty range", at(5), at(5), nil},
	} {
		got := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Since: tc.since, Until: tc.until})
		assertIDs(t, tc.name, ids(got.Calls), tc.want)
	}
}

func testListLimit(t *testing.T, s engine.Store) {
	const n = 520
	for i := range n {
		mustCreate(t, s, fullCall(fmt.Sprintf("lim-%03d", i), "tenant-a", "node-1", base.Add(time.Duration(i)*time.Second)))
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {7, 7}, {500, 500}, {501, 500}, {100000, 500}} {
		p := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: tc.limit})
		if len(p.Calls) != tc.want || p.NextCursor == "" {
			t.Fatalf("Limit %d: %d calls, cursor %q; want %d and a cursor", tc.limit, len(p.Calls), p.NextCursor, tc.want)
		}
		if p.Calls[0].ID != fmt.Sprintf("lim-%03d", n-1) {
			t.Fatalf("Limit %d: first call %s, want the newest", tc.limit, p.Calls[0].ID)
		}
	}
	first := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 500})
	rest := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 500, Cursor: first.NextCursor})
	if len(rest.Calls) != n-500 || rest.NextCursor != "" {
		t.Fatalf("second page: %d calls, cursor %q; want %d and no cursor", len(rest.Calls), rest.NextCursor, n-500)
	}
	exact := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 20, Cursor: first.NextCursor})
	if len(exact.Calls) != 20 || exact.NextCursor != "" {
		t.Fatalf("page that ends exactly at the last call: %d calls, cursor %q", len(exact.Calls), exact.NextCursor)
	}
}

// testListPagination walks every page at several page sizes over calls that
// share CreatedAt milliseconds, and checks that the walk yields each
// matching call exactly once, newest first.
func testListPagination(t *testing.T, s engine.Store) {
	ms := base.Truncate(time.Millisecond)
	var all []*engine.Call
	for i := range 41 {
		// Seven calls per millisecond; sub-millisecond parts differ and
		// do not follow the ids, so only the millisecond orders them.
		created := ms.Add(time.Duration(i/7)*time.Millisecond + time.Duration((i*37)%1000)*time.Microsecond)
		c := fullCall(fmt.Sprintf("pg-%02d", (i*17)%41), "tenant-a", "node-1", created)
		mustCreate(t, s, c)
		if i%3 == 0 {
			c.State = engine.StateEnded
			mustEnd(t, s, c, 0)
		}
		all = append(all, c)
	}
	match := func(q engine.CallQuery) (out []string) {
		for _, c := range all {
			if (q.State == "" || (q.State == "live") == c.Live()) &&
				(q.Since.IsZero() || !c.CreatedAt.Before(q.Since)) &&
				(q.Until.IsZero() || c.CreatedAt.Before(q.Until)) {
				out = append(out, c.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, q := range []engine.CallQuery{
		{Limit: 1}, {Limit: 3}, {Limit: 7}, {Limit: 8}, {Limit: 40}, {Limit: 41}, {Limit: 50},
		{Limit: 2, State: "live"}, {Limit: 5, State: "ended"},
		{Limit: 4, Since: ms.Add(time.Millisecond), Until: ms.Add(5 * time.Millisecond)},
	} {
		t.Run(fmt.Sprintf("limit=%d,state=%q,since=%v", q.Limit, q.State, !q.Since.IsZero()), func(t *testing.T) {
			q.Tenant = "tenant-a"
			walked := walk(t, s, q, func() {})
			assertIDs(t, "walked", sorted(walked), match(q))
		})
	}
	t.Run("newer calls during the walk", func(t *testing.T) {
		q := engine.CallQuery{Tenant: "tenant-a", Limit: 6}
		want := match(q)
		n := 0
		walked := walk(t, s, q, func() {
			n++
			mustCreate(t, s, fullCall(fmt.Sprintf("pg-new-%d", n), "tenant-a", "node-1", base.Add(time.Hour)))
		})
		assertIDs(t, "walked", sorted(walked), want)
	})
}

// walk pages through q to the end, calling between after each page, and
// checks page sizes, cursors, order and duplicates on the way.
func walk(t *testing.T, s engine.Store, q engine.CallQuery, between func()) []*engine.Call {
	t.Helper()
	var out []*engine.Call
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("more than 100 pages")
		}
		p := mustList(t, s, q)
		if p.NextCursor != "" && len(p.Calls) != q.Limit {
			t.Fatalf("page %d has %d calls and a cursor, want exactly %d", pages, len(p.Calls), q.Limit)
		}
		for _, c := range p.Calls {
			if seen[c.ID] {
				t.Fatalf("call %s returned twice", c.ID)
			}
			seen[c.ID] = true
			if n := len(out); n > 0 && c.CreatedAt.UnixMilli() > out[n-1].CreatedAt.UnixMilli() {
				t.Fatalf("call %s (%v) after newer call %s (%v)", c.ID, c.CreatedAt, out[n-1].ID, out[n-1].CreatedAt)
			}
			out = append(out, c)
		}
		if p.NextCursor == "" {
			return out
		}
		between()
		q.Cursor = p.NextCursor
	}
}

func sorted(calls []*engine.Call) []string {
	out := ids(calls)
	slices.Sort(out)
	return out
}

// testListBadCursor checks that a cursor the store did not issue is
// refused with engine.ErrBadCursor (a client's mistake, which the API
// answers with 400), never read as some position nor taken for a store
// failure: garbage, a cursor of the right shape but another format, and
// every alteration of a cursor the store did issue.
func testListBadCursor(t *testing.T, s engine.Store) {
	for i := range 3 {
		mustCreate(t, s, fullCall(fmt.Sprintf("bc-%d", i), "tenant-a", "node-1", base.Add(time.Duration(i)*time.Second)))
	}
	good := mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 1}).NextCursor
	if good == "" {
		t.Fatal("first page of 1 of 3 calls has no cursor")
	}
	assertIDs(t, "page after a good cursor",
		ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a", Limit: 1, Cursor: good}).Calls), []string{"bc-1"})

	bad := []string{
		"not a cursor!", "AAAA", "%%%", "A", "====", "   ", "\x00",
		strings.Repeat("A", 40), strings.Repeat("_", 40),
		// Plausible formats: "<ms>:<id>", JSON, a bare number, in
		// base64url and in standard base64 with padding.
		base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:bc-1", base.UnixMilli()))),
		base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%d:bc-1", base.UnixMilli()))),
		base64.RawURLEncoding.EncodeToString([]byte(`{"ms":1773480413589,"id":"bc-1"}`)),
		base64.RawURLEncoding.EncodeToString([]byte("1773480413589")),
		// The good cursor cut short, lengthened, doubled, padded.
		good[:len(good)-1], good[:len(good)/2], good + "A", good + good, good + "=", " " + good,
	}
	// Every single-character change of the good cursor.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(good) {
		j := (strings.IndexByte(alphabet, good[i]) + 1) % len(alphabet)
		bad = append(bad, good[:i]+alphabet[j:j+1]+good[i+1:])
	}
	for _, cur := range bad {
		page, err := s.ListCalls(t.Context(), engine.CallQuery{Tenant: "tenant-a", Cursor: cur})
		if !errors.Is(err, engine.ErrBadCursor) {
			t.Fatalf("ListCalls with cursor %q: got %d calls and error %v, want engine.ErrBadCursor", cur, len(page.Calls), err)
		}
	}
}
