package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/sipptest"
)

// The far ends, by number prefix: 1 answers, 2 is busy, 3 rings for ever,
// 4 answers after about 2 s, 5 answers and hangs up itself, 6 answers and
// plays audio, 7 rejects.
func answerUAS(t *testing.T) *sipptest.UAS {
	return sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml", RTPEcho: true})
}
func busyUAS(t *testing.T) *sipptest.UAS {
	return sipptest.Start(t, sipptest.Options{Scenario: "uas_busy.xml"})
}
func noAnswerUAS(t *testing.T) *sipptest.UAS {
	return sipptest.Start(t, sipptest.Options{Scenario: "uas_noanswer.xml"})
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestOneByOneFallsThroughBusyAndNoAnswerToTheOneThatAnswers(t *testing.T) {
	answer, busy, silent := answerUAS(t), busyUAS(t), noAnswerUAS(t)
	n := startNode(t, "", trunk{"1", answer}, trunk{"2", busy}, trunk{"3", silent})

	id := n.clickToCall(params("from", "2000001,3000001,1000001", "fromRingTime", "2", "to", "1000002"))
	n.waitState(id, "bridged")
	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	c := n.waitState(id, "ended")

	want := []string{"from:2000001:busy", "from:3000001:noanswer", "from:1000001:answered", "to:1000002:answered"}
	if !equal(c.legs(), want) {
		t.Fatalf("legs %v, want %v", c.legs(), want)
	}
	if c.Outcome != "completed" || c.HangupBy != "api" || c.BridgedAt == nil {
		t.Fatalf("record %+v", c)
	}
	if c.Legs[0].SIPCode != 486 {
		t.Fatalf("busy leg SIP code %d", c.Legs[0].SIPCode)
	}
	busy.WaitCounts(t, "one INVITE answered 486", func(s sipptest.Counts) bool {
		return s.Requests["INVITE"] == 1 && s.Responses[486] == 1 && s.Requests["ACK"] == 1
	})
	silent.WaitCounts(t, "INVITE then CANCEL", func(s sipptest.Counts) bool {
		return s.Requests["INVITE"] == 1 && s.Requests["CANCEL"] == 1 && s.Responses[487] == 1
	})
	answer.WaitCounts(t, "two calls answered and hung up", func(s sipptest.Counts) bool {
		return s.Requests["INVITE"] == 2 && s.Requests["ACK"] == 2 && s.Requests["BYE"] == 2 && s.Requests["CANCEL"] == 0
	})
}

func TestToAllFirstAnswerWinsAndTheOthersAreCancelled(t *testing.T) {
	answer, silent := answerUAS(t), noAnswerUAS(t)
	late := sipptest.Start(t, sipptest.Options{Scenario: "uas_delay.xml"})
	n := startNode(t, "", trunk{"1", answer}, trunk{"3", silent}, trunk{"4", late})

	id := n.clickToCall(params("from", "3000001,4000001,1000001", "fromStrategy", "TO_ALL", "to", "1000002", "timeLimit", "1"))
	c := n.waitState(id, "ended")
	got := map[string]string{}
	for _, l := range c.Legs {
		got[l.Number] = l.Disposition
	}
	if got["1000001"] != "answered" || got["3000001"] != "canceled" || got["4000001"] != "canceled" || got["1000002"] != "answered" {
		t.Fatalf("legs %v", c.legs())
	}
	silent.WaitCounts(t, "CANCEL", func(s sipptest.Counts) bool { return s.Requests["CANCEL"] == 1 && s.Requests["BYE"] == 0 })
	// The late phone either took the CANCEL while ringing, or its 200
	// crossed the CANCEL and got ACK + BYE: never a call left up.
	late.WaitCounts(t, "CANCEL (or ACK+BYE of a crossing 200)", func(s sipptest.Counts) bool {
		return s.Requests["CANCEL"] == 1 && (s.Responses[200] <= 1 || s.Requests["BYE"] == 1)
	})
	if c.HangupBy != "time_limit" {
		t.Fatalf("hangup_by %q", c.HangupBy)
	}
}

func TestRetriesRepeatTheWholeSide(t *testing.T) {
	busy := busyUAS(t)
	n := startNode(t, "", trunk{"2", busy})
	id := n.clickToCall(params("from", "2000001,2000002", "fromRetryCount", "2", "to", "2000003"))
	c := n.waitState(id, "ended")
	if c.Outcome != "from_unanswered" || len(c.Legs) != 6 {
		t.Fatalf("record %+v", c)
	}
	for i, l := range c.Legs {
		if l.Round != i/2 || l.Disposition != "busy" {
			t.Fatalf("leg %d: round %d %s", i, l.Round, l.Disposition)
		}
	}
	busy.WaitCounts(t, "six INVITEs", func(s sipptest.Counts) bool { return s.Requests["INVITE"] == 6 && s.Responses[486] == 6 })
}

func TestUnreachableToHangsUpFrom(t *testing.T) {
	answer, busy := answerUAS(t), busyUAS(t)
	n := startNode(t, "", trunk{"1", answer}, trunk{"2", busy})
	id := n.clickToCall(params("from", "1000001", "to", "2000001", "toRetryCount", "1"))
	c := n.waitState(id, "ended")
	want := []string{"from:1000001:answered", "to:2000001:busy", "to:2000001:busy"}
	if c.Outcome != "to_unanswered" || !equal(c.legs(), want) {
		t.Fatalf("outcome %s legs %v", c.Outcome, c.legs())
	}
	answer.WaitCounts(t, "BYE to from", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 1 })
}

