package dialer

import "testing"

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
