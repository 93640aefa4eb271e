package asterisk

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

// A node dies (its event connection gone for good, nothing hung up) with
// a recorded bridged call; another node's backend, on its own Stasis
// application, adopts both channels and the bridge: the far end hanging
// up reaches it, and closing the adopted bridge stops the recording and
// destroys the bridge.
func TestAdoptADeadNodesCall(t *testing.T) {
	h := start(t, aritest.Options{})
	x, _ := h.dial("1000")
	y, _ := h.dial("1001")
	br, err := h.b.Bridge(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if err := br.(*Bridge).StartRecording("1/call-a"); err != nil {
		t.Fatal(err)
	}
	bridgeID := br.(*Bridge).Handle()
	if x.Handle() != x.ChannelID() || bridgeID == "" {
		t.Fatalf("handles %q %q", x.Handle(), bridgeID)
	}

	// The first node is gone: its WebSocket drops and never comes back.
	hold := make(chan struct{})
	h.b.beforeReconnect = func() { <-hold }
	t.Cleanup(func() { close(hold) })
	h.srv.DropWebSockets()
	h.eventually("the first node disconnected", func() bool { return h.b.Ready() != nil })

	b2 := startOn(t, h.srv, "switchboard-b")

	ctx := context.Background()
	ax, err := b2.AdoptLeg(ctx, &engine.Leg{ID: "c1-1", CallID: "c1", Channel: x.ChannelID(), State: engine.LegAnswered})
	if err != nil {
		t.Fatal(err)
	}
	// A leg that never answered recorded no channel: it is found by the
	// id its dial gave it.
	ay, err := b2.AdoptLeg(ctx, &engine.Leg{ID: "c1-2", CallID: "c1", State: engine.LegAnswered})
	if err != nil {
		t.Fatal(err)
	}
	if ay.(*Session).ChannelID() != y.ChannelID() {
		t.Fatalf("adopted %s for the leg dialed as %s", ay.(*Session).ChannelID(), y.ChannelID())
	}
	if _, err := b2.AdoptLeg(ctx, &engine.Leg{ID: "c9-1", CallID: "c9", Channel: "sb-nobody"}); !errors.Is(err, ErrChannelGone) {
		t.Fatalf("adopting a channel that is not there: %v", err)
	}
	abr, err := b2.AdoptBridge(ctx, bridgeID, ax, ay, "1/call-a")
	if err != nil {
		t.Fatal(err)
	}
	if abr.(*Bridge).Handle() != bridgeID {
		t.Fatalf("adopted bridge %s, want %s", abr.(*Bridge).Handle(), bridgeID)
	}

	h.srv.HangupFar(y.ChannelID(), 16)
	waitDone(t, ay.Context(), "the far end's hang-up reaches the adopting node")
	if !errors.Is(context.Cause(ay.Context()), engine.ErrRemoteHangup) {
		t.Fatalf("cause %v", context.Cause(ay.Context()))
	}
	// The bridge closes with the session: the recording is stopped and
	// the bridge destroyed by the adopting node.
	h.eventually("the adopted bridge destroyed", func() bool {
		for _, b := range h.srv.Bridges() {
			if b.ID == bridgeID {
				return b.Destroyed && b.Recording == ""
			}
		}
		return false
	})
	if err := ax.Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.eventually("the adopted channel hung up", func() bool { return h.channel(x.ChannelID()).Ended })
}

// A bridge found gone is replaced by a new one of both adopted channels.
func TestAdoptBridgeGoneBridgesAnew(t *testing.T) {
	h := start(t, aritest.Options{})
	x, _ := h.dial("1000")
	y, _ := h.dial("1001")
	ctx := context.Background()
	ax, err := h.b.AdoptLeg(ctx, &engine.Leg{ID: "c1-1", Channel: x.ChannelID()})
	if err != nil {
		t.Fatal(err)
	}
	ay, err := h.b.AdoptLeg(ctx, &engine.Leg{ID: "c1-2", Channel: y.ChannelID()})
	if err != nil {
		t.Fatal(err)
	}
	br, err := h.b.AdoptBridge(ctx, "sb-bridge-gone", ax, ay, "")
	if err != nil {
		t.Fatal(err)
	}
	id := br.(*Bridge).Handle()
	if id == "sb-bridge-gone" {
		t.Fatal("adopted a bridge that does not exist")
	}
	found := false
	for _, b := range h.srv.Bridges() {
		if b.ID == id && len(b.Channels) == 2 && !b.Destroyed {
			found = true
		}
	}
	if !found {
		t.Fatalf("no new bridge of both channels: %+v", h.srv.Bridges())
	}
	br.Close()
}

// startOn starts another backend, on application app, on the server srv.
func startOn(t *testing.T, srv *aritest.Server, app string) *Backend {
	t.Helper()
	b, err := New(Config{URL: srv.URL(), User: testUser, Password: testPassword, App: app,
		Trunks: []Trunk{{Name: "carrier", Endpoint: "PJSIP/{number}@carrier"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
