package e2e

import (
	"bufio"
	"bytes"
	"context"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/test/phone"
)

// The media a call asks for, as test phones hear it: the ringTone instead
// of to's early media, time-limit alerts mixed into the conversation, the
// recording's two channels, DTMF both ways, hold music while a caller
// waits for a group's busy member.
//
// Every check is about content: the share of a window's energy at a tone
// (Goertzel), measured in windows well inside the span the tone should
// fill, with their edges taken from what the phones saw (an INVITE's
// arrival, an answer), never from wall-clock expectations. Tones are at
// least 400 Hz apart. The tests run in parallel, each with its own engine
// and phone.

// Tones of the parties and the announcements.
const (
	fromTone  = 1000.0 // what from says
	toTone    = 1800.0 // what to (or the group's agent) says
	earlyTone = 1400.0 // to's early media while it rings
	annTone   = 600.0  // the uploaded ringTone, alert or hold music
	ring2Tone = 2400.0 // a second ringTone, when hold music uses annTone
)

// Thresholds of a tone's share of what was heard.
const (
	present = 0.7  // the tone is what was heard
	absent  = 0.05 // the tone was not heard
	mixed   = 0.25 // one of two sounds mixed at about equal level (≈0.5)
	margin  = 300 * time.Millisecond
)

// toneWAV is an announcement of one steady tone.
func toneWAV(t *testing.T, freq float64, d time.Duration) []byte {
	t.Helper()
	n := int(d.Seconds() * media.SampleRate)
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = int16(phone.DefaultAmplitude * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, 1, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The second tenant, for requests that must not see the first's calls.
const (
	otherTenant = "2"
	otherToken  = "other-token"
)

// otherTenantYAML adds the second tenant to the configuration's tenant
// list (startNodeFull appends it after the first tenant's entry).
const otherTenantYAML = "  - user_id: \"" + otherTenant + "\"\n    token: \"" + otherToken + "\"\n"

// doAs sends a /v1 request with a tenant's credentials and returns the
// status, the Content-Type and the body.
func (n *node) doAs(user, tok, method, path, contentType string, body []byte) (int, string, []byte) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.base+path, bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	req.SetBasicAuth(user, tok)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// do is doAs for the test's tenant.
func (n *node) do(method, path, contentType string, body []byte) (int, []byte) {
	n.t.Helper()
	code, _, b := n.doAs(tenant, token, method, path, contentType, body)
	return code, b
}

func (n *node) upload(id string, wav []byte) {
	n.t.Helper()
	if code, b := n.do("POST", "/v1/announcements?id="+id, "audio/wav", wav); code != http.StatusCreated {
		n.t.Fatalf("upload %s: HTTP %d %s", id, code, b)
	}
}

// mediaRecord is the part of a record the media tests read.
type mediaRecord struct {
	State        string   `json:"state"`
	Outcome      string   `json:"outcome"`
	HangupBy     string   `json:"hangup_by"`
	RecordingURL string   `json:"recording_url"`
	AlertsPlayed []int    `json:"alerts_played"`
	MediaErrors  []string `json:"media_errors"`
	Legs         []struct {
		ID          string `json:"leg_id"`
		Side        string `json:"side"`
		AgentID     string `json:"agent_id"`
		Number      string `json:"number"`
		Disposition string `json:"disposition"`
		DTMF        string `json:"dtmf"`
	} `json:"legs"`
}

func (n *node) mediaRecord(id string) mediaRecord {
	n.t.Helper()
	code, b := n.do("GET", "/v1/calls/"+id, "", nil)
	var r mediaRecord
	if code != http.StatusOK || json.Unmarshal(b, &r) != nil {
		n.t.Fatalf("GET call: HTTP %d %s", code, b)
	}
	return r
}

// answeredLeg is the id of the call's answered leg on side.
func (r mediaRecord) answeredLeg(side string) string {
	for _, l := range r.Legs {
		if l.Side == side && l.Disposition == "answered" {
			return l.ID
		}
	}
	return ""
}

// await polls cond every 100 ms (what the phones heard is analysed anew
// each time) until it holds; the bound only stops a broken test.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heard is how long c heard freq in all.
func heard(c *phone.Call, freq float64) time.Duration { return c.Heard().ToneDuration(freq) }

// toneContent is how much audio with freq as its main sound (half its
// energy or more) arrived in [from, to): packets counted by their length,
// whenever they arrived.
func toneContent(h *phone.Recording, freq float64, from, to time.Duration) time.Duration {
	var d time.Duration
	for _, p := range h.Packets {
		if !p.Audio || p.At < from || p.At >= to {
			continue
		}
		if s := h.Samples[p.Offset : p.Offset+p.Samples]; phone.ToneShare(s, freq) >= phone.DefaultToneShare {
			d += time.Duration(p.Samples) * time.Second / media.SampleRate
		}
	}
	return d
}

// oneStream checks that a party heard one RTP stream: one SSRC, and every
// restart (a change of source behind it) marked.
func oneStream(t *testing.T, side string, h *phone.Recording) {
	t.Helper()
	c := h.Continuity()
	t.Logf("%s heard %v", side, c)
	if n := c.Count(phone.SSRCChange); n != 0 {
		t.Errorf("%s heard %d SSRC changes", side, n)
	}
	if u := c.Unmarked(); len(u) != 0 {
		t.Errorf("%s heard restarts without the marker bit: %v", side, u)
		for _, d := range u {
			for i := max(0, d.Index-3); i < min(len(h.Packets), d.Index+3); i++ {
				p := h.Packets[i]
				t.Logf("  packet %d at %v: seq %d ts %d marker %v pt %d size %d", i, p.At, p.Seq, p.Timestamp, p.Marker, p.PayloadType, p.PayloadSize)
			}
		}
	}
}

// toneIn checks the share of freq in what a party heard in [from, to).
func toneIn(t *testing.T, what string, h *phone.Recording, freq float64, from, to time.Duration, atLeast, atMost float64) {
	t.Helper()
	if to != phone.End && to-from < 200*time.Millisecond {
		t.Errorf("%s: window [%v, %v) too short to measure", what, from, to)
		return
	}
	share := h.HeardTone(freq, from, to)
	if share < atLeast || share > atMost {
		t.Errorf("%s: %.0f Hz is %.3f of what was heard in [%v, %v) (level %.0f), want %.2f to %.2f",
			what, freq, share, from, to, h.Level(from, to), atLeast, atMost)
	}
}

func endBoth(t *testing.T, ctx context.Context, calls ...*phone.Call) {
	t.Helper()
	for _, c := range calls {
		if err := c.WaitState(ctx, phone.Ended); err != nil {
			t.Fatal(err)
		}
	}
}

// While to rings (sending early media of its own), from hears the ringTone
// and not to's early media; once to answers, to — on one RTP stream, the
// switch marked.
func TestMediaRingToneInsteadOfEarlyMedia(t *testing.T) {
	t.Parallel()
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: fromTone},
		to:   {Tone: toTone, Ring: phone.Ring183, EarlyTone: earlyTone, AnswerAfter: 2 * time.Second},
	}})
	n := startNode(t, "", phoneTrunk("1", ph))
	n.upload("ring600.wav", toneWAV(t, annTone, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to, "ringTone", "ring600.wav"))
	n.waitState(id, "bridged")
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
	await(t, "each party hears 1.5 s of the other", func() bool {
		return heard(fromCall, toTone) >= 1500*time.Millisecond && heard(toCall, fromTone) >= 1500*time.Millisecond
	})
	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	n.waitState(id, "ended")
	endBoth(t, ctx, fromCall, toCall)

	h, ti := fromCall.Heard(), toCall.Info()
	ringing, answered := h.Offset(ti.Arrived), h.Offset(ti.Answered)
	t.Logf("to rang from %v to %v of from's call", ringing, answered)
	// to rang: from heard the ringTone, nothing of to's early media.
	toneIn(t, "from while to rang", h, annTone, ringing+margin, answered-margin, present, 1)
	toneIn(t, "from while to rang", h, earlyTone, ringing+margin, answered-margin, 0, absent)
	toneIn(t, "from, the whole call", h, earlyTone, 0, phone.End, 0, absent)
	// Not one packet of it while to rang. (The last one to sent, just as
	// it answered, may come through with the bridge: it is to's stream.)
	if s := h.ToneSpans(earlyTone, mixed); len(s) != 0 && s[0].From < answered {
		t.Errorf("from heard to's early media at %v, before to answered at %v", s, answered)
	}
	// to answered: from heard to, and the ringTone stopped.
	toneIn(t, "from once to answered", h, toTone, answered+margin, phone.End, present, 1)
	toneIn(t, "from once to answered", h, annTone, answered+margin, phone.End, 0, absent)
	toneIn(t, "to", ti.Heard, fromTone, ti.Heard.Offset(ti.Answered)+margin, phone.End, present, 1)
	oneStream(t, "from", h)
	oneStream(t, "to", ti.Heard)
	if r := n.mediaRecord(id); len(r.MediaErrors) != 0 {
		t.Errorf("media errors %v", r.MediaErrors)
	}
}

