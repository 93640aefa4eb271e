package listing

import (
	"encoding/base64"
	"errors"
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
