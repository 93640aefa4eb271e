package phone

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/media"
)

// enough is how much audio a check waits for: half a second.
const enough = 25

func callOf(t *testing.T, ph *Phone, number string) *Call {
	t.Helper()
	c, err := ph.WaitCall(testContext(t), number)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitEnded(t *testing.T, c *Call) CallInfo {
	t.Helper()
	if err := c.WaitState(testContext(t), Ended); err != nil {
		t.Fatal(err)
	}
	return c.Info()
}

// The phone answers, plays its tone and hears the caller's: a test-side
// RTP socket sends 1000 Hz, the phone reports hearing 1000 Hz and not
// 440 Hz, and the test hears the phone's 440 Hz and not 1000 Hz.
func TestAnswersPlaysItsToneAndHearsTheCaller(t *testing.T) {
	for _, tc := range []struct {
		name, formats, prefer string
		want                  media.Codec
	}{
		{"PCMU", "0 8 101", "", media.PCMU},
		{"PCMA first", "8 0 101", "", media.PCMA},
		{"PCMA preferred", "0 8 101", "PCMA", media.PCMA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ph := New(t, Options{Numbers: map[string]Behaviour{"100": {Tone: 440, Codec: tc.prefer}}})
			u, pe := newUAC(t), newPeer(t, 1000)
			ctx := testContext(t)
			dlg, err := u.invite(ctx, ph, "100", pe.offer(tc.formats), nil)
			if err != nil {
				t.Fatal(err)
			}
			pe.play(t, dlg.InviteResponse.Body())
			c := callOf(t, ph, "100")
			if c.State() != Answered {
				t.Fatalf("state %v", c.State())
			}
			eventually(t, "half a second heard on both sides", func() bool {
				return c.Heard().AudioPackets(0, End) >= enough && pe.rec.Recording().AudioPackets(0, End) >= enough
			})
			if err := dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			info := waitEnded(t, c)
			if info.Reason != EndBye || info.FinalCode != 200 || info.Codec != tc.want || info.EventPT != 101 ||
				info.CallID != dlg.InviteRequest.CallID().Value() || info.Sent == 0 || info.Received == 0 {
				t.Fatalf("call %+v", info)
			}

			heard := info.Heard
			if h := heard.HeardTone(1000, 0, End); h < 0.9 {
				t.Errorf("phone heard 1000 Hz at %.3f; level %.0f", h, heard.Level(0, End))
			}
			if h := heard.HeardTone(440, 0, End); h > 0.05 {
				t.Errorf("phone heard 440 Hz at %.3f: its own tone?", h)
			}
			if l := heard.Level(0, End); l < 3000 {
				t.Errorf("phone heard a level of %.0f", l)
			}
			got := pe.rec.Recording()
			if h := got.HeardTone(440, 0, End); h < 0.9 {
				t.Errorf("caller heard 440 Hz at %.3f", h)
			}
			if h := got.HeardTone(1000, 0, End); h > 0.05 {
				t.Errorf("caller heard 1000 Hz at %.3f", h)
			}
			if pt := got.Packets[0].PayloadType; pt != tc.want.PayloadType() {
				t.Errorf("phone sent payload type %d", pt)
			}
			// The phone's stream is one source without restarts; loss on
			// loopback is not the phone's business.
			if c := got.Continuity(); len(c.Unmarked()) != 0 || c.Count(SSRCChange) != 0 || c.Count(SeqBack) != 0 {
				t.Errorf("phone's stream: %v", c)
			}
			if c := heard.Continuity(); len(c.Unmarked()) != 0 || c.Count(SSRCChange) != 0 {
				t.Errorf("caller's stream as the phone heard it: %v", c)
			}
		})
	}
}

