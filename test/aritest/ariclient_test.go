package aritest

import (
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// TestARIClient drives the server with ari/v5's native client: a real ARI
// client library accepts its JSON, its events and its WebSocket.
func TestARIClient(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	cl, err := native.Connect(&native.Options{
		Application:  "switchboard",
		URL:          s.URL(),
		WebsocketURL: "ws" + strings.TrimPrefix(s.URL(), "http") + "/events",
		Username:     "switchboard",
		Password:     "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	// ari/v5 v5.3.1's native Client.Close writes Client.connected while its
	// listen goroutine writes it too: a data race in the library. Under
	// -race the client is left to die with the test binary.
	if !raceEnabled {
		defer cl.Close()
	}

	info, err := cl.Asterisk().Info(nil)
	if err != nil || info.SystemInfo.Version != Version {
		t.Fatalf("info: %+v %v", info, err)
	}

	// Stage, subscribe, then originate.
	h, err := cl.Channel().StageOriginate(nil, ari.OriginateRequest{
		Endpoint: "PJSIP/1000@trunk", App: "switchboard", AppArgs: "x", CallerID: `"Sb" <100>`, Timeout: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := h.Subscribe(ari.Events.StasisStart)
	defer start.Cancel()
	destroyed := h.Subscribe(ari.Events.ChannelDestroyed)
	defer destroyed.Cancel()
	if err := h.Exec(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-start.Events():
		ss, ok := e.(*ari.StasisStart)
		if !ok || ss.Channel.ID != h.ID() || len(ss.Args) != 1 || ss.Args[0] != "x" {
			t.Fatalf("StasisStart %+v", e)
		}
		if time.Time(ss.Timestamp).IsZero() || ss.Channel.Caller.Number != "100" {
			t.Fatalf("StasisStart fields %+v", ss)
		}
	case <-time.After(wait):
		t.Fatal("no StasisStart")
	}
	data, err := h.Data()
	if err != nil || data.State != "Up" {
		t.Fatalf("data: %+v %v", data, err)
	}
	if err := h.Answer(); err != nil {
		t.Fatal(err)
	}

	bh, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "b1"), "mixing", "b1")
	if err != nil {
		t.Fatal(err)
	}
	if err := bh.AddChannel(h.ID()); err != nil {
		t.Fatal(err)
	}
	bd, err := bh.Data()
	if err != nil || len(bd.ChannelIDs) != 1 {
		t.Fatalf("bridge data: %+v %v", bd, err)
	}

	pb, err := h.StagePlay("pb1", "sound:hello-world")
	if err != nil {
		t.Fatal(err)
	}
	fin := pb.Subscribe(ari.Events.PlaybackFinished)
	defer fin.Cancel()
	if err := pb.Exec(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-fin.Events():
		if f, ok := e.(*ari.PlaybackFinished); !ok || f.Playback.State != "done" {
			t.Fatalf("PlaybackFinished %+v", e)
		}
	case <-time.After(wait):
		t.Fatal("no PlaybackFinished")
	}

	if err := h.Hangup(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-destroyed.Events():
		if d, ok := e.(*ari.ChannelDestroyed); !ok || d.Cause != 16 || d.CauseTxt != "Normal Clearing" {
			t.Fatalf("ChannelDestroyed %+v", e)
		}
	case <-time.After(wait):
		t.Fatal("no ChannelDestroyed")
	}
	if err := bh.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Channel().Data(ari.NewKey(ari.ChannelKey, "nope")); err == nil {
		t.Fatal("data of a missing channel")
	}
}
