// Package listing is what Switchboard's call stores share to list a
// tenant's calls (engine.Store.ListCalls): the order of a listing, its
// cursors, the page size and the filters. None of it depends on where the
// calls are kept, so the memory and Redis stores list alike by
// construction, and their conformance suite checks the rest.
//
// A listing runs newest first: by CreatedAt's unix millisecond, then by
// call id, both descending (the order of a Redis sorted set read in
// reverse, whose score is the millisecond). A cursor names the Position
// of a page's last call; the next page holds the calls listed after it,
// so a walk neither repeats nor skips calls whatever is created meanwhile.
package listing

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/engine"
)

// Position is where a call sits in its tenant's listing.
type Position struct {
	MS int64  // CreatedAt in unix milliseconds
	ID string // call id
}

// Of returns the position of c.
func Of(c *engine.Call) Position { return Position{MS: c.CreatedAt.UnixMilli(), ID: c.ID} }

// Compare orders positions as a listing shows them, newest first: it is
// negative when p is listed before o.
func (p Position) Compare(o Position) int {
	if c := cmp.Compare(o.MS, p.MS); c != 0 {
		return c
	}
	return strings.Compare(o.ID, p.ID)
}

// After reports whether p is listed after o, i.e. belongs to the pages
// that follow a cursor at o.
func (p Position) After(o Position) bool { return p.Compare(o) > 0 }

// Cursor encodes p for CallPage.NextCursor.
func (p Position) Cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.MS, 10) + ":" + p.ID))
}

// ParseCursor decodes a cursor made by Cursor.
func ParseCursor(s string) (Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Position{}, fmt.Errorf("invalid cursor %q", s)
	}
	ms, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return Position{}, fmt.Errorf("invalid cursor %q", s)
	}
	return Position{MS: n, ID: id}, nil
}

// PageSize returns the number of calls a page of q holds at most: Limit,
// 50 when it is not positive, and never more than 500.
func PageSize(q engine.CallQuery) int {
	if q.Limit <= 0 {
		return 50
	}
	return min(q.Limit, 500)
}

// MSRange returns the milliseconds [lo, hi] that hold every call passing
// q's Since and Until, math.MinInt64 and math.MaxInt64 standing for no
// bound. A store can skip what lies outside; Matches makes the exact test
// on CreatedAt.
func MSRange(q engine.CallQuery) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !q.Since.IsZero() {
		lo = q.Since.UnixMilli()
	}
	if !q.Until.IsZero() {
		hi = q.Until.UnixMilli()
	}
	return lo, hi
}

// Matches applies q's state and exact time filters to c; the tenant is
// the store's to check.
func Matches(c *engine.Call, q engine.CallQuery) bool {
	switch q.State {
	case "":
	case "live":
		if !c.Live() {
			return false
		}
	default:
		if string(c.State) != q.State {
			return false
		}
	}
	if !q.Since.IsZero() && c.CreatedAt.Before(q.Since) {
		return false
	}
	return q.Until.IsZero() || c.CreatedAt.Before(q.Until)
}