// At the 2 s mark of a 6 s time limit both parties hear the alert mixed
// over each other, once; the record says so. With timeLimitHangup (the
// default) the engine ends the call at the limit; without, the call
// outlives it until hung up. That second call is also recorded
// (record=yes): the tenant gets a two-channel WAV with from's voice on the
// left and to's on the right, and nothing of the alert; another tenant
// gets a 404.
func TestMediaTimeLimitAlert(t *testing.T) {
	t.Parallel()
	for _, hangup := range []bool{true, false} {
		record := !hangup
		t.Run(fmt.Sprintf("timeLimitHangup=%v,record=%v", hangup, record), func(t *testing.T) {
			t.Parallel()
			const from, to = "1000001", "1000002"
			ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
				from: {Tone: fromTone},
				to:   {Tone: toTone, AnswerAfter: 300 * time.Millisecond},
			}})
			var n *node
			if record {
				n = startNodeFull(t, "", otherTenantYAML, fmt.Sprintf("recordings:\n  dir: %q\n", t.TempDir()), phoneTrunk("1", ph))
			} else {
				n = startNode(t, "", phoneTrunk("1", ph))
			}
			n.upload("alert600.wav", toneWAV(t, annTone, time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()

			id := n.clickToCall(params("from", from, "to", to, "timeLimit", "6", "timeLimitHangup", fmt.Sprint(hangup),
				"timeLimitAlert", "2", "alertAudio", "alert600.wav", "record", map[bool]string{true: "yes", false: "no"}[record]))
			n.waitState(id, "bridged")
			fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
			if hangup {
				n.waitState(id, "ended")
			} else {
				// Seven seconds of the other party heard is at least seven
				// seconds of talk: past the limit, and the call is up.
				await(t, "7 s of talk", func() bool {
					return heard(fromCall, toTone) >= 7*time.Second && heard(toCall, fromTone) >= 7*time.Second
				})
				if r := n.mediaRecord(id); r.State != "bridged" {
					t.Fatalf("with timeLimitHangup=false the call is %s (%s) after its time limit", r.State, r.HangupBy)
				}
				if code := n.hangup(id); code != http.StatusAccepted {
					t.Fatalf("DELETE: HTTP %d", code)
				}
				n.waitState(id, "ended")
			}
			endBoth(t, ctx, fromCall, toCall)

			r := n.mediaRecord(id)
			wantBy := map[bool]string{true: "time_limit", false: "api"}[hangup]
			if r.Outcome != "completed" || r.HangupBy != wantBy || !slices.Equal(r.AlertsPlayed, []int{2}) || len(r.MediaErrors) != 0 {
				t.Errorf("record: outcome %s, hangup_by %s (want %s), alerts_played %v (want [2]), media errors %v",
					r.Outcome, r.HangupBy, wantBy, r.AlertsPlayed, r.MediaErrors)
			}
			for _, c := range []*phone.Call{fromCall, toCall} {
				if reason := c.Info().Reason; reason != phone.EndBye {
					t.Errorf("%s ended by %s, want the engine's BYE", c.Number(), reason)
				}
			}
			for _, p := range []struct {
				side  string
				c     *phone.Call
				other float64
			}{{"from", fromCall, toTone}, {"to", toCall, fromTone}} {
				h := p.c.Heard()
				spans := h.ToneSpans(annTone, mixed)
				if len(spans) == 0 {
					t.Errorf("%s never heard the alert", p.side)
					continue
				}
				start, stop := spans[0].From, spans[len(spans)-1].To
				// The mark: never before to answered and 1.5 s more (the
				// bridge comes after the answer), and after about 2 s of
				// the other party's voice — counted in audio heard, not
				// in time, so a stalled machine cannot fail it.
				answered := h.Offset(toCall.Info().Answered)
				toneIn(t, p.side+" early in the talk", h, annTone, answered, answered+1500*time.Millisecond, 0, absent)
				before := toneContent(h, p.other, 0, start)
				t.Logf("%s: alert heard in %v after %v of the other party; %.2f alert, %.2f other party inside it",
					p.side, spans, before, h.HeardTone(annTone, start+100*time.Millisecond, stop-100*time.Millisecond),
					h.HeardTone(p.other, start+100*time.Millisecond, stop-100*time.Millisecond))
				if before < time.Second || before > 4*time.Second {
					t.Errorf("%s heard the alert after %v of the other party, want it at the 2 s mark", p.side, before)
				}
				// Inside the alert: the alert and the other party, mixed.
				in0, in1 := start+100*time.Millisecond, min(stop, start+time.Second)-100*time.Millisecond
				toneIn(t, p.side+" during the alert", h, annTone, in0, in1, mixed, 1-mixed)
				toneIn(t, p.side+" during the alert", h, p.other, in0, in1, mixed, 1-mixed)
				// Once: nothing of it later, and the other party alone.
				toneIn(t, p.side+" after the alert", h, annTone, stop+margin, phone.End, 0, absent)
				toneIn(t, p.side+" after the alert", h, p.other, stop+margin, phone.End, present, 1)
				oneStream(t, p.side, h)
			}

			if !record {
				if r.RecordingURL != "" {
					t.Errorf("recording_url %q without record=yes", r.RecordingURL)
				}
				return
			}
			if want := "/v1/calls/" + id + "/recording"; r.RecordingURL != want {
				t.Fatalf("recording_url %q, want %q", r.RecordingURL, want)
			}
			// Each party's own voice on its channel; the alert is not in it.
			checkRecording(t, n, r.RecordingURL, fromTone, toTone, annTone)
			// Another tenant sees neither the call nor its recording (its
			// credentials are good: an unknown call is a 404 too, not 401).
			for _, path := range []string{r.RecordingURL, "/v1/calls/" + id, "/v1/calls/nosuchcall/recording"} {
				if code, _, b := n.doAs(otherTenant, otherToken, "GET", path, "", nil); code != http.StatusNotFound {
					t.Errorf("GET %s as another tenant: HTTP %d %.200s", path, code, b)
				}
			}
		})
	}
}

