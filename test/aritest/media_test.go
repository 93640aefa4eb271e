package aritest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// answered originates a call that answers and waits for its StasisStart.
func answered(t *testing.T, r *rest, ev *events, number string) string {
	t.Helper()
	id := originate(r, "PJSIP/"+number+"@trunk")
	ev.next(func(e event) bool { return e.Type == "StasisStart" && e.channelID() == id })
	return id
}

func TestBridgeLifecycle(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")
	a, b := answered(t, r, ev, "1000"), answered(t, r, ev, "1001")

	br := r.must(200, "POST", "/bridges", vals("type", "mixing", "name", "call1"), nil)
	bid, _ := br["id"].(string)
	if bid == "" || br["bridge_type"] != "mixing" || br["bridge_class"] != "stasis" || br["technology"] != "simple_bridge" {
		t.Fatalf("bridge: %v", br)
	}
	r.must(204, "POST", "/bridges/"+bid+"/addChannel", vals("channel", a+","+b), nil)
	inBridge := ofType("ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest")
	got := ev.expect(inBridge, "ChannelEnteredBridge", "ChannelEnteredBridge")
	if got[0].channelID() != a || got[1].channelID() != b || got[1].str("bridge", "id") != bid {
		t.Fatalf("entered: %s %s", got[0].Raw, got[1].Raw)
	}
	if chans, _ := got[1].JSON["bridge"].(map[string]any)["channels"].([]any); len(chans) != 2 {
		t.Fatalf("bridge channels: %s", got[1].Raw)
	}
	if bs := s.Bridges(); len(bs) != 1 || len(bs[0].Channels) != 2 {
		t.Fatalf("Bridges: %+v", bs)
	}
	other := answered(t, r, ev, "1002")
	r.errorBody(422, "Channel not in this bridge", "POST", "/bridges/"+bid+"/removeChannel", vals("channel", other))
	r.errorBody(400, "Channel not found", "POST", "/bridges/"+bid+"/removeChannel", vals("channel", "nope"))

	// b hangs up: it leaves the bridge before it leaves Stasis.
	if err := s.HangupFar(b, 16); err != nil {
		t.Fatal(err)
	}
	ev.expect(inBridge, "ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd", "ChannelDestroyed")

	r.must(204, "POST", "/bridges/"+bid+"/removeChannel", vals("channel", a), nil)
	ev.expect(inBridge, "ChannelLeftBridge")
	r.must(204, "POST", "/bridges/"+bid+"/addChannel", vals("channel", a), nil)
	ev.expect(inBridge, "ChannelEnteredBridge")
	r.must(204, "DELETE", "/bridges/"+bid, nil, nil)
	got = ev.expect(inBridge, "ChannelLeftBridge", "BridgeDestroyed")
	if got[1].str("bridge", "id") != bid {
		t.Fatalf("destroyed: %s", got[1].Raw)
	}
	if c, _ := s.Channel(a); !c.InStasis || c.Bridge != "" {
		t.Fatalf("channel after bridge: %+v", c)
	}
	r.errorBody(404, "Bridge not found", "GET", "/bridges/"+bid, nil)
}

