package dialer

import (
	"testing"
	"time"
)

func TestParseStickyBusyPolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    StickyBusyPolicy
		wantErr bool
	}{
		{"", RetrySame, false},
		{" ", RetrySame, false},
		{"retrySame", RetrySame, false},
		{"RETRYSAME", RetrySame, false},
		{"retryNewSticky", RetryNewSticky, false},
		{"retrynewsticky", RetryNewSticky, false},
		{"retryTemp", RetryTemp, false},
		{" RetryTemp ", RetryTemp, false},
		{"retry", "", true},
		{"retry_same", "", true},
		{"same", "", true},
	}
	for _, tc := range tests {
		got, err := ParseStickyBusyPolicy(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseStickyBusyPolicy(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestStickyTTL(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		typ     string
		value   int
		want    time.Duration
		wantErr bool
	}{
		{"min", 1, time.Minute, false},
		{"min", 90, 90 * time.Minute, false},
		{"hour", 2, 2 * time.Hour, false},
		{"day", 1, day, false},
		{"day", 7, 7 * day, false},
		{"month", 1, 30 * day, false},
		{"month", 12, 360 * day, false},
		{"", 3, 3 * day, false},
		{" ", 3, 3 * day, false},
		{"DAY", 2, 2 * day, false},
		{"Month", 1, 30 * day, false},
		{"permanent", 1, 0, false},
		{"permanent", 0, 0, false},
		{"permanent", -5, 0, false},
		{"PERMANENT", 1 << 40, 0, false},
		// At and past the cap.
		{"day", 36500, MaxStickyTTL, false},
		{"day", 36501, MaxStickyTTL, false},
		{"month", 1 << 30, MaxStickyTTL, false},
		{"min", int(^uint(0) >> 1), MaxStickyTTL, false},
		{"hour", 876000, MaxStickyTTL, false},
		{"hour", 875999, 875999 * time.Hour, false},
		// Refused.
		{"day", 0, 0, true},
		{"min", -1, 0, true},
		{"", 0, 0, true},
		{"week", 1, 0, true},
		{"minute", 1, 0, true},
		{"days", 1, 0, true},
	}
	for _, tc := range tests {
		got, err := StickyTTL(tc.typ, tc.value)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("StickyTTL(%q, %d) = %v, %v; want %v, err=%v", tc.typ, tc.value, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestDecideSticky(t *testing.T) {
	tests := []struct {
		name string
		in   StickyInput
		want StickyPlan
	}{
		{"no binding", StickyInput{Policy: RetrySame},
			StickyPlan{Rebind: true, Reason: "sticky miss: no binding"}},
		{"no binding ignores the other flags", StickyInput{BoundIsMember: true, BoundAvailable: true, Policy: RetryTemp},
			StickyPlan{Rebind: true, Reason: "sticky miss: no binding"}},
		{"bound agent left the group", StickyInput{Bound: "a1", BoundIsMember: false, Policy: RetrySame},
			StickyPlan{Rebind: true, Reason: "sticky miss: bound agent no longer a member"}},
		{"bound agent left the group (retryTemp)", StickyInput{Bound: "a1", BoundAvailable: true, Policy: RetryTemp},
			StickyPlan{Rebind: true, Reason: "sticky miss: bound agent no longer a member"}},
		{"hit", StickyInput{Bound: "a1", BoundIsMember: true, BoundAvailable: true, Policy: RetrySame},
			StickyPlan{TryFirst: "a1", Reason: "sticky hit"}},
		{"hit, any policy", StickyInput{Bound: "a1", BoundIsMember: true, BoundAvailable: true, Policy: RetryNewSticky},
			StickyPlan{TryFirst: "a1", Reason: "sticky hit"}},
		{"busy, retrySame", StickyInput{Bound: "a1", BoundIsMember: true, Policy: RetrySame},
			StickyPlan{TryFirst: "a1", WaitForBound: true, Reason: "sticky agent busy: retrySame"}},
		{"busy, empty policy is retrySame", StickyInput{Bound: "a1", BoundIsMember: true},
			StickyPlan{TryFirst: "a1", WaitForBound: true, Reason: "sticky agent busy: retrySame"}},
		{"busy, unknown policy is retrySame", StickyInput{Bound: "a1", BoundIsMember: true, Policy: "retryLater"},
			StickyPlan{TryFirst: "a1", WaitForBound: true, Reason: "sticky agent busy: retrySame"}},
		{"busy, retryNewSticky", StickyInput{Bound: "a1", BoundIsMember: true, Policy: RetryNewSticky},
			StickyPlan{Rebind: true, Reason: "sticky agent busy: retryNewSticky"}},
		{"busy, retryTemp", StickyInput{Bound: "a1", BoundIsMember: true, Policy: RetryTemp},
			StickyPlan{Reason: "sticky agent busy: retryTemp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideSticky(tc.in); got != tc.want {
				t.Fatalf("DecideSticky(%+v) = %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestBindOnAnswer(t *testing.T) {
	const bound = "a1"
	plan := func(in StickyInput) StickyPlan { in.Bound = bound; return DecideSticky(in) }
	hit := plan(StickyInput{BoundIsMember: true, BoundAvailable: true})
	newSticky := plan(StickyInput{BoundIsMember: true, Policy: RetryNewSticky})
	temp := plan(StickyInput{BoundIsMember: true, Policy: RetryTemp})
	same := plan(StickyInput{BoundIsMember: true, Policy: RetrySame})
	gone := plan(StickyInput{BoundIsMember: false})
	none := DecideSticky(StickyInput{})
	tests := []struct {
		name     string
		plan     StickyPlan
		bound    string
		answered string
		want     bool
	}{
		{"hit: bound agent answers, period restarts", hit, bound, bound, true},
		{"hit: fallback agent answers, binding kept", hit, bound, "b2", false},
		{"retrySame: bound agent answers", same, bound, bound, true},
		{"retryNewSticky: new agent answers", newSticky, bound, "b2", true},
		{"retryTemp: stand-in answers, binding kept", temp, bound, "b2", false},
		{"retryTemp: bound agent freed up and answered", temp, bound, bound, true},
		{"bound agent left: new agent answers", gone, bound, "b2", true},
		{"no binding: first answer binds", none, "", "b2", true},
		{"nobody answered", newSticky, bound, "", false},
		{"nobody answered, no binding", none, "", "", false},
	}
	for _, tc := range tests {
		if got := tc.plan.BindOnAnswer(tc.bound, tc.answered); got != tc.want {
			t.Errorf("%s: BindOnAnswer(%q, %q) = %v, want %v", tc.name, tc.bound, tc.answered, got, tc.want)
		}
	}
}
