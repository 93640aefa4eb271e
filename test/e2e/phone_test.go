package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/phone"
	"github.com/switchboard/switchboard/test/sipptest"
)

// Calls between test phones (package test/phone), which play a tone each
// and record what they hear, so a test can check what each party heard
// rather than only that RTP flowed.

// phoneTrunk routes numbers starting with prefix to a test phone.
func phoneTrunk(prefix string, ph *phone.Phone) trunk {
	return trunk{prefix: prefix, uas: &sipptest.UAS{Addr: ph.Addr()}}
}

// phoneWait polls cond until it holds; the bound only stops a broken test,
// it measures nothing.
func phoneWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func phoneCall(t *testing.T, ctx context.Context, ph *phone.Phone, number string) *phone.Call {
	t.Helper()
	c, err := ph.WaitCall(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A click-to-call between two test phones: `from` plays 440 Hz, `to` plays
// 1000 Hz. While bridged each hears the other's tone and not its own, the
// relayed stream has no unmarked restart, and DTMF sent by either far end
// reaches the other as RFC 4733 events.
func TestEachPartyHearsTheOtherWhileBridged(t *testing.T) {
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: 440},
		to:   {Tone: 1000, AnswerAfter: 500 * time.Millisecond},
	}})
	n := startNode(t, "", phoneTrunk("1", ph))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to))
	n.waitState(id, "bridged")
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
	phoneWait(t, "a second of each tone heard by the other party", func() bool {
		return fromCall.Heard().ToneDuration(1000) >= time.Second && toCall.Heard().ToneDuration(440) >= time.Second
	})
	if err := toCall.SendDTMF(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	phoneWait(t, "from hears to's DTMF", func() bool { return fromCall.Digits() == "42" })
	if err := fromCall.SendDTMF(ctx, "#7"); err != nil {
		t.Fatal(err)
	}
	phoneWait(t, "to hears from's DTMF", func() bool { return toCall.Digits() == "#7" })

	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	rec := n.waitState(id, "ended")
	if rec.Outcome != "completed" || rec.HangupBy != "api" {
		t.Fatalf("record %+v", rec)
	}
	for _, c := range []*phone.Call{fromCall, toCall} {
		if err := c.WaitState(ctx, phone.Ended); err != nil {
			t.Fatal(err)
		}
	}
	fi, ti := fromCall.Info(), toCall.Info()
	if fi.Reason != phone.EndBye || ti.Reason != phone.EndBye {
		t.Fatalf("the engine should hang both up: from %s, to %s", fi.Reason, ti.Reason)
	}
	if len(ph.Calls()) != 2 {
		t.Fatalf("calls %+v", ph.List())
	}

	// from: the bridge starts when to answers.
	heard := fi.Heard
	bridged := heard.Offset(ti.Answered)
	if h := heard.HeardTone(1000, bridged, phone.End); h < 0.8 {
		t.Errorf("from heard to's 1000 Hz at %.3f while bridged (level %.0f)", h, heard.Level(bridged, phone.End))
	}
	if h := heard.HeardTone(440, 0, phone.End); h > 0.05 {
		t.Errorf("from heard its own 440 Hz at %.3f", h)
	}
	if start, ok := heard.ToneStart(1000); !ok || start < bridged {
		t.Errorf("from heard 1000 Hz from %v (%v), before to answered at %v", start, ok, bridged)
	}
	if l := heard.Level(bridged, phone.End); l < 2000 {
		t.Errorf("from heard a level of %.0f while bridged", l)
	}
	// to is only ever bridged.
	if h := ti.Heard.HeardTone(440, 0, phone.End); h < 0.8 {
		t.Errorf("to heard from's 440 Hz at %.3f (level %.0f)", h, ti.Heard.Level(0, phone.End))
	}
	if h := ti.Heard.HeardTone(1000, 0, phone.End); h > 0.05 {
		t.Errorf("to heard its own 1000 Hz at %.3f", h)
	}
	for side, h := range map[string]*phone.Recording{"from": heard, "to": ti.Heard} {
		c := h.Continuity()
		t.Logf("%s heard %d packets, %v of tone: %v", side, len(h.Packets), map[string]time.Duration{
			"440": h.ToneDuration(440), "1000": h.ToneDuration(1000)}, c)
		if u := c.Unmarked(); len(u) != 0 {
			t.Errorf("%s heard restarts without the marker bit: %v", side, u)
		}
	}
}

// While to rings with early media (183 and a 425 Hz ringback), from hears
// it; once to answers, from hears to's own tone instead.
func TestFromHearsEarlyMediaWhileToRings(t *testing.T) {
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: 440},
		to:   {Tone: 1000, Ring: phone.Ring183, EarlyTone: 425, AnswerAfter: 1500 * time.Millisecond},
	}})
	n := startNode(t, "", phoneTrunk("1", ph))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to))
	n.waitState(id, "bridged")
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
	phoneWait(t, "from hears to's tone", func() bool { return fromCall.Heard().ToneDuration(1000) >= 500*time.Millisecond })
	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	n.waitState(id, "ended")
	for _, c := range []*phone.Call{fromCall, toCall} {
		if err := c.WaitState(ctx, phone.Ended); err != nil {
			t.Fatal(err)
		}
	}
	heard := fromCall.Heard()
	answered := heard.Offset(toCall.Info().Answered)
	ring, ok1 := heard.ToneStart(425)
	talk, ok2 := heard.ToneStart(1000)
	if !ok1 || !ok2 || ring >= talk {
		t.Fatalf("from heard 425 Hz from %v (%v) and 1000 Hz from %v (%v): want the ringback first", ring, ok1, talk, ok2)
	}
	if h := heard.HeardTone(425, 0, answered); h < 0.8 {
		t.Errorf("from heard the 425 Hz ringback at %.3f while to rang", h)
	}
	if h := heard.HeardTone(1000, answered, phone.End); h < 0.8 {
		t.Errorf("from heard to's 1000 Hz at %.3f once answered", h)
	}
	t.Logf("from heard: %v", heard.Continuity())
}
