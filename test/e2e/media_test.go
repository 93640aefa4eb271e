package e2e

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/test/phone"
)

// The media a call asks for, heard by test phones: the ringTone instead of
// to's early media, a time-limit alert mixed into the conversation, the
// recording's two channels, DTMF both ways.

// toneWAV is an announcement of one steady tone.
func toneWAV(t *testing.T, freq float64, d time.Duration) []byte {
	t.Helper()
	n := int(d.Seconds() * 8000)
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, 1, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// do sends an authenticated /v1 request and returns the status and body.
func (n *node) do(method, path, contentType string, body []byte) (int, []byte) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.base+path, bytes.NewReader(body))
	req.SetBasicAuth(tenant, token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *node) upload(id string, wav []byte) {
	n.t.Helper()
	if code, b := n.do("POST", "/v1/announcements?id="+id, "audio/wav", wav); code != http.StatusCreated {
		n.t.Fatalf("upload %s: HTTP %d %s", id, code, b)
	}
}

// mediaRecord is the part of a record the media tests read.
type mediaRecord struct {
	State        string `json:"state"`
	HangupBy     string `json:"hangup_by"`
	RecordingURL string `json:"recording_url"`
	AlertsPlayed []int  `json:"alerts_played"`
	MediaErrors  []string
	Legs         []struct {
		ID   string `json:"leg_id"`
		Side string `json:"side"`
		DTMF string `json:"dtmf"`
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

// While to rings (with early media of its own), from hears the ringTone
// and not to's early media; once to answers, to. The switches are marked
// on one stream.
func TestFromHearsTheRingToneInsteadOfEarlyMedia(t *testing.T) {
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: 440},
		to:   {Tone: 1000, Ring: phone.Ring183, EarlyTone: 1600, AnswerAfter: 2 * time.Second},
	}})
	n := startNode(t, "", phoneTrunk("1", ph))
	n.upload("ring600.wav", toneWAV(t, 600, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to, "ringTone", "ring600.wav"))
	n.waitState(id, "bridged")
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)
	phoneWait(t, "from hears to's tone", func() bool { return fromCall.Heard().ToneDuration(1000) >= 500*time.Millisecond })
	n.hangup(id)
	n.waitState(id, "ended")
	if err := fromCall.WaitState(ctx, phone.Ended); err != nil {
		t.Fatal(err)
	}

	heard := fromCall.Heard()
	fromUp := heard.Offset(fromCall.Info().Answered)
	toUp := heard.Offset(toCall.Info().Answered)
	// Inside the ringing window, away from its edges.
	ringFrom, ringTo := fromUp+300*time.Millisecond, toUp-300*time.Millisecond
	if ringTo <= ringFrom {
		t.Fatalf("to answered %v after from: no ringing window", toUp-fromUp)
	}
	if h := heard.HeardTone(600, ringFrom, ringTo); h < 0.7 {
		t.Errorf("from heard the 600 Hz ringTone at %.3f while to rang (level %.0f)", h, heard.Level(ringFrom, ringTo))
	}
	if h := heard.HeardTone(1600, 0, phone.End); h > 0.05 {
		t.Errorf("from heard to's 1600 Hz early media at %.3f", h)
	}
	if h := heard.HeardTone(1000, toUp+300*time.Millisecond, phone.End); h < 0.7 {
		t.Errorf("from heard to's 1000 Hz at %.3f once answered", h)
	}
	if h := heard.HeardTone(600, toUp+300*time.Millisecond, phone.End); h > 0.05 {
		t.Errorf("the ringTone went on after to answered (%.3f)", h)
	}
	c := heard.Continuity()
	t.Logf("from heard: %v", c)
	if u := c.Unmarked(); len(u) != 0 {
		t.Errorf("restarts without the marker bit: %v", u)
	}
	if r := n.mediaRecord(id); len(r.MediaErrors) != 0 {
		t.Errorf("media errors %v", r.MediaErrors)
	}
}