func TestTimeLimitHangsUpBothParties(t *testing.T) {
	answer := answerUAS(t)
	n := startNode(t, "", trunk{"1", answer})
	id := n.clickToCall(params("from", "1000001", "to", "1000002", "timeLimit", "1"))
	c := n.waitState(id, "ended")
	if c.HangupBy != "time_limit" || c.Outcome != "completed" || c.Talk <= 0 {
		t.Fatalf("record %+v", c)
	}
	answer.WaitCounts(t, "both BYEs", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 2 })
}

func TestByeFromEitherSideEndsTheOther(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, by string
	}{
		{"to hangs up", "1000001", "5000001", "to"},
		{"from hangs up", "5000001", "1000001", "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := answerUAS(t)
			hangs := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_bye.xml", Duration: time.Second})
			n := startNode(t, "", trunk{"1", answer}, trunk{"5", hangs})
			id := n.clickToCall(params("from", tc.from, "to", tc.to))
			c := n.waitState(id, "ended")
			if c.HangupBy != tc.by || c.Outcome != "completed" {
				t.Fatalf("hangup_by %q outcome %q, want %q completed", c.HangupBy, c.Outcome, tc.by)
			}
			hangs.WaitCounts(t, "its BYE answered 200", func(s sipptest.Counts) bool {
				return s.SentRequests["BYE"] == 1 && s.ReceivedResponses[200] == 1
			})
			answer.WaitCounts(t, "a BYE from the engine", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 1 })
		})
	}
}

func TestRTPFlowsBothWaysThroughTheRelay(t *testing.T) {
	talker := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_play.xml"})
	echo := answerUAS(t)
	n := startNode(t, "", trunk{"6", talker}, trunk{"1", echo})
	id := n.clickToCall(params("from", "6000001", "to", "1000001", "timeLimit", "3"))
	c := n.waitState(id, "ended")
	if len(c.Legs) != 2 {
		t.Fatalf("legs %v", c.legs())
	}
	raw := n.raw(id)
	var rec struct {
		Legs []struct {
			Side  string `json:"side"`
			Media *struct {
				PacketsIn  uint64 `json:"packets_in"`
				PacketsOut uint64 `json:"packets_out"`
			} `json:"media"`
		} `json:"legs"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	from, to := rec.Legs[0].Media, rec.Legs[1].Media
	if from == nil || to == nil {
		t.Fatalf("no media counters in %s", raw)
	}
	// The talker's audio reached the echo phone (to: out), came back
	// (to: in) and was relayed to the talker (from: out).
	if from.PacketsIn == 0 || to.PacketsOut == 0 || to.PacketsIn == 0 || from.PacketsOut == 0 {
		t.Fatalf("media did not flow both ways: from %+v to %+v", *from, *to)
	}
}

func TestInvalidRequestDialsNothing(t *testing.T) {
	answer := answerUAS(t)
	n := startNode(t, "", trunk{"1", answer})
	for _, q := range []string{
		"from=1000001&to=abc",
		"from=1000001,1000001&to=1000002",
		"from=1000001&to=1000002&fromRingTime=51",
		"from=1000001&to=1000002&mode=developer",
	} {
		resp, err := http.Post(n.base+"/v2/clickToCall/para?user_id=1&token="+token+"&"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s: HTTP %d %s", q, resp.StatusCode, b)
		}
	}
	resp, _ := http.Post(n.base+"/v2/clickToCall/para?user_id=1&token=wrong&from=1000001&to=1000002", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: HTTP %d", resp.StatusCode)
	}
	// A valid call afterwards: the UAS sees exactly its two INVITEs, so
	// none of the refused requests dialed anything before it.
	id := n.clickToCall(params("from", "1000001", "to", "1000002", "timeLimit", "1"))
	n.waitState(id, "ended")
	if c := answer.WaitCounts(t, "two BYEs", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 2 }); c.Requests["INVITE"] != 2 {
		t.Fatalf("sipp received %d INVITEs, want only the valid call's 2", c.Requests["INVITE"])
	}
}

// raw returns the JSON record of a call as the API serves it.
func (n *node) raw(id string) []byte {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.base+"/v1/calls/"+id, nil)
	req.SetBasicAuth(tenant, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}
