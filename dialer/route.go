package dialer

import "strings"

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
