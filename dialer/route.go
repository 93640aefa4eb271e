package dialer

import (
	"errors"
	"fmt"
	"strings"
)

// Route picks the trunk a number is sent through: of n trunks, whose
// prefixes are prefixes(i), the one with the longest prefix the number
// starts with; when none matches, the first trunk without prefixes (the
// default route). It returns -1 when neither exists. Both backends route
// this way, the native SIP one to SIP peers, the Asterisk one to endpoint
// templates.
func Route(number string, n int, prefixes func(i int) []string) int {
	best, bestLen := -1, -1
	for i := range n {
		ps := prefixes(i)
		if len(ps) == 0 && bestLen < 0 {
			best, bestLen = i, 0
		}
		for _, p := range ps {
			if strings.HasPrefix(number, p) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

// CheckTrunks checks a trunk table as Route reads it: n trunks named
// name(i), each with prefixes(i), every prefix valid by validPrefix.
// Names must be set and unique, a prefix may be on one trunk only, and at
// most one trunk may be without prefixes (the default route). Both
// backends' configurations check their trunks this way; the errors carry
// no package name, the caller adds its own.
func CheckTrunks(n int, name func(i int) string, prefixes func(i int) []string, validPrefix func(string) bool) []error {
	var errs []error
	if n == 0 {
		return []error{errors.New("no trunks configured")}
	}
	names := map[string]bool{}
	owner := map[string]string{}
	defaults := 0
	for i := range n {
		nm := name(i)
		switch {
		case nm == "":
			errs = append(errs, fmt.Errorf("trunk %d: name is empty", i))
		case names[nm]:
			errs = append(errs, fmt.Errorf("duplicate trunk name %q", nm))
		}
		names[nm] = true
		ps := prefixes(i)
		if len(ps) == 0 {
			defaults++
		}
		for _, p := range ps {
			if p == "" || !validPrefix(p) {
				errs = append(errs, fmt.Errorf("trunk %d (%q): bad prefix %q", i, nm, p))
				continue
			}
			if other, dup := owner[p]; dup {
				errs = append(errs, fmt.Errorf("prefix %q is on trunks %q and %q", p, other, nm))
			}
			owner[p] = nm
		}
	}
	if defaults > 1 {
		errs = append(errs, errors.New("more than one trunk without prefixes (default route is ambiguous)"))
	}
	return errs
}
