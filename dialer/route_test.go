package dialer

import (
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	trunks := [][]string{{"44", "441"}, nil, {"4412"}, {"1"}, nil}
	pre := func(i int) []string { return trunks[i] }
	for _, tc := range []struct {
		number string
		want   int
	}{
		{"4412345", 2}, // the longest prefix wins
		{"4419999", 0}, // 441 over 44, both trunk 0
		{"4400000", 0},
		{"15551234", 3},
		{"9990000", 1}, // no prefix matches: the first trunk without prefixes
		{"", 1},
	} {
		if got := Route(tc.number, len(trunks), pre); got != tc.want {
			t.Errorf("Route(%q) = %d, want %d", tc.number, got, tc.want)
		}
	}
	if got := Route("123", 1, func(int) []string { return []string{"9"} }); got != -1 {
		t.Errorf("no route: %d", got)
	}
	if got := Route("123", 0, pre); got != -1 {
		t.Errorf("no trunks: %d", got)
	}
}

func TestCheckTrunks(t *testing.T) {
	valid := func(p string) bool { return p != "bad" }
	check := func(names []string, prefixes [][]string) string {
		var out []string
		for _, err := range CheckTrunks(len(names), func(i int) string { return names[i] }, func(i int) []string { return prefixes[i] }, valid) {
			out = append(out, err.Error())
		}
		return strings.Join(out, "; ")
	}
	for _, tc := range []struct {
		names    []string
		prefixes [][]string
		want     string
	}{
		{[]string{"a", "b"}, [][]string{{"1"}, nil}, ""},
		{nil, nil, "no trunks configured"},
		{[]string{"", "a", "a"}, [][]string{{"1"}, {"2"}, {"3"}}, `trunk 0: name is empty; duplicate trunk name "a"`},
		{[]string{"a", "b"}, [][]string{{"1", "bad", ""}, {"1"}}, `trunk 0 ("a"): bad prefix "bad"; trunk 0 ("a"): bad prefix ""; prefix "1" is on trunks "a" and "b"`},
		{[]string{"a", "b"}, [][]string{nil, nil}, "more than one trunk without prefixes (default route is ambiguous)"},
	} {
		if got := check(tc.names, tc.prefixes); got != tc.want {
			t.Errorf("%v %v:\n got %s\nwant %s", tc.names, tc.prefixes, got, tc.want)
		}
	}
}
