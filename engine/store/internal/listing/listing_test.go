package listing

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

func TestOrder(t *testing.T) {
	ps := []Position{{5, "b"}, {7, "a"}, {5, "c"}, {-1, "z"}, {7, "b"}, {5, "b"}}
	slices.SortFunc(ps, Position.Compare)
	want := []Position{{7, "b"}, {7, "a"}, {5, "c"}, {5, "b"}, {5, "b"}, {-1, "z"}}
	if !slices.Equal(ps, want) {
		t.Fatalf("listing order %v, want %v", ps, want)
	}
	if !(Position{5, "a"}).After(Position{5, "b"}) || (Position{5, "b"}).After(Position{5, "b"}) || (Position{6, "a"}).After(Position{5, "b"}) {
		t.Fatal("After does not follow the listing order")
	}
	at := time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)
	if p := Of(&engine.Call{ID: "c", CreatedAt: at}); p != (Position{at.UnixMilli(), "c"}) {
		t.Fatalf("Of: %v", p)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, p := range []Position{{0, ""}, {1773480413589, "kn5skxr6161770885161627785"}, {-5, "a:b:c"}, {math.MaxInt64, "é\x00"}} {
		got, err := ParseCursor(p.Cursor())
		if err != nil || got != p {
			t.Errorf("%v: parsed back as %v, %v", p, got, err)
		}
	}
}

