package demophone

import "testing"

func TestBehaviourOfLastDigit(t *testing.T) {
	tests := []struct {
		number string
		want   Behaviour
	}{
		{"9000000000", Answer}, {"9000000001", Answer}, {"9000000006", Answer},
		{"9000000007", Busy}, {"9000000008", NoAnswer}, {"9000000009", Reject},
		{"", Reject}, {"phone", Reject}, {"+917", Busy},
	}
	for _, tc := range tests {
		if got := BehaviourOf(tc.number); got != tc.want {
			t.Errorf("BehaviourOf(%q) = %v, want %v", tc.number, got, tc.want)
		}
	}
}
