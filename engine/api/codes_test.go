package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

type codeCase struct {
	code   string
	status int
	name   string
	mods   []string
}

// codeCases has one case (or a few) for every code ParseClickToCall and
// CheckCredentials produce.
var codeCases = []codeCase{
	{"1002", 400, "user_id missing", []string{"-user_id"}},
	{"1002", 400, "user_id empty", []string{"user_id= "}},
	{"1013", 401, "user_id not an integer", []string{"user_id=abc"}},
	{"1013", 401, "user_id unknown", []string{"user_id=999"}},
	{"1014", 400, "token missing", []string{"-token"}},
	{"1014", 400, "token empty", []string{"token="}},
	{"1020", 401, "token wrong", []string{"token=tok202"}},
	{"1539", 400, "mode invalid", []string{"mode=test"}},
	{"1502", 400, "fromType empty", []string{"fromType="}},
	{"1503", 400, "fromType invalid", []string{"fromType=Phone"}},
	{"1504", 400, "toType empty", []string{"toType= "}},
	{"1505", 400, "toType invalid", []string{"toType=Phone"}},
	{"1506", 400, "from missing", []string{"-from"}},
	{"1506", 400, "from empty", []string{"from="}},
	{"1507", 400, "to missing", []string{"-to"}},
	{"1521", 400, "from and to empty", []string{"from=", "to= "}},
	{"1521", 400, "from and to missing", []string{"-from", "-to"}},
	{"1508", 400, "invalid number in from", []string{"from=98765x3210"}},
	{"1508", 400, "empty element in from", []string{"from=9876543210,,9876543211"}},
	{"1509", 400, "invalid number in to", []string{"to=12"}},
	{"1510", 400, "duplicate number in from", []string{"from=9876543210, 9876543210"}},
	{"1511", 400, "duplicate number in to", []string{"to=9123456789,9123456789"}},
	{"1512", 400, "invalid agent in from", []string{"fromType=Agent", "from=nosuch"}},
	{"1513", 400, "invalid agent in to", []string{"toType=agent", "to=a1,nosuch"}},
	{"1514", 400, "duplicate agent in from", []string{"fromType=Agent", "from=a1,a1"}},
	{"1515", 400, "duplicate agent in to", []string{"toType=Agent", "to=a3,a3"}},
	{"1516", 400, "two groups in from", []string{"fromType=Group", "from=g1,g2"}},
	{"1517", 400, "two groups in to", []string{"toType=GROUP", "to=g1,g2"}},
	{"1518", 400, "invalid group in from", []string{"fromType=Group", "from=nosuch"}},
	{"1519", 400, "invalid group in to", []string{"toType=Group", "to=nosuch"}},
	{"1520", 400, "same number both sides", []string{"to=9123456780,9876543210"}},
	{"1520", 400, "same agent both sides", []string{"fromType=Agent", "toType=Agent", "from=a1", "to=a1"}},
	{"1522", 400, "fromStrategy invalid", []string{"fromStrategy=RANDOM"}},
	{"1523", 400, "toStrategy invalid", []string{"toStrategy=all"}},
	{"1524", 400, "fromRingTime not an integer", []string{"fromRingTime=2.5"}},
	{"1524", 400, "fromRingTime zero", []string{"fromRingTime=0"}},
	{"1525", 400, "fromRingTime negative", []string{"fromRingTime=-1"}},
	{"1526", 400, "toRingTime not an integer", []string{"toRingTime=abc"}},
	{"1527", 400, "toRingTime negative", []string{"toRingTime=-20"}},
	{"1528", 400, "fromRetryCount not an integer", []string{"fromRetryCount=one"}},
	{"1529", 400, "fromRetryCount negative", []string{"fromRetryCount=-1"}},
	{"1530", 400, "toRetryCount not an integer", []string{"toRetryCount=1e1"}},
	{"1531", 400, "toRetryCount negative", []string{"toRetryCount=-3"}},
	{"1532", 400, "timeLimit empty", []string{"timeLimit="}},
	{"1533", 400, "timeLimit negative", []string{"timeLimit=-60"}},
	{"1534", 400, "timeLimit not an integer", []string{"timeLimit=1.5"}},
	{"1534", 400, "timeLimit too large", []string{"timeLimit=99999999999"}},
	{"1535", 400, "ringTone unknown", []string{"ringTone=nosuch.wav"}},
	{"1536", 400, "fromWebLogin no agent", []string{"fromType=Agent", "from=a2", "fromWebLogin=yes"}},
	{"1537", 400, "fromWebLogin no group member", []string{"fromType=Group", "from=gweb0", "fromWebLogin=yes"}},
	{"1538", 400, "fromCallLogin no agent", []string{"fromType=Agent", "from=a1", "fromCallLogin=no"}},
	{"1540", 400, "fromCallLogin no group member", []string{"fromType=Group", "from=gcall0", "fromCallLogin=yes"}},
	{"1541", 400, "toWebLogin no agent", []string{"toType=Agent", "to=a1", "toWebLogin=no"}},
	{"1542", 400, "toWebLogin no group member", []string{"toType=Group", "to=gweb0", "toWebLogin=YES"}},
	{"1543", 400, "toCallLogin no agent", []string{"toType=Agent", "to=a2", "toCallLogin=yes"}},
	{"1544", 400, "toCallLogin no group member", []string{"toType=Group", "to=gcall0", "toCallLogin=yes"}},
	{"1545", 400, "timeLimitAlert not an integer", []string{"timeLimit=100", "timeLimitAlert=abc", "alertAudio=ann1"}},
	{"1545", 400, "timeLimtAlert zero", []string{"timeLimit=100", "timeLimtAlert=0", "alertAudio=ann1"}},
	{"1545", 400, "timeLimitAlert repeated", []string{"timeLimit=100", "timeLimitAlert=30,30", "alertAudio=ann1"}},
	{"1546", 400, "alertAudio unknown", []string{"timeLimit=100", "timeLimitAlert=50", "alertAudio=ann1,nosuch"}},
	{"1546", 400, "alertAudio missing", []string{"timeLimit=100", "timeLimitAlert=50"}},
	{"1546", 400, "alertAudio without marks", []string{"timeLimit=100", "alertAudio=ann1"}},
	{"1546", 400, "alertAudio count", []string{"timeLimit=100", "timeLimitAlert=10,20,30", "alertAudio=ann1,ann2"}},
	{"1547", 400, "timeLimitAlert at timeLimit", []string{"timeLimit=100", "timeLimitAlert=50,100", "alertAudio=ann1"}},
	{"1547", 400, "timeLimitAlert without timeLimit", []string{"timeLimtAlert=50", "alertAudio=ann1"}},
	{"1548", 400, "fromRetryCount over 3", []string{"fromRetryCount=4"}},
	{"1549", 400, "toRetryCount over 3", []string{"toRetryCount=99999999999999"}},
	{"1550", 400, "fromRingTime over 50", []string{"fromRingTime=51"}},
	{"1551", 400, "toRingTime over 50", []string{"toRingTime=120"}},
	{"1552", 400, "11 values in from", []string{"from=" + list(11, num(1))}},
	{"1553", 400, "11 values in to", []string{"to=" + list(11, num(2))}},
	{"1554", 400, "fromCLI invalid", []string{"fromCLI=abc"}},
	{"1555", 400, "toCLI invalid", []string{"toCLI=+"}},
	{"1556", 400, "fromCallLogin with TO_ALL", []string{"fromType=Agent", "from=a1,a3", "fromStrategy=TO_ALL", "fromCallLogin=yes"}},
	{"1557", 400, "toCallLogin with TO_ALL", []string{"toType=Group", "to=g1", "toStrategy=to_all", "toCallLogin=no"}},
	{"1558", 400, "sticky with two numbers", []string{"sticky=yes"}},
	{"1558", 400, "sticky with no number", []string{"sticky=yes", "fromType=Agent", "from=a1", "toType=Group", "to=g1"}},
	{"1559", 400, "stickyTimeType invalid", []string{"sticky=yes", "fromType=Agent", "from=a1", "stickyTimeType=week"}},
	{"1560", 400, "stickyTimeValue zero", []string{"sticky=yes", "fromType=Agent", "from=a1", "stickyTimeValue=0"}},
	{"1560", 400, "stickyTimeValue not an integer", []string{"sticky=yes", "fromType=Agent", "from=a1", "stickyTimeValue=two"}},
	{"1561", 400, "stickyTimeType without sticky", []string{"stickyTimeType=day"}},
	{"1561", 400, "stickyAgentBusy with sticky=no", []string{"sticky=no", "stickyAgentBusy=retryTemp"}},
	{"1562", 400, "stickyAgentBusy invalid", []string{"sticky=yes", "toType=Group", "to=g1", "stickyAgentBusy=wait"}},
	{"1563", 400, "queueTimeout not an integer", []string{"toType=Group", "to=g1", "queueTimeout=abc"}},
	{"1563", 400, "queueTimeout negative", []string{"toType=Group", "to=g1", "queueTimeout=-1"}},
	{"1564", 400, "fromWebLogin invalid", []string{"fromType=Agent", "from=a1", "fromWebLogin=maybe"}},
	{"1564", 400, "fromWebLogin on a number", []string{"fromWebLogin=yes"}},
	{"1565", 400, "fromCallLogin invalid", []string{"fromType=Agent", "from=a1", "fromCallLogin=1"}},
	{"1566", 400, "toWebLogin invalid", []string{"toType=Agent", "to=a1", "toWebLogin=maybe"}},
	{"1567", 400, "toCallLogin invalid", []string{"toType=Group", "to=g1", "toCallLogin=true"}},
	{"1568", 400, "queueTimeout without a group", []string{"queueTimeout=30"}},
	{"1569", 400, "from value of 51 digits", []string{"from=" + strings.Repeat("9", 51)}},
	{"1569", 400, "agent id of 51 characters", []string{"fromType=Agent", "from=a1," + strings.Repeat("x", 51)}},
	{"1569", 400, "ringTone of 51 characters", []string{"ringTone=" + strings.Repeat("r", 51)}},
	{"1569", 400, "fromRingTime of 51 characters", []string{"fromRingTime=" + strings.Repeat("1", 51)}},
	{"1570", 400, "dndFilter invalid", []string{"dndFilter=all"}},
	{"1571", 400, "dndFilter from on an agent", []string{"fromType=Agent", "from=a1", "dndFilter=from"}},
	{"1572", 400, "dndFilter both on a group", []string{"toType=Group", "to=g1", "dndFilter=both"}},
	{"1573", 400, "DND number in from", []string{"from=9876543210,9000000001", "dndFilter=from"}},
	{"1574", 400, "DND number in to", []string{"to=9000000001", "dndFilter=BOTH"}},
	{"1576", 400, "sticky with two customer numbers in from", []string{"sticky=yes", "from=9876543210,9876543211", "toType=Agent", "to=a1"}},
	{"1577", 400, "sticky with two customer numbers in to", []string{"sticky=yes", "fromType=Agent", "from=a1", "to=9123456789,9123456780"}},
	{"1578", 400, "from agent busy", []string{"fromType=Agent", "from=busy"}},
	{"1579", 400, "to agent busy", []string{"toType=Agent", "to=busy", "toWebLogin=yes"}},
	{"1580", 400, "fromCLI AGENT_CLI on a number", []string{"fromCLI=AGENT_CLI"}},
	{"1581", 400, "toCLI AGENT_CLI on a number", []string{"toCLI=agent_cli"}},
	{"1582", 400, "from agent without CLI", []string{"fromType=Agent", "from=a1,a2", "fromCLI=AGENT_CLI"}},
	{"1582", 400, "from group member without CLI", []string{"fromType=Group", "from=g1", "fromCLI=AGENT_CLI"}},
	{"1583", 400, "to agent without CLI", []string{"toType=Agent", "to=a2", "toCLI=AGENT_CLI"}},
	{"1585", 400, "fromCLI AGENT_CLI with a to group", []string{"fromType=Agent", "from=a1", "fromCLI=AGENT_CLI", "toType=Group", "to=g2"}},
	{"1575", 503, "DND look-up fails", []string{"to=9000000009", "dndFilter=to"}},
	{"1501", 503, "agent look-up fails", []string{"fromType=Agent", "from=a1,broken"}},
	{"1501", 503, "group look-up fails", []string{"toType=Group", "to=gbroken"}},
	{"1501", 503, "ringTone look-up fails", []string{"ringTone=annbroken"}},
	{"1501", 503, "alertAudio look-up fails", []string{"timeLimit=100", "timeLimitAlert=50", "alertAudio=annbroken"}},
	{"1539", 400, "conflicting repeats", []string{"+from=9876543211"}},
	{"1539", 400, "timeLimitHangup invalid", []string{"timeLimit=60", "timeLimitHangup=maybe"}},
	{"1539", 400, "sticky invalid", []string{"sticky=sometimes"}},
	{"1539", 400, "record invalid", []string{"record=maybe"}},
	{"1539", 400, "statusCallback not a URL", []string{"statusCallback=crm.example/hook"}},
	{"1539", 400, "statusCallback not http", []string{"statusCallback=ftp://crm.example/hook"}},
	{"1539", 400, "statusCallback without a host", []string{"statusCallback=https:///hook"}},
	{"1539", 400, "statusCallback with a space", []string{"statusCallback=https://crm.example/a hook"}},
	{"1539", 400, "statusCallback over 512 characters", []string{"statusCallback=https://crm.example/" + strings.Repeat("x", 493)}},
}