// TestCursorRefused checks every way ParseCursor refuses a cursor, each
// as engine.ErrBadCursor.
func TestCursorRefused(t *testing.T) {
	good := Position{1773480413589, "kn5skxr6161770885161627785"}.Cursor()
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	reencode := func(edit func(b []byte) []byte) string {
		return base64.RawURLEncoding.EncodeToString(edit(slices.Clone(raw)))
	}
	for name, cur := range map[string]string{
		"empty":                "",
		"not base64url":        "a+b/",
		"padded":               good + "==",
		"too short":            base64.RawURLEncoding.EncodeToString([]byte{cursorVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
		"other version":        reencode(func(b []byte) []byte { b[0] = 2; return b }),
		"millisecond changed":  reencode(func(b []byte) []byte { b[8]++; return b }),
		"id changed":           reencode(func(b []byte) []byte { b[9] = 'K'; return b }),
		"check changed":        reencode(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"id cut short":         reencode(func(b []byte) []byte { return append(b[:len(b)-5], b[len(b)-4:]...) }),
		"padding bits set":     paddingBitSet(t),
		"text of the old kind": base64.RawURLEncoding.EncodeToString([]byte("1773480413589:kn5skxr6161770885161627785")),
	} {
		if _, err := ParseCursor(cur); !errors.Is(err, engine.ErrBadCursor) {
			t.Errorf("%s (%q): got %v, want ErrBadCursor", name, cur, err)
		}
	}
}

// paddingBitSet returns a cursor whose last character has a padding bit
// set: lenient base64 decodes it to the bytes of the good cursor.
func paddingBitSet(t *testing.T) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	good := Position{1773480413589, "25-characters-of-an-id-xy"}.Cursor() // 38 bytes: 2 padding bits
	last := strings.IndexByte(alphabet, good[len(good)-1])
	bad := good[:len(good)-1] + string(alphabet[last^1])
	if b, err := base64.RawURLEncoding.DecodeString(bad); err != nil || base64.RawURLEncoding.EncodeToString(b) != good {
		t.Fatalf("%q does not decode leniently to the good cursor's bytes", bad)
	}
	return bad
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{{-1, 50}, {0, 50}, {1, 1}, {500, 500}, {501, 500}} {
		if got := PageSize(engine.CallQuery{Limit: tc.limit}); got != tc.want {
			t.Errorf("Limit %d: %d, want %d", tc.limit, got, tc.want)
		}
	}
}

func TestMatches(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 500, time.UTC)
	live := &engine.Call{State: engine.StateBridged, CreatedAt: at}
	ended := &engine.Call{State: engine.StateEnded, CreatedAt: at}
	for _, tc := range []struct {
		name string
		c    *engine.Call
		q    engine.CallQuery
		want bool
	}{
		{"no filter", ended, engine.CallQuery{}, true},
		{"live", live, engine.CallQuery{State: "live"}, true},
		{"live, ended", ended, engine.CallQuery{State: "live"}, false},
		{"state", live, engine.CallQuery{State: "bridged"}, true},
		{"other state", live, engine.CallQuery{State: "dialing_to"}, false},
		{"since inclusive", live, engine.CallQuery{Since: at}, true},
		{"since exact", live, engine.CallQuery{Since: at.Add(1)}, false},
		{"until exclusive", live, engine.CallQuery{Until: at}, false},
		{"until exact", live, engine.CallQuery{Until: at.Add(1)}, true},
	} {
		if got := Matches(tc.c, tc.q); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMSRange(t *testing.T) {
	if lo, hi := MSRange(engine.CallQuery{}); lo != math.MinInt64 || hi != math.MaxInt64 {
		t.Fatalf("no bounds: [%d, %d]", lo, hi)
	}
	since, until := time.UnixMilli(1000).Add(999999), time.UnixMilli(2000).Add(1)
	if lo, hi := MSRange(engine.CallQuery{Since: since, Until: until}); lo != 1000 || hi != 2000 {
		t.Fatalf("bounds: [%d, %d], want [1000, 2000]", lo, hi)
	}
}

func TestMatchesCallLogFilters(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	old := &engine.Call{State: engine.StateEnded, Outcome: engine.OutcomeCompleted, CreatedAt: at,
		Request: engine.CallRequest{
			From: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+1555"}},
			To:   engine.SideRequest{Type: engine.TargetGroup, Values: []string{"sales"}},
		},
		Legs: []*engine.Leg{{Number: "+1666", GroupID: "support"}}}
	in := &engine.Call{Direction: engine.DirectionInbound, App: "app-1", Caller: "+1777", State: engine.StateBridged, CreatedAt: at,
		Request: engine.CallRequest{From: engine.SideRequest{Type: engine.TargetAgent, Values: []string{"+1888"}}},
		Legs:    []*engine.Leg{{Number: "+1999", Inbound: true}}}
	for _, tc := range []struct {
		name string
		c    *engine.Call
		q    engine.CallQuery
		want bool
	}{
		{"no direction is outbound", old, engine.CallQuery{Direction: engine.DirectionOutbound}, true},
		{"no direction is not inbound", old, engine.CallQuery{Direction: engine.DirectionInbound}, false},
		{"inbound", in, engine.CallQuery{Direction: engine.DirectionInbound}, true},
		{"group of a side", old, engine.CallQuery{Group: "sales"}, true},
		{"group of a leg", old, engine.CallQuery{Group: "support"}, true},
		{"other group", old, engine.CallQuery{Group: "night"}, false},
		{"caller of a Number side", old, engine.CallQuery{Caller: "+1555"}, true},
		{"caller dialed by a leg", old, engine.CallQuery{Caller: "+1666"}, true},
		{"caller is exact", old, engine.CallQuery{Caller: "1555"}, false},
		{"inbound caller", in, engine.CallQuery{Caller: "+1777"}, true},
		{"inbound: not an Agent side's value", in, engine.CallQuery{Caller: "+1888"}, false},
		{"inbound: not a leg's number", in, engine.CallQuery{Caller: "+1999"}, false},
		{"app", in, engine.CallQuery{App: "app-1"}, true},
		{"other app", in, engine.CallQuery{App: "app-2"}, false},
		{"status of the outcome", old, engine.CallQuery{Status: "answered"}, true},
		{"status live", in, engine.CallQuery{Status: "live"}, true},
		{"live has no outcome status", in, engine.CallQuery{Status: "answered"}, false},
		{"ended is not live", old, engine.CallQuery{Status: "live"}, false},
		{"unknown status", old, engine.CallQuery{Status: "bogus"}, false},
		{"all and-ed", in, engine.CallQuery{Direction: engine.DirectionInbound, App: "app-1", Caller: "+1777", Status: "live", State: "bridged"}, true},
		{"one fails", in, engine.CallQuery{Direction: engine.DirectionInbound, App: "app-1", Caller: "+1777", Status: "missed"}, false},
	} {
		if got := Matches(tc.c, tc.q); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !NeedsLegs(engine.CallQuery{Group: "g"}) || !NeedsLegs(engine.CallQuery{Caller: "1"}) || NeedsLegs(engine.CallQuery{App: "a", Status: "live"}) {
		t.Error("NeedsLegs")
	}
}

// feed hands w the calls of positions ps (newest first, as a store
// would) until it has enough, and returns its page with whether calls
// remained.
func feed(t *testing.T, w *Walk, ps []Position) (engine.CallPage, error) {
	t.Helper()
	i := 0
	for i < len(ps) {
		c := &engine.Call{ID: ps[i].ID, Tenant: "t", CreatedAt: time.UnixMilli(ps[i].MS), State: engine.StateEnded}
		i++
		if !w.Add(ps[i-1], c) {
			break
		}
	}
	return w.Page(i < len(ps))
}

func TestWalk(t *testing.T) {
	var ps []Position // 20 calls, newest first
	for i := 19; i >= 0; i-- {
		ps = append(ps, Position{int64(1000 + i), fmt.Sprintf("c%02d", i)})
	}
	for _, tc := range []struct {
		name          string
		q             engine.CallQuery
		first, n      int // the page is ps[first:first+n]
		next          bool
		total         int
		capped, error bool
	}{
		{"first page", engine.CallQuery{Limit: 5}, 0, 5, true, 0, false, false},
		{"everything", engine.CallQuery{Limit: 20}, 0, 20, false, 0, false, false},
		{"page 2", engine.CallQuery{Limit: 5, Page: 2}, 5, 5, true, 0, false, false},
		{"last page", engine.CallQuery{Limit: 5, Page: 4}, 15, 5, false, 0, false, false},
		{"past the end", engine.CallQuery{Limit: 5, Page: 5}, 0, 0, false, 0, false, false},
		{"count", engine.CallQuery{Limit: 5, Count: true}, 0, 5, true, 20, false, false},
		{"count capped", engine.CallQuery{Limit: 5, Count: true, ScanLimit: 8}, 0, 5, true, 8, true, false},
		{"count at the last call", engine.CallQuery{Limit: 5, Count: true, ScanLimit: 20}, 0, 5, true, 20, false, false},
		{"page too deep", engine.CallQuery{Limit: 5, Page: 3, ScanLimit: 9}, 0, 0, false, 0, false, true},
		{"page at the limit", engine.CallQuery{Limit: 5, Page: 3, ScanLimit: 10}, 10, 5, true, 0, false, false},
		{"page past the end at the limit", engine.CallQuery{Limit: 5, Page: 5, ScanLimit: 20}, 0, 0, false, 0, false, false},
	} {
		tc.q.Tenant = "t"
		w, err := NewWalk(tc.q, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		page, err := feed(t, w, ps)
		if tc.error {
			if !errors.Is(err, engine.ErrPageTooDeep) {
				t.Errorf("%s: %v, want ErrPageTooDeep", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, c := range page.Calls {
			got = append(got, c.ID)
		}
		var want []string
		for _, p := range ps[tc.first : tc.first+tc.n] {
			want = append(want, p.ID)
		}
		if !slices.Equal(got, want) || (page.NextCursor != "") != tc.next || page.Total != tc.total || page.TotalCapped != tc.capped {
			t.Errorf("%s: %v next %q total %d capped %v; want %v next %v total %d capped %v",
				tc.name, got, page.NextCursor, page.Total, page.TotalCapped, want, tc.next, tc.total, tc.capped)
		}
		if tc.next && page.NextCursor != ps[tc.first+tc.n-1].Cursor() {
			t.Errorf("%s: NextCursor is not the page's last call's", tc.name)
		}
	}
}

func TestWalkAfter(t *testing.T) {
	after := &engine.Call{ID: "m", Tenant: "t", CreatedAt: time.UnixMilli(5000)}
	w, err := NewWalk(engine.CallQuery{Tenant: "t", After: "m", Since: time.UnixMilli(100)}, after)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := w.Range(); lo != 5000 || hi != math.MaxInt64 {
		t.Fatalf("Range [%d, %d], want [5000, max]", lo, hi)
	}
	page, err := feed(t, w, []Position{{5001, "a"}, {5000, "z"}, {5000, "n"}, {5000, "m"}, {5000, "l"}, {4999, "x"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range page.Calls {
		got = append(got, c.ID)
	}
	if !slices.Equal(got, []string{"a", "z", "n"}) {
		t.Fatalf("after m: %v", got)
	}
	for name, a := range map[string]*engine.Call{
		"none":         nil,
		"other tenant": {ID: "m", Tenant: "u"},
		"other id":     {ID: "n", Tenant: "t"},
	} {
		if _, err := NewWalk(engine.CallQuery{Tenant: "t", After: "m"}, a); !errors.Is(err, engine.ErrUnknownAfter) {
			t.Errorf("%s: %v, want ErrUnknownAfter", name, err)
		}
	}
	if _, err := NewWalk(engine.CallQuery{Tenant: "t", Cursor: "garbage"}, nil); !errors.Is(err, engine.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}
