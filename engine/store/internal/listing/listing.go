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
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
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