// A recorded call with an alert and timeLimitHangup=false: at the mark
// both parties hear the alert over each other; the call outlives its time
// limit; keys pressed on to are kept and reach from, keys sent through the
// API reach from; the recording has from on the left and to on the right.
func TestAlertRecordingAndDTMF(t *testing.T) {
	const from, to = "1000001", "1000002"
	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
		from: {Tone: 440},
		to:   {Tone: 1000, AnswerAfter: 300 * time.Millisecond},
	}})
	n := startNodeWith(t, "", fmt.Sprintf("recordings:\n  dir: %q\n", t.TempDir()), phoneTrunk("1", ph))
	n.upload("alert1800.wav", toneWAV(t, 1800, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	id := n.clickToCall(params("from", from, "to", to, "record", "yes",
		"timeLimit", "3", "timeLimitHangup", "false", "timeLimitAlert", "1", "alertAudio", "alert1800.wav"))
	n.waitState(id, "bridged")
	fromCall, toCall := phoneCall(t, ctx, ph, from), phoneCall(t, ctx, ph, to)

	// More than the time limit of talk: the call is still up.
	phoneWait(t, "4.5 s of talk", func() bool { return fromCall.Heard().ToneDuration(1000) >= 4500*time.Millisecond })
	if r := n.mediaRecord(id); r.State != "bridged" {
		t.Fatalf("with timeLimitHangup=false the call is %s after its time limit", r.State)
	}

	if err := toCall.SendDTMF(ctx, "159#"); err != nil {
		t.Fatal(err)
	}
	phoneWait(t, "to's keys on its leg", func() bool {
		r := n.mediaRecord(id)
		return len(r.Legs) == 2 && r.Legs[1].DTMF == "159#"
	})
	phoneWait(t, "to's keys relayed to from", func() bool { return fromCall.Digits() == "159#" })
	fromLeg := n.mediaRecord(id).Legs[0].ID
	if code, b := n.do("POST", "/v1/calls/"+id+"/legs/"+fromLeg+"/dtmf", "application/json", []byte(`{"digits":"42"}`)); code != http.StatusOK {
		t.Fatalf("send DTMF: HTTP %d %s", code, b)
	}
	phoneWait(t, "from hears the keys sent to it", func() bool { return strings.HasSuffix(fromCall.Digits(), "42") })

	n.hangup(id)
	n.waitState(id, "ended")
	r := n.mediaRecord(id)
	if r.HangupBy != "api" || len(r.AlertsPlayed) != 1 || r.AlertsPlayed[0] != 1 || r.RecordingURL == "" || len(r.MediaErrors) != 0 {
		t.Fatalf("record %+v", r)
	}
	for _, c := range []*phone.Call{fromCall, toCall} {
		if err := c.WaitState(ctx, phone.Ended); err != nil {
			t.Fatal(err)
		}
	}

	// The alert: both heard 1800 Hz, and the other party through it.
	for side, pair := range map[string]struct {
		c     *phone.Call
		other float64
	}{"from": {fromCall, 1000}, "to": {toCall, 440}} {
		h := pair.c.Heard()
		start, ok := h.ToneStart(1800)
		if !ok {
			t.Errorf("%s never heard the alert", side)
			continue
		}
		win := start + 200*time.Millisecond
		alert, other := h.HeardTone(1800, win, win+500*time.Millisecond), h.HeardTone(pair.other, win, win+500*time.Millisecond)
		t.Logf("%s: alert from %v, shares alert %.2f other party %.2f", side, start, alert, other)
		if alert < 0.2 || other < 0.2 {
			t.Errorf("%s during the alert: alert %.2f, other party %.2f — want both heard", side, alert, other)
		}
		if u := h.Continuity().Unmarked(); len(u) != 0 {
			t.Errorf("%s heard restarts without the marker bit: %v", side, u)
		}
	}

	// The recording: from (440 Hz) left, to (1000 Hz) right.
	code, wav := n.do("GET", r.RecordingURL, "", nil)
	if code != http.StatusOK {
		t.Fatalf("recording: HTTP %d %s", code, wav)
	}
	left, right := stereo(t, wav)
	if len(left) < 8000*3 {
		t.Fatalf("recording of %d samples per channel, want the call's seconds", len(left))
	}
	for name, ch := range map[string]struct {
		s         []int16
		own, peer float64
	}{"left (from)": {left, 440, 1000}, "right (to)": {right, 1000, 440}} {
		own, peer := share(ch.s, ch.own), share(ch.s, ch.peer)
		t.Logf("%s: own tone %.2f, other's %.2f", name, own, peer)
		if own < 0.7 || peer > 0.1 {
			t.Errorf("%s: own tone %.2f, other party's %.2f", name, own, peer)
		}
	}
}

// stereo reads a 16-bit two-channel WAV into its channels.
func stereo(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a WAV: % x", b[:min(len(b), 12)])
	}
	le := bin.LittleEndian
	var channels, bits uint16
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			channels, bits = le.Uint16(body[2:]), le.Uint16(body[14:])
		case "data":
			if channels != 2 || bits != 16 {
				t.Fatalf("recording has %d channels of %d bits", channels, bits)
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

// share is the energy-weighted share of freq over 20 ms frames with sound.
func share(s []int16, freq float64) float64 {
	var tone, total float64
	for i := 0; i+160 <= len(s); i += 160 {
		f := s[i : i+160]
		var e float64
		for _, v := range f {
			e += float64(v) * float64(v)
		}
		if math.Sqrt(e/160) < 100 {
			continue // silence
		}
		total += e
		tone += phone.ToneShare(f, freq) * e
	}
	if total == 0 {
		return 0
	}
	return tone / total
}