// checkRecording fetches a recording and checks that its left channel is
// the left tone and its right channel the right one, each alone; nor is
// any of the tones not in it.
func checkRecording(t *testing.T, n *node, url string, leftTone, rightTone float64, notIn ...float64) {
	t.Helper()
	code, ctype, wav := n.doAs(tenant, token, "GET", url, "", nil)
	if code != http.StatusOK || ctype != "audio/wav" {
		t.Fatalf("GET %s: HTTP %d %s %.200s", url, code, ctype, wav)
	}
	left, right := stereo(t, wav)
	for _, ch := range []struct {
		name      string
		s         []int16
		own, peer float64
	}{{"left", left, leftTone, rightTone}, {"right", right, rightTone, leftTone}} {
		own, peer, frames := share(ch.s, ch.own), share(ch.s, ch.peer), soundFrames(ch.s)
		t.Logf("recording, %s channel: %d frames with sound, %.0f Hz %.3f, %.0f Hz %.3f", ch.name, frames, ch.own, own, ch.peer, peer)
		if frames < 25 || own < present || peer > absent {
			t.Errorf("recording, %s channel: %d frames with sound; %.0f Hz (its party) %.3f, %.0f Hz (the other) %.3f",
				ch.name, frames, ch.own, own, ch.peer, peer)
		}
		for _, f := range notIn {
			if sh := share(ch.s, f); sh > absent {
				t.Errorf("recording, %s channel: %.0f Hz is %.3f of it, want none", ch.name, f, sh)
			}
		}
	}
}