func TestPlayback(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")
	a := answered(t, r, ev, "1000")
	pb := ofType("PlaybackStarted", "PlaybackContinuing", "PlaybackFinished")

	p := r.must(201, "POST", "/channels/"+a+"/play", vals("media", "sound:hello-world", "playbackId", "p1"), nil)
	if p["id"] != "p1" || p["state"] != "queued" || p["target_uri"] != "channel:"+a || p["media_uri"] != "sound:hello-world" {
		t.Fatalf("play: %v", p)
	}
	got := ev.expect(pb, "PlaybackStarted", "PlaybackFinished")
	if got[0].str("playback", "state") != "playing" || got[1].str("playback", "state") != "done" {
		t.Fatalf("playback: %s %s", got[0].Raw, got[1].Raw)
	}

	// Two media: Started, Continuing, Started, Finished.
	r.must(201, "POST", "/channels/"+a+"/play/p2", vals("media", "sound:one,digits:42"), nil)
	got = ev.expect(pb, "PlaybackStarted", "PlaybackContinuing", "PlaybackStarted", "PlaybackFinished")
	if got[0].str("playback", "next_media_uri") != "digits:42" || got[2].str("playback", "media_uri") != "digits:42" {
		t.Fatalf("list: %s %s", got[0].Raw, got[2].Raw)
	}

	// A sound file that does not exist fails.
	r.must(201, "POST", "/channels/"+a+"/play", vals("media", "sound:missing-file"), nil)
	got = ev.expect(pb, "PlaybackStarted", "PlaybackFinished")
	if got[1].str("playback", "state") != "failed" {
		t.Fatalf("missing media: %s", got[1].Raw)
	}

	// On a bridge.
	br := r.must(200, "POST", "/bridges/br1", nil, nil)
	r.must(204, "POST", "/bridges/br1/addChannel", vals("channel", a), nil)
	r.must(201, "POST", "/bridges/br1/play", vals("media", "sound:beep"), nil)
	got = ev.expect(pb, "PlaybackStarted", "PlaybackFinished")
	if got[0].str("playback", "target_uri") != "bridge:"+br["id"].(string) {
		t.Fatalf("bridge playback: %s", got[0].Raw)
	}
	c, _ := s.Channel(a)
	if len(c.Played) != 4 || c.Played[0] != "sound:hello-world" {
		t.Fatalf("Played %v", c.Played)
	}
	if bs := s.Bridges(); len(bs[0].Played) != 1 {
		t.Fatalf("bridge Played %+v", bs)
	}
}

func TestPlaybackStopAndHangup(t *testing.T) {
	s := Start(t, Options{Far: farByNumber, PlaybackDuration: time.Hour})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")
	a := answered(t, r, ev, "1000")
	pb := ofType("PlaybackStarted", "PlaybackContinuing", "PlaybackFinished")

	// Stopping a playback finishes it as "done"; the next queued one starts.
	r.must(201, "POST", "/channels/"+a+"/play/long", vals("media", "sound:long"), nil)
	r.must(201, "POST", "/channels/"+a+"/play/next", vals("media", "sound:next"), nil)
	if e := ev.next(pb); e.Type != "PlaybackStarted" || e.str("playback", "id") != "long" {
		t.Fatalf("start: %s", e.Raw)
	}
	if p := r.must(200, "GET", "/playbacks/next", nil, nil); p["state"] != "queued" {
		t.Fatalf("queued: %v", p)
	}
	r.must(204, "DELETE", "/playbacks/long", nil, nil)
	got := ev.expect(pb, "PlaybackFinished", "PlaybackStarted")
	if got[0].str("playback", "state") != "done" || got[1].str("playback", "id") != "next" {
		t.Fatalf("stop: %s %s", got[0].Raw, got[1].Raw)
	}
	// A hang-up cuts the playback: "failed", between the request and StasisEnd.
	r.must(204, "DELETE", "/channels/"+a, nil, nil)
	got = ev.expect(func(e event) bool { return pb(e) || about(a)(e) },
		"ChannelHangupRequest", "PlaybackFinished", "StasisEnd", "ChannelDestroyed")
	if got[1].str("playback", "state") != "failed" {
		t.Fatalf("hangup: %s", got[1].Raw)
	}
	r.errorBody(404, "Playback not found", "GET", "/playbacks/next", nil)
}