func TestDTMFBothWays(t *testing.T) {
	ph := New(t, Options{Default: Behaviour{Tone: 440}})
	u, pe := newUAC(t), newPeer(t, 1000)
	ctx := testContext(t)
	dlg, err := u.invite(ctx, ph, "200", pe.offer("0 101"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pe.play(t, dlg.InviteResponse.Body())
	c := callOf(t, ph, "200")

	pe.sendDTMF(t, "12#")
	eventually(t, "phone heard 12#", func() bool { return c.Digits() == "12#" })

	if err := c.SendDTMF(ctx, "5*D"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "caller heard 5*D", func() bool { return pe.rec.Recording().DigitString() == "5*D" })
	if err := c.SendDTMF(ctx, "x"); err == nil {
		t.Error("x sent as a digit")
	}
	// Audio goes on after the digits, and the restarts around them are
	// marked.
	n := pe.rec.Recording().AudioPackets(0, End)
	eventually(t, "audio after the digits", func() bool { return pe.rec.Recording().AudioPackets(0, End) > n+enough })
	got := pe.rec.Recording()
	if cont := got.Continuity(); len(cont.Unmarked()) != 0 || cont.Count(SSRCChange) != 0 {
		t.Errorf("phone's stream around DTMF: %v", cont)
	}
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if info := waitEnded(t, c); info.Digits != "12#" {
		t.Fatalf("info digits %q", info.Digits)
	}
	if err := c.SendDTMF(ctx, "1"); !errors.Is(err, ErrEnded) {
		t.Fatalf("DTMF on an ended call: %v", err)
	}
}

func TestBusyRejectAndRingForeverUntilCancel(t *testing.T) {
	ph := New(t, Options{Numbers: map[string]Behaviour{
		"486": {Action: Busy},
		"603": {Action: Reject},
		"180": {Action: RingForever},
	}})
	u, pe := newUAC(t), newPeer(t, 1000)
	ctx := testContext(t)
	for _, tc := range []struct {
		number string
		code   int
		reason EndReason
	}{{"486", 486, EndBusy}, {"603", 603, EndReject}} {
		_, err := u.invite(ctx, ph, tc.number, pe.offer("0"), nil)
		if statusOf(err) != tc.code {
			t.Fatalf("%s: %v", tc.number, err)
		}
		if info := waitEnded(t, callOf(t, ph, tc.number)); info.Reason != tc.reason || info.FinalCode != tc.code || info.Sent != 0 {
			t.Fatalf("%s: %+v", tc.number, info)
		}
	}

	ring, cancel := context.WithCancel(ctx)
	var codes []int
	_, err := u.invite(ring, ph, "180", pe.offer("0"), func(r *sip.Response) {
		codes = append(codes, r.StatusCode)
		if r.StatusCode == 180 {
			cancel() // WaitAnswer sends CANCEL
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) || !containsInt(codes, 180) {
		t.Fatalf("cancelled call: %v, responses %v", err, codes)
	}
	info := waitEnded(t, callOf(t, ph, "180"))
	if info.Reason != EndCancel || info.FinalCode != 487 || !info.Answered.IsZero() {
		t.Fatalf("cancelled call %+v", info)
	}
	if err := callOf(t, ph, "180").WaitState(ctx, Answered); err == nil {
		t.Fatal("WaitState(Answered) of a cancelled call succeeded")
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// With 183 the caller hears the early tone, then, on the same stream, the
// answered tone.
func TestEarlyMediaThenAnswer(t *testing.T) {
	ph := New(t, Options{Numbers: map[string]Behaviour{
		"183": {Ring: Ring183, EarlyTone: 425, Tone: 1000, AnswerAfter: 700 * time.Millisecond},
	}})
	u, pe := newUAC(t), newPeer(t, 1800)
	ctx := testContext(t)
	var early []byte
	dlg, err := u.invite(ctx, ph, "183", pe.offer("8 101"), func(r *sip.Response) {
		if r.StatusCode == 183 {
			early = r.Body()
			pe.play(t, early) // the caller talks during early media too
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if early == nil {
		t.Fatal("no 183 with SDP")
	}
	if string(early) != string(dlg.InviteResponse.Body()) {
		t.Errorf("183 SDP and 200 SDP differ:\n%s\n%s", early, dlg.InviteResponse.Body())
	}
	c := callOf(t, ph, "183")
	eventually(t, "the answered tone", func() bool {
		_, ok := pe.rec.Recording().ToneStart(1000)
		return ok && pe.rec.Recording().ToneDuration(1000) > 300*time.Millisecond
	})
	got := pe.rec.Recording()
	e, ok1 := got.ToneStart(425)
	a, ok2 := got.ToneStart(1000)
	if !ok1 || !ok2 || e >= a {
		t.Fatalf("425 Hz from %v (%v), 1000 Hz from %v (%v): want the early tone first", e, ok1, a, ok2)
	}
	if stop, _ := got.ToneStop(425); stop > a+Frame {
		t.Errorf("425 Hz still heard at %v after the answer at %v", stop, a)
	}
	if cont := got.Continuity(); len(cont.Unmarked()) != 0 || cont.Count(SSRCChange) != 0 {
		t.Errorf("early media and answer are not one stream: %v", cont)
	}
	// The phone heard the caller during early media as well.
	if h := c.Heard().HeardTone(1800, 0, c.Heard().Offset(c.Info().Answered)); h < 0.9 {
		t.Errorf("phone heard the caller's 1800 Hz before answering at %.3f", h)
	}
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c)
}

func TestPhoneHangsUp(t *testing.T) {
	ph := New(t, Options{Numbers: map[string]Behaviour{
		"1":    {},
		"2":    {HangupAfter: 200 * time.Millisecond},
		"ring": {Action: RingForever},
	}})
	u, pe := newUAC(t), newPeer(t, 1000)
	ctx := testContext(t)

	dlg, err := u.invite(ctx, ph, "1", pe.offer("0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := callOf(t, ph, "1")
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if id := <-u.byes; id != dlg.InviteRequest.CallID().Value() {
		t.Fatalf("BYE for %s", id)
	}
	if info := c.Info(); info.State != Ended || info.Reason != EndHangup || info.Detail != "" {
		t.Fatalf("after Hangup: %+v", info)
	}
	if err := c.Hangup(ctx); !errors.Is(err, ErrEnded) {
		t.Fatalf("second Hangup: %v", err)
	}

	dlg, err = u.invite(ctx, ph, "2", pe.offer("0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id := <-u.byes; id != dlg.InviteRequest.CallID().Value() {
		t.Fatalf("BYE for %s", id)
	}
	if info := waitEnded(t, callOf(t, ph, "2")); info.Reason != EndHangup {
		t.Fatalf("HangupAfter: %+v", info)
	}

	// Hanging up while ringing declines the call.
	done := make(chan error, 1)
	go func() {
		_, err := u.invite(ctx, ph, "ring", pe.offer("0"), nil)
		done <- err
	}()
	r := callOf(t, ph, "ring")
	if err := r.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; statusOf(err) != 603 {
		t.Fatalf("declined while ringing: %v", err)
	}
}

func TestReInviteMovesMediaAndHolds(t *testing.T) {
	ph := New(t, Options{Default: Behaviour{Tone: 440}})
	u, first, second := newUAC(t), newPeer(t, 1000), newPeer(t, 1000)
	ctx := testContext(t)
	dlg, err := u.invite(ctx, ph, "300", first.offer("0 101"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := callOf(t, ph, "300")
	eventually(t, "first socket hears the phone", func() bool { return first.rec.Recording().AudioPackets(0, End) >= enough })

	res, err := reinvite(ctx, dlg, second.offer("0 101"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	o, err := parseOffer(res.Body())
	if err != nil || o.remote != c.Info().Local || o.direction != SendRecv {
		t.Fatalf("re-INVITE answer %+v %v\n%s", o, err, res.Body())
	}
	if !strings.Contains(string(res.Body()), "o=phone ") || string(res.Body()) == string(dlg.InviteResponse.Body()) {
		t.Errorf("re-INVITE answer should bump the SDP version:\n%s", res.Body())
	}
	eventually(t, "second socket hears the phone's tone", func() bool {
		r := second.rec.Recording()
		return r.AudioPackets(0, End) >= enough && r.HeardTone(440, 0, End) > 0.9
	})

	res, err = reinvite(ctx, dlg, second.offer("0 101", "sendonly"))
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold: %v %v", res, err)
	}
	if info := c.Info(); info.Direction != RecvOnly || info.ReInvites != 2 {
		t.Fatalf("on hold: %+v", info)
	}
	res, err = reinvite(ctx, dlg, second.offer("8"))
	if err != nil || res.StatusCode != 488 {
		t.Fatalf("re-INVITE changing the codec: %v %v", res, err)
	}
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c)
}

func TestListShowsCallsWithStateAndHearing(t *testing.T) {
	ph := New(t, Options{Numbers: map[string]Behaviour{"ring": {Action: RingForever}, "talk": {Tone: 440}}})
	u, pe := newUAC(t), newPeer(t, 1000)
	ctx := testContext(t)
	dlg, err := u.invite(ctx, ph, "talk", pe.offer("0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pe.play(t, dlg.InviteResponse.Body())
	ringCtx, stopRinging := context.WithCancel(ctx)
	ringing := make(chan struct{})
	go func() {
		defer close(ringing)
		_, _ = u.invite(ringCtx, ph, "ring", pe.offer("0"), nil)
	}()
	talk := callOf(t, ph, "talk")
	callOf(t, ph, "ring")
	eventually(t, "the talking call hears the caller", func() bool { return talk.Heard().AudioPackets(0, End) >= enough })

	list := ph.List()
	if len(list) != 2 || list[0].Number != "talk" || list[0].State != Answered || list[1].Number != "ring" || list[1].State != Ringing {
		t.Fatalf("list %+v", list)
	}
	if list[0].CallID != dlg.InviteRequest.CallID().Value() || list[1].CallID == "" || list[0].CallID == list[1].CallID {
		t.Fatalf("call ids %q %q", list[0].CallID, list[1].CallID)
	}
	if h := list[0].Heard.HeardTone(1000, 0, End); h < 0.9 {
		t.Fatalf("listed call heard 1000 Hz at %.3f", h)
	}
	if list[1].Heard.AudioPackets(0, End) != 0 {
		t.Fatal("a ringing call heard audio")
	}
	stopRinging()
	<-ringing
	_ = dlg.Bye(ctx)
	for _, c := range ph.Calls() {
		waitEnded(t, c)
	}
	if got := ph.CallsTo("ring"); len(got) != 1 || got[0].Info().Reason != EndCancel {
		t.Fatalf("ring: %+v", got)
	}
}

// phoneGoroutines lists the goroutines running code of this package or of
// the SIP stack, test functions aside.
func phoneGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*T).Run") {
			continue
		}
		if strings.Contains(g, "switchboard/test/phone.") || strings.Contains(g, "emiago/sipgo") {
			out = append(out, g)
		}
	}
	return out
}

// Close ends live calls — BYE for the answered one, 480 for the ringing
// one — and leaves no goroutine or socket behind.
func TestCloseEndsCallsAndLeaksNothing(t *testing.T) {
	eventually(t, "no SIP goroutines from earlier tests", func() bool {
		g := phoneGoroutines()
		if len(g) > 0 {
			t.Logf("%d left:\n%s", len(g), strings.Join(g, "\n\n"))
		}
		return len(g) == 0
	})
	base := runtime.NumGoroutine()

	func() {
		ctx := testContext(t)
		ph, err := Start(ctx, Options{Numbers: map[string]Behaviour{
			"talk": {Tone: 440}, "early": {Action: RingForever, Ring: Ring183, EarlyTone: 425},
		}})
		if err != nil {
			t.Fatal(err)
		}
		u, pe := newUAC(t), newPeer(t, 1000)
		dlg, err := u.invite(ctx, ph, "talk", pe.offer("0 101"), nil)
		if err != nil {
			t.Fatal(err)
		}
		pe.play(t, dlg.InviteResponse.Body())
		talk := callOf(t, ph, "talk")
		if err := talk.SendDTMF(ctx, "9"); err != nil {
			t.Fatal(err)
		}
		early := make(chan error, 1)
		go func() {
			_, err := u.invite(ctx, ph, "early", pe.offer("0"), nil)
			early <- err
		}()
		ring := callOf(t, ph, "early")
		eventually(t, "early media flowing", func() bool { return ring.Info().Sent > 0 })

		if err := ph.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := ph.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if id := <-u.byes; id != dlg.InviteRequest.CallID().Value() {
			t.Fatalf("BYE for %s", id)
		}
		if err := <-early; statusOf(err) != 480 {
			t.Fatalf("ringing call at close: %v", err)
		}
		for _, c := range ph.Calls() {
			if info := c.Info(); info.State != Ended || info.Reason != EndClosed {
				t.Fatalf("after close: %+v", info)
			}
		}
		if _, err := ph.WaitCall(ctx, "nobody"); !errors.Is(err, ErrClosed) {
			t.Fatalf("WaitCall on a closed phone: %v", err)
		}
		u.close()
		pe.close()
	}()

	// Stopping the context given to Start closes the phone too.
	ctx, cancel := context.WithCancel(context.Background())
	ph, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, "phone closed by its context", func() bool {
		_, err := ph.WaitCall(context.Background(), "x")
		return errors.Is(err, ErrClosed)
	})
	ph.Close()

	eventually(t, "every goroutine of the phones and the SIP stacks gone", func() bool {
		return len(phoneGoroutines()) == 0 && runtime.NumGoroutine() <= base
	})
}

func TestStartRefusesBadOptions(t *testing.T) {
	ctx := testContext(t)
	for _, opts := range []Options{
		{Addr: "10.0.0.1:5060"},
		{Addr: "nonsense"},
		{Numbers: map[string]Behaviour{"1": {Codec: "G729"}}},
		{Default: Behaviour{Codec: "opus"}},
	} {
		if ph, err := Start(ctx, opts); err == nil {
			ph.Close()
			t.Errorf("%+v: started", opts)
		}
	}
	ph := New(t, Options{})
	defer func() {
		if recover() == nil {
			t.Error("Set with an unknown codec did not panic")
		}
	}()
	ph.Set("1", Behaviour{Codec: "G729"})
}