// DTMF: the keys to presses are reported once each, as leg.dtmf events on
// its leg and on its leg's record, and reach from; keys sent to from's leg
// through the API are heard by from (and not by to).
func TestMediaDTMF(t *testing.T) {
	t.Parallel()
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: fromTone},
		to:   {Tone: toTone, AnswerAfter: 300 * time.Millisecond},
	}})
	n := startNodeFull(t, "", otherTenantYAML, "", phoneTrunk("1", ph))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to))
	n.waitState(id, "bridged")
	events := n.events(id)
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
	await(t, "each party hears the other", func() bool {
		return heard(fromCall, toTone) >= 500*time.Millisecond && heard(toCall, fromTone) >= 500*time.Millisecond
	})
	r := n.mediaRecord(id)
	fromLeg, toLeg := r.answeredLeg("from"), r.answeredLeg("to")
	if fromLeg == "" || toLeg == "" {
		t.Fatalf("legs %+v", r.Legs)
	}

	if err := toCall.SendDTMF(ctx, "159#"); err != nil {
		t.Fatal(err)
	}
	await(t, "from hears to's keys", func() bool { return fromCall.Digits() == "159#" })
	await(t, "to's keys on its leg", func() bool {
		for _, l := range n.mediaRecord(id).Legs {
			if l.ID == toLeg {
				return l.DTMF == "159#"
			}
		}
		return false
	})

	dtmf := "/v1/calls/" + id + "/legs/" + fromLeg + "/dtmf"
	if code, _, b := n.doAs(otherTenant, otherToken, "POST", dtmf, "application/json", []byte(`{"digits":"9"}`)); code != http.StatusNotFound {
		t.Errorf("DTMF from another tenant: HTTP %d %s", code, b)
	}
	if code, b := n.do("POST", dtmf, "application/json", []byte(`{"digits":"4x"}`)); code != http.StatusBadRequest {
		t.Errorf("DTMF 4x: HTTP %d %s", code, b)
	}
	code, b := n.do("POST", dtmf, "application/json", []byte(`{"digits":"42"}`))
	if code != http.StatusOK {
		t.Fatalf("DTMF 42: HTTP %d %s", code, b)
	}
	await(t, "from hears the keys sent to it", func() bool { return fromCall.Digits() == "159#42" })

	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	n.waitState(id, "ended")
	endBoth(t, ctx, fromCall, toCall)

	if d := toCall.Digits(); d != "" {
		t.Errorf("to heard keys %q: the API sent them to from only", d)
	}
	// The events: each key to pressed once, on its leg; the keys sent, once.
	var pressed, sent []string
	evs := events.wait(t)
	for _, ev := range evs {
		switch ev.Type {
		case "leg.dtmf":
			if ev.Leg == nil || ev.Leg.ID != toLeg {
				t.Errorf("leg.dtmf %q on leg %+v, want to's leg %s", ev.Digit, ev.Leg, toLeg)
			}
			pressed = append(pressed, ev.Digit)
		case "leg.dtmf_sent":
			if ev.Leg == nil || ev.Leg.ID != fromLeg {
				t.Errorf("leg.dtmf_sent %q on leg %+v, want from's leg %s", ev.Digit, ev.Leg, fromLeg)
			}
			sent = append(sent, ev.Digit)
		}
	}
	if !slices.Equal(pressed, []string{"1", "5", "9", "#"}) || !slices.Equal(sent, []string{"42"}) {
		t.Errorf("events: leg.dtmf %q (want 1 5 9 #), leg.dtmf_sent %q (want 42)", pressed, sent)
	}
	if last := evs[len(evs)-1]; last.Name != "call.ended" {
		t.Errorf("the stream ended with %s", last.Name)
	}
	r = n.mediaRecord(id)
	for _, l := range r.Legs {
		want := map[string]string{toLeg: "159#"}[l.ID]
		if l.DTMF != want {
			t.Errorf("leg %s (%s) has dtmf %q, want %q", l.ID, l.Side, l.DTMF, want)
		}
	}
	// Not recorded: no recording to fetch.
	if r.RecordingURL != "" {
		t.Errorf("recording_url %q without record=yes", r.RecordingURL)
	}
	if code, b := n.do("GET", "/v1/calls/"+id+"/recording", "", nil); code != http.StatusNotFound {
		t.Errorf("recording of a call not recorded: HTTP %d %s", code, b)
	}
}