func TestRecording(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")
	a := answered(t, r, ev, "1000")
	r.must(200, "POST", "/bridges/rb", nil, nil)
	r.must(204, "POST", "/bridges/rb/addChannel", vals("channel", a), nil)

	rec := r.must(201, "POST", "/bridges/rb/record", vals("name", "call-1", "format", "wav", "beep", "true"), nil)
	if rec["state"] != "queued" || rec["target_uri"] != "bridge:rb" {
		t.Fatalf("record: %v", rec)
	}
	recs := ofType("RecordingStarted", "RecordingFinished")
	if e := ev.next(recs); e.Type != "RecordingStarted" || e.str("recording", "state") != "recording" {
		t.Fatalf("started: %s", e.Raw)
	}
	if bs := s.Bridges(); bs[0].Recording != "call-1" {
		t.Fatalf("bridge recording: %+v", bs)
	}
	r.errorBody(409, "Recording 'call-1' already exists and can not be overwritten", "POST", "/bridges/rb/record", vals("name", "call-1", "format", "wav"))
	live := r.must(200, "GET", "/recordings/live/call-1", nil, nil)
	if live["state"] != "recording" {
		t.Fatalf("live: %v", live)
	}
	r.must(204, "POST", "/recordings/live/call-1/stop", nil, nil)
	if e := ev.next(recs); e.Type != "RecordingFinished" || e.str("recording", "state") != "done" || e.str("recording", "duration") == "" {
		t.Fatalf("finished: %s", e.Raw)
	}
	st, body := r.do("GET", "/recordings/stored", nil, nil)
	var stored []map[string]any
	if st != 200 || json.Unmarshal(body, &stored) != nil || len(stored) != 1 || stored[0]["name"] != "call-1" {
		t.Fatalf("stored: %d %s", st, body)
	}
	st, wav := r.do("GET", "/recordings/stored/call-1/file", nil, nil)
	if st != 200 || !bytes.HasPrefix(wav, []byte("RIFF")) || !bytes.Equal(wav[8:16], []byte("WAVEfmt ")) || len(wav) <= 44 {
		t.Fatalf("file: %d %d bytes", st, len(wav))
	}
	// The stored recording can be played back, then deleted.
	r.must(201, "POST", "/channels/"+a+"/play", vals("media", "recording:call-1"), nil)
	ev.expect(ofType("PlaybackStarted", "PlaybackFinished"), "PlaybackStarted", "PlaybackFinished")
	r.must(204, "DELETE", "/recordings/stored/call-1", nil, nil)
	r.errorBody(404, "Recording not found", "GET", "/recordings/stored/call-1", nil)

	// A channel recording that the client cancels is discarded.
	r.must(204, "POST", "/bridges/rb/removeChannel", vals("channel", a), nil)
	r.must(201, "POST", "/channels/"+a+"/record", vals("name", "scratch", "format", "wav"), nil)
	ev.next(ofType("RecordingStarted"))
	r.must(204, "DELETE", "/recordings/live/scratch", nil, nil)
	if e := ev.next(recs); e.str("recording", "state") != "canceled" {
		t.Fatalf("cancel: %s", e.Raw)
	}
	r.errorBody(404, "Recording not found", "GET", "/recordings/stored/scratch", nil)
}

func TestSnoop(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")
	a := answered(t, r, ev, "1000")

	r.errorBody(400, "Direction must be specified for at least spy or whisper", "POST", "/channels/"+a+"/snoop", vals("app", "switchboard"))
	sn := r.must(200, "POST", "/channels/"+a+"/snoop", vals("app", "switchboard", "spy", "in", "snoopId", "snoop1", "appArgs", "spy"), nil)
	if sn["id"] != "snoop1" || sn["state"] != "Up" {
		t.Fatalf("snoop: %v", sn)
	}
	start := ev.expect(about("snoop1"), "ChannelDialplan", "StasisStart")[1]
	if args, _ := start.JSON["args"].([]any); len(args) != 1 || args[0] != "spy" {
		t.Fatalf("snoop args: %s", start.Raw)
	}
	if c, _ := s.Channel("snoop1"); c.SnoopOf != a {
		t.Fatalf("snoop snapshot: %+v", c)
	}
	// The snooped channel ends, and the snoop with it.
	r.must(204, "DELETE", "/channels/"+a, nil, nil)
	ev.expect(about("snoop1"), "StasisEnd", "ChannelDestroyed")
	if c, _ := s.Channel("snoop1"); !c.Ended {
		t.Fatalf("snoop not ended: %+v", c)
	}
}
