package api

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

func mustParse(t *testing.T, v url.Values) engine.CallRequest {
	t.Helper()
	req, err := ParseClickToCall(context.Background(), v, testDir{})
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return req
}

func TestDefaults(t *testing.T) {
	req := mustParse(t, params())
	want := engine.CallRequest{
		From: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9876543210"}, Strategy: dialer.OneByOne,
			RingTime: 20, RetryCount: 0, WebLogin: "na", CallLogin: "na"},
		To: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9123456789"}, Strategy: dialer.OneByOne,
			RingTime: 20, RetryCount: 0, WebLogin: "na", CallLogin: "na"},
		TimeLimit:       0,
		TimeLimitHangup: true,
		Sticky:          "na",
		StickyTimeType:  "day",
		StickyTimeValue: 1,
		StickyAgentBusy: "retrySame",
		QueueTimeout:    60,
		Mode:            "live",
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", req, want)
	}
}

func TestEveryParameter(t *testing.T) {
	v := params(
		"fromType=agent", "from= a1 , a3 ", "fromStrategy=to_all", "fromRingTime=050", "fromRetryCount=3",
		"toType=Number", "to=+919123456789", "toStrategy=ONE_BY_ONE", "toRingTime=1", "toRetryCount=0",
		"timeLimit=300", "timeLimitHangup=No", "timeLimtAlert=120, 240", "alertAudio=ann1,ann2", "ringTone=1610448601_84.wav",
		"fromWebLogin=YES", "fromCallLogin=na", "toWebLogin=na", "toCallLogin=",
		"fromCLI=agent_cli", "toCLI=+911234567",
		"sticky=Yes", "stickyTimeType=HOUR", "stickyTimeValue=2", "stickyAgentBusy=retrytemp",
		"dndFilter=to", "mode=Developer", "record=YES", "somethingElse=ignored",
	)
	req := mustParse(t, v)
	want := engine.CallRequest{
		From: engine.SideRequest{Type: engine.TargetAgent, Values: []string{"a1", "a3"}, Strategy: dialer.ToAll,
			RingTime: 50, RetryCount: 3, CLI: "AGENT_CLI", WebLogin: "yes", CallLogin: "na"},
		To: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"+919123456789"}, Strategy: dialer.OneByOne,
			RingTime: 1, RetryCount: 0, CLI: "+911234567", WebLogin: "na", CallLogin: "na"},
		TimeLimit:       300,
		TimeLimitHangup: false,
		TimeLimitAlert:  []int{120, 240},
		AlertAudio:      []string{"ann1", "ann2"},
		RingTone:        "1610448601_84.wav",
		Sticky:          "yes",
		StickyTimeType:  "hour",
		StickyTimeValue: 2,
		StickyAgentBusy: "retryTemp",
		QueueTimeout:    60,
		DNDFilter:       "to",
		Mode:            "developer",
		Record:          true,
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("parsed:\n got %+v\nwant %+v", req, want)
	}
}

func TestGroupsAndQueue(t *testing.T) {
	req := mustParse(t, params("fromType=Group", "from=g1", "fromWebLogin=yes", "fromCallLogin=yes", "queueTimeout=0",
		"sticky=yes", "stickyTimeType=permanent"))
	if req.From.Type != engine.TargetGroup || req.QueueTimeout != 0 || req.StickyTimeType != "permanent" {
		t.Fatalf("got %+v", req)
	}
	// A group waits for a free member: availability is not checked.
	if _, err := ParseClickToCall(context.Background(), params("toType=Group", "to=g2", "toCLI=AGENT_CLI"), testDir{}); err != nil {
		t.Fatal(err)
	}
}

