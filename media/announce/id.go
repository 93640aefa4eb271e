package announce

import (
	"errors"
	"fmt"
	"strings"
)

// MaxIDLen bounds an announcement id: ids are click-to-call values
// (ringTone, alertAudio), which the spec holds to 50 characters.
const MaxIDLen = 50

// IDRule says what ValidID accepts, for error messages.
const IDRule = "1 to 50 characters of A-Z, a-z, 0-9, '_', '.' and '-', not starting with '.', ending in \".wav\" (like 1610448601_84.wav)"

// ValidID reports whether id can name an announcement: at most MaxIDLen
// characters of A-Z, a-z, 0-9, '_', '.' and '-', something before a
// ".wav" suffix (lower case), and no leading '.'. Such an id is a safe
// file name as it is: it holds no path separator, is never "." or "..",
// and is never a hidden or temporary file of the store.
func ValidID(id string) bool {
	if len(id) > MaxIDLen || len(id) <= len(".wav") || !strings.HasSuffix(id, ".wav") || id[0] == '.' {
		return false
	}
	return safeName(id)
}

// validTenant reports whether a tenant id can name the directory of its
// uploads: 1 to 64 characters of the same set as ids, no leading '.'.
func validTenant(tenant string) bool {
	return tenant != "" && len(tenant) <= 64 && tenant[0] != '.' && safeName(tenant)
}

func safeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// generatedID is an id in the style of the click-to-call spec's examples:
// unix seconds, '_', a counter, ".wav" ("1610448601_84.wav").
func generatedID(unix int64, n uint64) string {
	return fmt.Sprintf("%d_%d.wav", unix, n)
}

// The kinds of refusal; every error the Store returns about a request
// matches one of them (errors.Is), and its message (Error.Msg) says what
// is wrong in words a client can act on. Any other error is the store's
// own failure (a disk that cannot be written).
var (
	ErrNotFound    = errors.New("announce: no such announcement")
	ErrExists      = errors.New("announce: the id is taken")
	ErrInvalidID   = errors.New("announce: invalid announcement id")
	ErrInvalidName = errors.New("announce: invalid announcement name")
	ErrBadAudio    = errors.New("announce: audio not accepted")
	ErrTooLarge    = errors.New("announce: file too large")
	ErrReadOnly    = errors.New("announce: shared announcements are read-only")
	ErrLimit       = errors.New("announce: too many announcements")
	ErrRead        = errors.New("announce: reading the upload failed")
)

// Error is a refusal: Kind is one of the Err* values, Msg the detail.
type Error struct {
	Kind error
	Msg  string
	// cause is an underlying error (a reader's), kept for errors.Is/As.
	cause error
}

func (e *Error) Error() string { return "announce: " + e.Msg }

// Is matches the refusal's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.cause }

func refuse(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
