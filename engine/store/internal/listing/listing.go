// Package listing is what Switchboard's call stores share to list a
// tenant's calls (engine.Store.ListCalls): the order of a listing, its
// cursors, the page size, the filters, the skip to a numbered page and the
// count. None of it depends on where the calls are kept, so the memory and
// Redis stores list alike by construction, and their conformance suite
// checks the rest.
//
// A listing runs newest first: by CreatedAt's unix millisecond, then by
// call id, both descending (the order of a Redis sorted set read in
// reverse, whose score is the millisecond). A cursor names the Position
// of a page's last call; the next page holds the calls listed after it,
// so a walk neither repeats nor skips calls whatever is created meanwhile.
//
// A store lists by driving a Walk: it reads its index from the Walk's
// Cursor within its Range, newest first, hands each call it holds to Add
// until Add says enough, and ends with Page. The Walk applies every filter
// of the query (Matches, and CallQuery.After), skips the pages before
// CallQuery.Page, fills the page, looks for one more match (which says
// whether a next page exists) and counts (CallQuery.Count). Skipping and
// counting stop at the scan limit (CallQuery.ScanLimit calls examined,
// matching or not): a numbered page that starts beyond it is
// engine.ErrPageTooDeep, and a count cut short by it is a lower bound
// (CallPage.TotalCapped). Filling the page and finding the next match are
// not bounded, as in a listing by cursor.
package listing

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
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

// cursorVersion starts every cursor's bytes, so that a later format can
// be told apart.
const cursorVersion = 1

// cursorEncoding is base64url without padding, strict: every cursor has
// exactly one spelling, so an altered character never decodes to the same
// bytes.
var cursorEncoding = base64.RawURLEncoding.Strict()

// Cursor encodes p for CallPage.NextCursor: base64url of a version byte,
// MS as 8 bytes big-endian, the id, and a CRC-32 (IEEE) of all that. The
// check is no secret and needs none: it tells the cursors a store issued
// from garbage, truncations and edits, and whoever forges one only names
// a position in a listing of their own tenant. It is not tied to the
// query, so a cursor may be reused with other filters.
func (p Position) Cursor() string {
	b := make([]byte, 0, 1+8+len(p.ID)+4)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.MS))
	b = append(b, p.ID...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return cursorEncoding.EncodeToString(b)
}

// ParseCursor decodes a cursor made by Cursor. A cursor that Cursor did
// not make (garbage, altered, of another format) is an error wrapping
// engine.ErrBadCursor.
func ParseCursor(s string) (Position, error) {
	b, err := cursorEncoding.DecodeString(s)
	switch {
	case err != nil:
		return Position{}, badCursor("not base64url")
	case len(b) < 1+8+4:
		return Position{}, badCursor("too short")
	case b[0] != cursorVersion:
		return Position{}, badCursor("unknown format")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return Position{}, badCursor("check failed")
	}
	return Position{MS: int64(binary.BigEndian.Uint64(body[1:9])), ID: string(body[9:])}, nil
}

func badCursor(why string) error {
	return fmt.Errorf("%w (%s): not one that this listing issued", engine.ErrBadCursor, why)
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

// Matches applies q's filters but After (which needs the position of
// another call: Walk applies it) to c; the tenant is the store's to check.
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
	if q.Status != "" && !c.HasStatus(q.Status) {
		return false
	}
	if q.Direction != "" && direction(c) != q.Direction {
		return false
	}
	if q.App != "" && c.App != q.App {
		return false
	}
	if q.Group != "" && !inGroup(c, q.Group) {
		return false
	}
	if q.Caller != "" && !hasCaller(c, q.Caller) {
		return false
	}
	if !q.Since.IsZero() && c.CreatedAt.Before(q.Since) {
		return false
	}
	return q.Until.IsZero() || c.CreatedAt.Before(q.Until)
}

// NeedsLegs reports whether Matches looks at the legs of a call for q (a
// store that keeps them apart can spare joining them otherwise).
func NeedsLegs(q engine.CallQuery) bool { return q.Group != "" || q.Caller != "" }

// direction is c's Direction, outbound for a record older than inbound
// calls (without one).
func direction(c *engine.Call) engine.Direction {
	if c.Direction == "" {
		return engine.DirectionOutbound
	}
	return c.Direction
}

// inGroup reports whether c went through group g: a leg offered by it, or
// a request side of type Group naming it.
func inGroup(c *engine.Call, g string) bool {
	for _, side := range []engine.SideRequest{c.Request.From, c.Request.To} {
		if side.Type == engine.TargetGroup && slices.Contains(side.Values, g) {
			return true
		}
	}
	for _, l := range c.Legs {
		if l.GroupID == g {
			return true
		}
	}
	return false
}