// notProduced are the spec's codes validation never returns (see doc.go).
var notProduced = map[string]string{
	"1584": "a Number-to-Number call is the spec's own example",
}

func TestErrorCodes(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	for _, tc := range codeCases {
		t.Run(tc.code+"/"+tc.name, func(t *testing.T) {
			before := eng.originateCount()
			resp := postForm(t, srv.URL+"/v2/clickToCall/para", params(tc.mods...))
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body: %v", err)
			}
			if body["code"] != tc.code || body["status"] != "error" || body["message"] == "" {
				t.Errorf("body = %v, want code %s", body, tc.code)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("HTTP status = %d, want %d", resp.StatusCode, tc.status)
			}
			if eng.originateCount() != before {
				t.Error("Originate was called for a refused request")
			}
			if tc.status == 503 && (resp.Header.Get("Retry-After") != "5" || strings.Contains(body["message"], errDirDown.Error())) {
				t.Errorf("failed look-up: Retry-After %q, message %q", resp.Header.Get("Retry-After"), body["message"])
			}
		})
	}
}

// TestEveryCodeCovered keeps the table honest: every spec code has a case
// or a documented reason why it is never produced.
func TestEveryCodeCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range codeCases {
		covered[tc.code] = true
	}
	for code := range specMessages {
		if !covered[code] && notProduced[code] == "" {
			t.Errorf("code %s has no test case", code)
		}
		if covered[code] && notProduced[code] != "" {
			t.Errorf("code %s is listed as not produced but has a case", code)
		}
	}
}

func TestErrorCodesDirect(t *testing.T) {
	// The same table through the functions, as the JSON API uses them.
	for _, tc := range codeCases {
		v := params(tc.mods...)
		_, err := CheckCredentials(v, testTenants)
		if err == nil {
			_, err = ParseClickToCall(context.Background(), v, testDir{})
		}
		if err == nil || err.Code != tc.code || err.HTTPStatus != tc.status {
			t.Errorf("%s/%s: got %v", tc.code, tc.name, err)
		}
		if err != nil && errors.Is(err, errDirDown) != (tc.status == 503) {
			t.Errorf("%s/%s: cause %v", tc.code, tc.name, err.Unwrap())
		}
	}
	if _, err := ParseClickToCall(context.Background(), params(), testDir{}); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	if http.StatusBadRequest != statusForCode("1506") {
		t.Fatal("status of 1506")
	}
}