// A caller waiting for a group whose only member is busy on another call
// hears the hold music; once the member is free and rings, the ringTone;
// then the member. The group records, so the call is recorded without
// record=yes.
func TestMediaHoldMusicWhileTheGroupIsBusy(t *testing.T) {
	t.Parallel()
	const agent, busyWith, caller = "1000009", "1000003", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		agent:    {Tone: toTone},
		busyWith: {Tone: earlyTone},
		caller:   {Tone: fromTone},
	}})
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "hold600.wav"), toneWAV(t, annTone, 2*time.Second), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`announcements:
  shared_dir: %q
  hold: hold600.wav
recordings:
  dir: %q
agents:
  - {user_id: %q, id: a1, name: Agent 1, numbers: [%q], web_login: true, call_login: true}
groups:
  - {user_id: %q, id: g, name: G, recording: true, members: [{agent_id: a1}]}
`, shared, t.TempDir(), tenant, agent, tenant)
	n := startNodeWith(t, "", yaml, phoneTrunk("1", ph))
	n.upload("ring2400.wav", toneWAV(t, ring2Tone, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// a1 is busy on a call of its own.
	busy := n.clickToCall(params("fromType", "Agent", "from", "a1", "to", busyWith))
	n.waitState(busy, "bridged")
	// Its next call rings a while, for the caller to hear the ringTone.
	ph.Set(agent, phone.Behaviour{Tone: toTone, AnswerAfter: 1500 * time.Millisecond})

	id := n.clickToCall(params("from", caller, "toType", "Group", "to", "g", "queueTimeout", "40", "ringTone", "ring2400.wav"))
	callerCall := phoneCall(t, ctx, ph, caller)
	await(t, "the caller hears 1.5 s of hold music", func() bool { return heard(callerCall, annTone) >= 1500*time.Millisecond })
	waiting := callerCall.Heard()
	if r := n.mediaRecord(id); r.State != "dialing_to" || len(ph.CallsTo(agent)) != 1 {
		t.Fatalf("while a1 is busy the call is %s and a1 got %d calls", r.State, len(ph.CallsTo(agent)))
	}

	if code := n.hangup(busy); code != http.StatusAccepted {
		t.Fatalf("DELETE the agent's call: HTTP %d", code)
	}
	n.waitState(id, "bridged")
	await(t, "the caller hears 1.5 s of the agent", func() bool { return heard(callerCall, toTone) >= 1500*time.Millisecond })
	if code := n.hangup(id); code != http.StatusAccepted {
		t.Fatalf("DELETE: HTTP %d", code)
	}
	n.waitState(id, "ended")
	agentCalls := ph.CallsTo(agent)
	if len(agentCalls) != 2 {
		t.Fatalf("a1 got %d calls, want 2", len(agentCalls))
	}
	endBoth(t, ctx, callerCall, agentCalls[1])

	h, ai := callerCall.Heard(), agentCalls[1].Info()
	// The hold music starts once the group's first pass found nobody free
	// (the ringTone may be heard for that moment).
	hold, _ := waiting.ToneStart(annTone)
	waited := waiting.Duration() - 100*time.Millisecond
	ringing, answered := h.Offset(ai.Arrived), h.Offset(ai.Answered)
	t.Logf("hold music from %v, waited until at least %v, a1 rang from %v to %v", hold, waited, ringing, answered)
	// Waiting: hold music only.
	toneIn(t, "caller while a1 was busy", h, annTone, hold, waited, present, 1)
	toneIn(t, "caller while a1 was busy", h, ring2Tone, hold, waited, 0, absent)
	toneIn(t, "caller before a1 rang", h, toTone, 0, ringing, 0, absent)
	// a1 rang: the ringTone, the hold music gone.
	toneIn(t, "caller while a1 rang", h, ring2Tone, ringing+margin, answered-margin, present, 1)
	toneIn(t, "caller while a1 rang", h, annTone, ringing+margin, answered-margin, 0, absent)
	// a1 answered: a1 alone.
	toneIn(t, "caller once a1 answered", h, toTone, answered+margin, phone.End, present, 1)
	toneIn(t, "caller once a1 answered", h, annTone, answered+margin, phone.End, 0, absent)
	toneIn(t, "caller once a1 answered", h, ring2Tone, answered+margin, phone.End, 0, absent)
	toneIn(t, "a1", ai.Heard, fromTone, ai.Heard.Offset(ai.Answered)+margin, phone.End, present, 1)
	oneStream(t, "caller", h)

	r := n.mediaRecord(id)
	var agentLegs []string
	for _, l := range r.Legs {
		if l.Side == "to" {
			agentLegs = append(agentLegs, l.AgentID+":"+l.Disposition)
		}
	}
	t.Logf("to legs %v", agentLegs)
	if r.Outcome != "completed" || r.answeredLeg("to") == "" || len(r.MediaErrors) != 0 {
		t.Errorf("record: outcome %s, to legs %v, media errors %v", r.Outcome, agentLegs, r.MediaErrors)
	}
	if r.RecordingURL == "" {
		t.Fatalf("a call the group's member answered is not recorded (group recording on)")
	}
	checkRecording(t, n, r.RecordingURL, fromTone, toTone)
}

// sseEvent is one event of GET /v1/calls/{id}/events.
type sseEvent struct {
	Name  string `json:"-"`
	Type  string `json:"type"`
	Digit string `json:"digit"`
	Leg   *struct {
		ID   string `json:"leg_id"`
		Side string `json:"side"`
	} `json:"leg"`
}

// eventStream reads a call's event stream until the call ends (the server
// then closes it) or the test ends.
type eventStream struct {
	done chan struct{}
	mu   sync.Mutex
	evs  []sseEvent
	err  error
}

func (n *node) events(id string) *eventStream {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", n.base+"/v1/calls/"+id+"/events", nil)
	req.SetBasicAuth(tenant, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		n.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		n.t.Fatalf("events: HTTP %d %s", resp.StatusCode, b)
	}
	s := &eventStream{done: make(chan struct{})}
	n.t.Cleanup(func() { cancel(); <-s.done })
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev := sseEvent{Name: name}
				err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev)
				s.mu.Lock()
				if err != nil && s.err == nil {
					s.err = fmt.Errorf("event %s: %v", name, err)
				}
				s.evs = append(s.evs, ev)
				s.mu.Unlock()
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}()
	return s
}