func TestLimits(t *testing.T) {
	ten := func(base int) string { return list(10, num(base)) }
	cases := []struct {
		name string
		mods []string
		code string // "" accepted
	}{
		{"fromRingTime 50", []string{"fromRingTime=50"}, ""},
		{"fromRingTime 51", []string{"fromRingTime=51"}, "1550"},
		{"toRingTime 50", []string{"toRingTime=50"}, ""},
		{"toRingTime 51", []string{"toRingTime=51"}, "1551"},
		{"fromRingTime 1", []string{"fromRingTime=1"}, ""},
		{"fromRetryCount 3", []string{"fromRetryCount=3"}, ""},
		{"fromRetryCount 4", []string{"fromRetryCount=4"}, "1548"},
		{"toRetryCount 3", []string{"toRetryCount=3"}, ""},
		{"toRetryCount 4", []string{"toRetryCount=4"}, "1549"},
		{"10 from values", []string{"from=" + ten(1)}, ""},
		{"11 from values", []string{"from=" + ten(1) + ",9000000009"}, "1552"},
		{"10 to values", []string{"to=" + ten(2)}, ""},
		{"11 to values", []string{"to=" + ten(2) + ",9000000009"}, "1553"},
		{"value of 50 characters", []string{"fromType=Agent", "from=" + long50, "ringTone=" + long50}, ""},
		{"value of 51 characters", []string{"ringTone=" + long50 + "x"}, "1569"},
		{"51 characters in runes", []string{"ringTone=" + strings.Repeat("é", 51)}, "1569"},
		{"timeLimit large", []string{"timeLimit=999999999"}, ""},
		{"timeLimit 0 is unlimited", []string{"timeLimit=0"}, ""},
		{"10 alert marks", []string{"timeLimit=1000", "timeLimitAlert=10,20,30,40,50,60,70,80,90,100", "alertAudio=ann1"}, ""},
		{"11 alert marks", []string{"timeLimit=1000", "timeLimitAlert=1,2,3,4,5,6,7,8,9,10,11", "alertAudio=ann1"}, "1545"},
		{"alert just below timeLimit", []string{"timeLimit=100", "timeLimitAlert=99", "alertAudio=ann1"}, ""},
		{"same alert spelling twice", []string{"timeLimit=100", "timeLimitAlert=50", "timeLimtAlert=50", "alertAudio=ann1"}, ""},
		{"two spellings disagree", []string{"timeLimit=100", "timeLimitAlert=50", "timeLimtAlert=60", "alertAudio=ann1"}, "1539"},
		{"repeat with the same value", []string{"+from=9876543210"}, ""},
		{"count before length", []string{"from=" + strings.Repeat("1,", 10) + strings.Repeat("9", 60)}, "1552"},
		{"length before number check", []string{"to=abc" + strings.Repeat("9", 60)}, "1569"},
		{"empty optional is absent", []string{"fromRingTime=", "ringTone=", "sticky=", "stickyTimeType=", "queueTimeout=", "dndFilter=", "mode=", "fromCLI="}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseClickToCall(context.Background(), params(tc.mods...), testDir{})
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (err == nil || err.Code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

func TestOrderOfChecks(t *testing.T) {
	cases := []struct {
		name string
		mods []string
		code string
	}{
		{"mode before types", []string{"mode=x", "fromType="}, "1539"},
		{"types before values", []string{"toType=x", "from="}, "1505"},
		{"from type before to type", []string{"fromType=x", "toType=y"}, "1503"},
		{"from values before to values", []string{"from=x", "to=y"}, "1508"},
		{"values before settings", []string{"to=y", "fromRingTime=x"}, "1509"},
		{"same value before settings", []string{"to=9876543210", "fromStrategy=x"}, "1520"},
		{"settings before timeLimit", []string{"toRetryCount=9", "timeLimit=-1"}, "1549"},
		{"format before duplicates", []string{"from=9876543210,9876543210,x"}, "1508"},
		{"sticky applicability before value", []string{"stickyTimeType=never"}, "1561"},
		{"queue applicability before value", []string{"queueTimeout=x"}, "1568"},
		{"DND type before listing", []string{"from=9000000001", "toType=Agent", "to=a1", "dndFilter=both"}, "1572"},
	}
	for _, tc := range cases {
		_, err := ParseClickToCall(context.Background(), params(tc.mods...), testDir{})
		if err == nil || err.Code != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestNoDirectory(t *testing.T) {
	for _, mods := range [][]string{
		{"fromType=Agent", "from=a1"},
		{"toType=Group", "to=g1"},
		{"ringTone=ann1"},
	} {
		if _, err := ParseClickToCall(context.Background(), params(mods...), nil); err == nil {
			t.Errorf("%v accepted without a directory", mods)
		}
	}
	if _, err := ParseClickToCall(context.Background(), params("dndFilter=both", "from=9000000001"), NoDirectory{}); err != nil {
		t.Fatalf("nobody is on DND without a directory: %v", err)
	}
	// Another tenant sees none of tenant 101's directory.
	if _, err := ParseClickToCall(context.Background(), params("user_id=202", "fromType=Agent", "from=a1"), testDir{}); err == nil || err.Code != "1512" {
		t.Fatalf("got %v", err)
	}
}

func TestCheckCredentials(t *testing.T) {
	if tenant, err := CheckCredentials(params(" user_id=101 "), testTenants); err != nil || tenant != "101" {
		t.Fatalf("got %q, %v", tenant, err)
	}
	if _, err := CheckCredentials(params("user_id=202", "token=tok101"), testTenants); err == nil || err.Code != "1020" {
		t.Fatalf("another tenant's token: %v", err)
	}
	if _, err := CheckCredentials(params("+user_id=202"), testTenants); err == nil || err.Code != "1013" {
		t.Fatalf("two user ids: %v", err)
	}
	if _, err := CheckCredentials(params(), map[string]string{"101": ""}); err == nil || err.Code != "1013" {
		t.Fatalf("a tenant without a token must not authenticate: %v", err)
	}
}

func TestParseInt(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		kind intKind
	}{
		{"0", 0, intOK}, {"007", 7, intOK}, {"-0", 0, intOK}, {"999999999", 999999999, intOK},
		{"1000000000", 0, intHuge}, {"-5", 0, intNegative}, {"-", 0, intNotInt}, {"", 0, intNotInt},
		{"+5", 0, intNotInt}, {"1.0", 0, intNotInt}, {" 1", 0, intNotInt}, {"-x", 0, intNotInt},
	}
	for _, c := range cases {
		if n, k := parseInt(c.in); n != c.n || k != c.kind {
			t.Errorf("parseInt(%q) = %d, %d; want %d, %d", c.in, n, k, c.n, c.kind)
		}
	}
}

func TestCredentialsCompareUserIDsAsIntegers(t *testing.T) {
	tenants := map[string]string{"1234567890123": "long", "7": "seven"}
	for _, tc := range []struct {
		user, token, want, code string
	}{
		{"1234567890123", "long", "1234567890123", ""},
		{"007", "seven", "7", ""},
		{"7", "long", "", "1020"},
		{"12345678901234567890123", "x", "", "1013"},
		{"7a", "seven", "", "1013"},
	} {
		got, err := CheckCredentials(url.Values{"user_id": {tc.user}, "token": {tc.token}}, tenants)
		code := ""
		if err != nil {
			code = err.Code
		}
		if got != tc.want || code != tc.code {
			t.Errorf("%s/%s: got %q code %q, want %q code %q", tc.user, tc.token, got, code, tc.want, tc.code)
		}
	}
}
