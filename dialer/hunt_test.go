package dialer

import (
	"reflect"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	rt := 20 * time.Second
	tests := []struct {
		name string
		side Side
		want []Wave
	}{
		{"empty side has no waves", Side{RingTime: rt}, nil},
		{"one number, no retry", Side{Targets: []string{"a"}, RingTime: rt},
			[]Wave{{Round: 0, Step: 0, Targets: []string{"a"}, RingTime: rt}}},
		{"one by one rings in request order", Side{Targets: []string{"a", "b", "c"}, Strategy: OneByOne, RingTime: rt},
			[]Wave{
				{Round: 0, Step: 0, Targets: []string{"a"}, RingTime: rt},
				{Round: 0, Step: 1, Targets: []string{"b"}, RingTime: rt},
				{Round: 0, Step: 2, Targets: []string{"c"}, RingTime: rt},
			}},
		{"empty strategy is one by one", Side{Targets: []string{"a", "b"}, RingTime: rt},
			[]Wave{
				{Round: 0, Step: 0, Targets: []string{"a"}, RingTime: rt},
				{Round: 0, Step: 1, Targets: []string{"b"}, RingTime: rt},
			}},
		{"to all rings together", Side{Targets: []string{"a", "b"}, Strategy: ToAll, RingTime: rt},
			[]Wave{{Round: 0, Step: 0, Targets: []string{"a", "b"}, RingTime: rt}}},
		{"retries repeat the whole side (one by one)", Side{Targets: []string{"a", "b"}, Strategy: OneByOne, RingTime: rt, Retries: 2},
			[]Wave{
				{Round: 0, Step: 0, Targets: []string{"a"}, RingTime: rt},
				{Round: 0, Step: 1, Targets: []string{"b"}, RingTime: rt},
				{Round: 1, Step: 2, Targets: []string{"a"}, RingTime: rt},
				{Round: 1, Step: 3, Targets: []string{"b"}, RingTime: rt},
				{Round: 2, Step: 4, Targets: []string{"a"}, RingTime: rt},
				{Round: 2, Step: 5, Targets: []string{"b"}, RingTime: rt},
			}},
		{"retries repeat the whole side (to all)", Side{Targets: []string{"a", "b"}, Strategy: ToAll, RingTime: rt, Retries: 1},
			[]Wave{
				{Round: 0, Step: 0, Targets: []string{"a", "b"}, RingTime: rt},
				{Round: 1, Step: 1, Targets: []string{"a", "b"}, RingTime: rt},
			}},
		{"negative retries count as none", Side{Targets: []string{"a"}, RingTime: rt, Retries: -1},
			[]Wave{{Round: 0, Step: 0, Targets: []string{"a"}, RingTime: rt}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.side)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Plan() = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPlanDoesNotAliasTargets(t *testing.T) {
	targets := []string{"a", "b"}
	waves := Plan(Side{Targets: targets, Strategy: ToAll, Retries: 1})
	waves[0].Targets[0] = "x"
	if targets[0] != "a" || waves[1].Targets[0] != "a" {
		t.Fatalf("waves share the caller's slice: %v %v", targets, waves)
	}
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		in      string
		want    Strategy
		wantErr bool
	}{
		{"", OneByOne, false},
		{"ONE_BY_ONE", OneByOne, false},
		{"one_by_one", OneByOne, false},
		{"TO_ALL", ToAll, false},
		{" TO_ALL ", ToAll, false},
		{"ALL", "", true},
		{"ONEBYONE", "", true},
	}
	for _, tc := range tests {
		got, err := ParseStrategy(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseStrategy(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestValidNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"9876543210", true},
		{"+919876543210", true},
		{"100", true},
		{"123456789012345", true},
		{"1234567890123456", false},
		{"12", false},
		{"+12", false},
		{"", false},
		{"+", false},
		{"98765 43210", false},
		{"98765-43210", false},
		{"98765XXXXX", false},
		{"++9876543210", false},
		{"0x12345", false},
	}
	for _, tc := range tests {
		if got := ValidNumber(tc.in); got != tc.want {
			t.Errorf("ValidNumber(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