// wait waits for the stream's end and returns its events.
func (s *eventStream) wait(t *testing.T) []sseEvent {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the event stream did not end with the call")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Fatal(s.err)
	}
	if len(s.evs) == 0 {
		t.Fatal("no events")
	}
	return s.evs
}

// stereo reads a 16-bit two-channel WAV into its channels.
func stereo(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a WAV: % x", b[:min(len(b), 12)])
	}
	le := bin.LittleEndian
	var channels, bits uint16
	var rate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				t.Fatal("short fmt chunk")
			}
			channels, rate, bits = le.Uint16(body[2:]), le.Uint32(body[4:]), le.Uint16(body[14:])
		case "data":
			if channels != 2 || bits != 16 || rate != media.SampleRate {
				t.Fatalf("recording has %d channels of %d bits at %d Hz, want 2 of 16 at 8000", channels, bits, rate)
			}
			data := body[:min(size, len(body))]
			for i := 0; i+4 <= len(data); i += 4 {
				left = append(left, int16(le.Uint16(data[i:])))
				right = append(right, int16(le.Uint16(data[i+2:])))
			}
			return left, right
		}
		off += 8 + size + size%2
	}
	t.Fatal("no data chunk")
	return nil, nil
}

// frameRMS is the level below which a 20 ms frame of a recording counts as
// silence.
const frameRMS = 100

// share is the energy-weighted share of freq over the 20 ms frames of s
// with sound.
func share(s []int16, freq float64) float64 {
	var tone, total float64
	for i := 0; i+media.FrameSamples <= len(s); i += media.FrameSamples {
		f := s[i : i+media.FrameSamples]
		e := frameEnergy(f)
		if math.Sqrt(e/float64(len(f))) < frameRMS {
			continue
		}
		total += e
		tone += phone.ToneShare(f, freq) * e
	}
	if total == 0 {
		return 0
	}
	return tone / total
}

// soundFrames counts the 20 ms frames of s with sound.
func soundFrames(s []int16) int {
	n := 0
	for i := 0; i+media.FrameSamples <= len(s); i += media.FrameSamples {
		f := s[i : i+media.FrameSamples]
		if math.Sqrt(frameEnergy(f)/float64(len(f))) >= frameRMS {
			n++
		}
	}
	return n
}

func frameEnergy(f []int16) float64 {
	var e float64
	for _, v := range f {
		e += float64(v) * float64(v)
	}
	return e
}
