package asterisk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

func TestPlay(t *testing.T) {
	h := start(t, aritest.Options{}, func(c *Config) {
		c.Media = func(a engine.Announcement) (string, bool) {
			if a.ID == "unknown.wav" {
				return "", false
			}
			return "sound:" + strings.TrimSuffix(a.ID, ".wav"), true
		}
	})
	s, _ := h.dial("1000")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Play(ctx, engine.Announcement{Tenant: "t", ID: "hello.wav"}, engine.PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.channel(s.ChannelID()).Played; !slices.Equal(got, []string{"sound:hello"}) {
		t.Errorf("played %v", got)
	}
	if err := s.Play(ctx, engine.Announcement{ID: "unknown.wav"}, engine.PlayOptions{}); !errors.Is(err, engine.ErrUnknownAnnouncement) {
		t.Errorf("unknown announcement: %v", err)
	}
	if err := s.Play(ctx, engine.Announcement{ID: "missing-file.wav"}, engine.PlayOptions{}); !errors.Is(err, engine.ErrUnknownAnnouncement) {
		t.Errorf("failed playback: %v", err)
	}

	// Loop plays until its context ends.
	lctx, lcancel := context.WithCancelCause(context.Background())
	stop := errors.New("enough")
	done := make(chan error, 1)
	go func() { done <- s.Play(lctx, engine.Announcement{ID: "ring.wav"}, engine.PlayOptions{Loop: true}) }()
	h.eventually("three loops", func() bool {
		n := 0
		for _, p := range h.channel(s.ChannelID()).Played {
			if p == "sound:ring" {
				n++
			}
		}
		return n >= 3
	})
	lcancel(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Errorf("loop returned %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("loop did not stop")
	}

	// A Play on an ended session says so.
	s.Hangup(context.Background(), nil)
	if err := s.Play(ctx, engine.Announcement{ID: "hello.wav"}, engine.PlayOptions{}); err == nil {
		t.Error("played on an ended session")
	}
}

func TestPlayCancelledStopsPlayback(t *testing.T) {
	h := start(t, aritest.Options{PlaybackDuration: time.Hour})
	s, _ := h.dial("1000")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx, engine.Announcement{ID: "long.wav"}, engine.PlayOptions{}) }()
	h.eventually("playback started", func() bool { return len(h.channel(s.ChannelID()).Played) == 1 })
	// A later Play preempts it.
	pdone := make(chan error, 1)
	go func() { pdone <- s.Play(ctx, engine.Announcement{ID: "other.wav"}, engine.PlayOptions{}) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPlayPreempted) {
			t.Errorf("first play: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("first play not preempted")
	}
	h.eventually("second playback", func() bool { return len(h.channel(s.ChannelID()).Played) == 2 })
	cancel(engine.ErrCallStopped)
	select {
	case err := <-pdone:
		if !errors.Is(err, engine.ErrCallStopped) {
			t.Errorf("second play: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("play did not return")
	}
	h.eventually("playbacks stopped", func() bool { return len(h.requests("DELETE", "")) >= 2 })
	for _, r := range h.requests("DELETE", "") {
		if !strings.Contains(r.Path, "/playbacks/") {
			t.Errorf("unexpected DELETE %s", r.Path)
		}
	}
}

func TestPlayMix(t *testing.T) {
	h := start(t, aritest.Options{})
	a, _ := h.dial("1000")
	b, _ := h.dial("1001")
	br, err := h.b.Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := a.Play(ctx, engine.Announcement{ID: "alert.wav"}, engine.PlayOptions{Mix: true}); err != nil {
		t.Fatal(err)
	}
	var snoop aritest.Channel
	for _, c := range h.srv.Channels() {
		if c.SnoopOf == a.ChannelID() {
			snoop = c
		}
	}
	if snoop.ID == "" || !slices.Equal(snoop.Played, []string{"sound:alert"}) {
		t.Fatalf("snoop %+v", snoop)
	}
	snoopReq := h.requests("POST", "/channels/"+a.ChannelID()+"/snoop")
	if len(snoopReq) != 1 || snoopReq[0].Query.Get("whisper") != "out" {
		t.Fatalf("snoop requests %+v", snoopReq)
	}
	h.eventually("snoop hung up", func() bool { return h.channel(snoop.ID).Ended })
	if len(h.channel(a.ChannelID()).Played) != 0 {
		t.Error("a mixed announcement was played on the channel itself")
	}
	if a.Context().Err() != nil || h.channel(a.ChannelID()).Bridge == "" {
		t.Error("the session left its bridge")
	}
}

func TestDTMF(t *testing.T) {
	h := start(t, aritest.Options{})
	s, _ := h.dial("1000")
	got := make(chan rune, 8)
	s.OnDTMF(func(d rune) { got <- d })
	if err := h.srv.Press(s.ChannelID(), "12#"); err != nil {
		t.Fatal(err)
	}
	var keys []rune
	for len(keys) < 3 {
		select {
		case d := <-got:
			keys = append(keys, d)
		case <-time.After(waitFor):
			t.Fatalf("keys %q", string(keys))
		}
	}
	if string(keys) != "12#" {
		t.Errorf("keys %q", string(keys))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.SendDTMF(ctx, "*5A"); err != nil {
		t.Fatal(err)
	}
	if sent := h.channel(s.ChannelID()).DTMFSent; sent != "*5A" {
		t.Errorf("sent %q", sent)
	}
	if err := s.SendDTMF(ctx, "x"); err == nil {
		t.Error("sent an invalid key")
	}
}

func TestRecording(t *testing.T) {
	h := start(t, aritest.Options{})
	a, _ := h.dial("1000")
	b, _ := h.dial("1001")
	br, err := h.b.Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	rb := br.(engine.RecordingBridge)
	if err := rb.StartRecording("tenant-1/call-42"); err != nil {
		t.Fatal(err)
	}
	if err := rb.StartRecording("tenant-1/call-43"); !errors.Is(err, ErrRecording) {
		t.Errorf("second recording: %v", err)
	}
	rec := h.requests("POST", "/record")
	if len(rec) != 1 || rec[0].Query.Get("name") != "tenant-1~call-42" || rec[0].Query.Get("format") != "wav" || rec[0].Query.Get("ifExists") != "overwrite" {
		t.Fatalf("record requests %+v", rec)
	}
	if err := rb.StopRecording(); err != nil {
		t.Fatal(err)
	}
	if err := rb.StopRecording(); err != nil {
		t.Fatal(err)
	}
	if err := rb.StartRecording("../x"); err == nil {
		t.Error("bad name accepted")
	}
	var data []byte
	h.eventually("recording stored", func() bool {
		f, err := h.b.Recordings().Open("tenant-1/call-42.wav")
		if err != nil {
			return false
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.Name() != "call-42.wav" {
			t.Fatalf("stat %v %v", st, err)
		}
		data, err = io.ReadAll(f)
		return err == nil
	})
	if !bytes.HasPrefix(data, []byte("RIFF")) {
		t.Errorf("recording is not a WAV: %q", data[:min(len(data), 12)])
	}
	for _, name := range []string{"tenant-1/nothing.wav", "tenant-1/call-42.gsm", "../etc/passwd.wav", "tenant-1~call-42.wav"} {
		if _, err := h.b.Recordings().Open(name); !errors.Is(err, io.EOF) && !isNotExist(err) {
			t.Errorf("open %q: %v", name, err)
		}
	}
	br.Close()
}

func isNotExist(err error) bool {
	return err != nil && strings.Contains(err.Error(), "file does not exist")
}