// hasCaller reports whether number is c's caller: Call.Caller of an
// inbound call; of an outbound call, a value of a Number side or a number
// one of its legs dialed.
func hasCaller(c *engine.Call, number string) bool {
	if direction(c) == engine.DirectionInbound {
		return c.Caller == number
	}
	for _, side := range []engine.SideRequest{c.Request.From, c.Request.To} {
		if side.Type == engine.TargetNumber && slices.Contains(side.Values, number) {
			return true
		}
	}
	for _, l := range c.Legs {
		if l.Number == number {
			return true
		}
	}
	return false
}

// Walk is one listing in progress; see the package comment.
type Walk struct {
	q         engine.CallQuery
	cursor    *Position
	after     *Position
	limit     int
	skip      int
	scanLimit int

	examined int // calls handed to Add
	skipped  int // matching calls skipped before the page
	total    int // matching calls seen
	calls    []*engine.Call
	places   []Position
	next     bool // a matching call follows the page
	atLimit  bool // the walk stopped at the scan limit
}

// NewWalk starts a listing of q. after is the record of q.After (nil when
// the store holds none, or q.After is empty). It refuses a cursor it did
// not issue (engine.ErrBadCursor) and an After naming no call of the
// tenant (engine.ErrUnknownAfter).
func NewWalk(q engine.CallQuery, after *engine.Call) (*Walk, error) {
	w := &Walk{q: q, limit: PageSize(q), scanLimit: q.ScanLimit}
	if w.scanLimit <= 0 {
		w.scanLimit = engine.DefaultScanLimit
	}
	if q.Cursor != "" {
		p, err := ParseCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		w.cursor = &p
	}
	if q.After != "" {
		if after == nil || after.ID != q.After || after.Tenant != q.Tenant {
			return nil, fmt.Errorf("%w: %q", engine.ErrUnknownAfter, q.After)
		}
		p := Of(after)
		w.after = &p
	}
	if q.Page > 1 {
		if q.Page-1 > math.MaxInt/w.limit {
			w.skip = math.MaxInt
		} else {
			w.skip = (q.Page - 1) * w.limit
		}
	}
	return w, nil
}

// Cursor is the position the walk starts after; nil: from the newest.
func (w *Walk) Cursor() *Position { return w.cursor }

// Range returns the milliseconds [lo, hi] that hold every call the walk
// can match (MSRange narrowed by After).
func (w *Walk) Range() (lo, hi int64) {
	lo, hi = MSRange(w.q)
	if w.after != nil {
		lo = max(lo, w.after.MS)
	}
	return lo, hi
}

// Add hands the walk the next call of the tenant in listing order, at
// position p, and reports whether the walk wants another. The store hands
// it only calls it holds, of the query's tenant.
func (w *Walk) Add(p Position, c *engine.Call) bool {
	w.examined++
	if Matches(c, w.q) && (w.after == nil || p.Compare(*w.after) < 0) {
		w.total++
		switch {
		case w.skipped < w.skip:
			w.skipped++
		case len(w.calls) < w.limit:
			w.calls, w.places = append(w.calls, c), append(w.places, p)
		default:
			w.next = true
		}
	}
	full := w.skipped >= w.skip && len(w.calls) == w.limit
	switch {
	case !full:
		// Skipping is bounded; filling the page is not.
		if w.skipped < w.skip && w.examined >= w.scanLimit {
			w.atLimit = true
			return false
		}
		return true
	case !w.next:
		return true // the next match says whether a next page exists
	case !w.q.Count:
		return false
	case w.examined >= w.scanLimit:
		w.atLimit = true
		return false
	}
	return true
}

// Page ends the walk and returns its page. more says whether the store
// holds calls after the last one handed to Add (in the walk's range);
// it may say so of records it has not read, which may have expired.
func (w *Walk) Page(more bool) (engine.CallPage, error) {
	if w.atLimit && more && w.skipped < w.skip {
		return engine.CallPage{}, fmt.Errorf("%w: page %d of %d calls each does not start within the %d calls examined",
			engine.ErrPageTooDeep, w.q.Page, w.limit, w.scanLimit)
	}
	page := engine.CallPage{Calls: w.calls}
	if w.next {
		page.NextCursor = w.places[len(w.places)-1].Cursor()
	}
	if w.q.Count {
		page.Total, page.TotalCapped = w.total, w.atLimit && more
	}
	return page, nil
}
