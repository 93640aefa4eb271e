package api

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

const (
	// maxValueLen is the longest single value the spec admits (1569).
	maxValueLen = 50
	// maxSideValues is the most values from or to may carry (1552/1553);
	// timeLimitAlert and alertAudio are held to the same bound.
	maxSideValues = 10
	// maxIntDigits bounds integers: longer ones are out of every range.
	maxIntDigits = 9
)

// form reads parameters from url.Values. Names are case-sensitive, values
// are trimmed of surrounding white space, and a parameter given more than
// once must repeat the same value.
type form struct{ v url.Values }

// get returns the trimmed value of the parameter known by names (the
// first is its canonical name, the others aliases) and whether any of the
// names is present at all. Repeats that disagree are refused with 1539.
func (f form) get(names ...string) (string, bool, *Error) {
	var val string
	seen := false
	for _, n := range names {
		for _, x := range f.v[n] {
			x = strings.TrimSpace(x)
			if !seen {
				val, seen = x, true
				continue
			}
			if x != val {
				return "", true, newError("1539", names[0]+" is given more than once with different values")
			}
		}
	}
	return val, seen, nil
}

// optional returns an optional parameter's value, "" when absent or empty
// (an optional parameter without a code of its own for "empty" treats an
// empty value as absent), after the length check (1569).
func (f form) optional(names ...string) (string, *Error) {
	val, _, err := f.get(names...)
	if err != nil {
		return "", err
	}
	if err := checkLen(names[0], val); err != nil {
		return "", err
	}
	return val, nil
}

// checkLen refuses a value longer than 50 characters (1569).
func checkLen(name, val string) *Error {
	if utf8.RuneCountInString(val) > maxValueLen {
		return newError("1569", fmt.Sprintf("%s has a value of %d characters", name, utf8.RuneCountInString(val)))
	}
	return nil
}

// intKind classifies a would-be integer.
type intKind int

const (
	intOK       intKind = iota
	intNotInt           // not a decimal integer
	intNegative         // a negative integer
	intHuge             // a positive integer with more than maxIntDigits digits
)

// parseInt reads a decimal integer: an optional '-' and ASCII digits, no
// '+', no spaces, no fraction. Leading zeros are allowed.
func parseInt(s string) (int, intKind) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, intNotInt
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, intNotInt
		}
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return 0, intOK
	}
	if neg {
		return 0, intNegative
	}
	if len(s) > maxIntDigits {
		return 0, intHuge
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, intOK
}

// parseBool reads true/false, 1/0, yes/no in any case.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// splitList splits a comma-separated value and trims every element. It
// refuses (ok false) a list of more than limit elements before splitting,
// so hostile input costs nothing.
func splitList(s string, limit int) ([]string, bool) {
	if strings.Count(s, ",")+1 > limit {
		return nil, false
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, true
}

// firstDuplicate returns the first value that repeats an earlier one.
func firstDuplicate(vals []string) (string, bool) {
	seen := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		if _, ok := seen[v]; ok {
			return v, true
		}
		seen[v] = struct{}{}
	}
	return "", false
}

// oneOf returns the canonical spelling among choices that equals s
// ignoring case.
func oneOf(s string, choices ...string) (string, bool) {
	for _, c := range choices {
		if strings.EqualFold(s, c) {
			return c, true
		}
	}
	return "", false
}

// quote renders a user's value for a message.
func quote(s string) string { return fmt.Sprintf("%q", s) }
