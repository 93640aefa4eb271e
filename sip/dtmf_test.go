package sip

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/pion/rtp"

	"github.com/switchboard/switchboard/media"
)

// sendPress sends one key press as a phone does: the start (marker), two
// updates, and the end three times, all with the event's timestamp ts.
func sendPress(e *rtpEnd, to netip.AddrPort, pt uint8, digit rune, ts uint32) int {
	ev, _ := media.DigitEvent(digit)
	n := 0
	for i, d := range []uint16{160, 320, 480} {
		e.send(to, pt, i == 0, ts, media.DTMFEvent{Event: ev, Volume: 10, Duration: d}.Append(nil))
		n++
	}
	for range 3 {
		e.send(to, pt, false, ts, media.DTMFEvent{Event: ev, End: true, Volume: 10, Duration: 800}.Append(nil))
		n++
	}
	return n
}

// Key presses of party a are reported once each, however their packets
// are repeated, and relayed to b in b's telephone-event type (96).
func TestDTMFReceivedOncePerPressAndRelayed(t *testing.T) {
	b, a, o := pair(t, Config{}, 101, 96)
	var mu sync.Mutex
	var keys []rune
	a.s.OnDTMF(func(d rune) {
		mu.Lock()
		keys = append(keys, d)
		mu.Unlock()
	})
	br, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	sent := 0
	ts := a.phone.ts
	for _, d := range "11#" { // the same key twice is two presses
		sent += sendPress(a.phone, a.ours, 101, d, ts)
		ts += 1600
	}
	// The last press sent again: still one press.
	sent += sendPress(a.phone, a.ours, 101, '#', ts-1600)
	a.phone.ts = ts
	a.phone.audio(a.ours, 8, fill(0x11, media.FrameSamples)) // a fence
	sent++
	waitFor(t, "a's packets handled", func() bool { return a.s.Stream().Stats().PacketsReceived >= uint64(sent) })
	mu.Lock()
	got := string(keys)
	mu.Unlock()
	if got != "11#" {
		t.Fatalf("reported %q, want \"11#\"", got)
	}

	pkts := o.phone.waitCount(sent, "the relayed events")
	checkStream(t, pkts, false)
	events := 0
	for _, p := range pkts {
		switch p.PayloadType {
		case 96:
			events++
		case 8:
		default:
			t.Fatalf("b received payload type %d", p.PayloadType)
		}
	}
	if events != sent-1 {
		t.Fatalf("b received %d events, want %d", events, sent-1)
	}
}

// splitEvents groups telephone-event packets by their timestamp.
func splitEvents(t *testing.T, pkts []rtp.Packet, pt uint8) [][]rtp.Packet {
	t.Helper()
	var evs [][]rtp.Packet
	for _, p := range pkts {
		if p.PayloadType != pt {
			continue
		}
		if len(evs) == 0 || evs[len(evs)-1][0].Timestamp != p.Timestamp {
			evs = append(evs, nil)
		}
		evs[len(evs)-1] = append(evs[len(evs)-1], p)
	}
	return evs
}

// SendDTMF sends RFC 4733 events on the leg's one stream.
func TestSendDTMF(t *testing.T) {
	b, a, o := pair(t, Config{}, 101, noTelephoneEvent)
	br, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	ctx := testCtx(t)
	for _, bad := range []string{"", "12x", "a"} {
		if err := a.s.SendDTMF(ctx, bad); err == nil {
			t.Errorf("SendDTMF(%q) sent", bad)
		}
	}
	if err := o.s.SendDTMF(ctx, "1"); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Errorf("to a far end without telephone-event: %v", err)
	}
	// a's key presses are not relayed to b: b negotiated no
	// telephone-event.
	sendPress(a.phone, a.ours, 101, '7', a.phone.ts)
	a.phone.ts += 1600
	a.phone.audio(a.ours, 8, fill(0x33, media.FrameSamples))
	for _, p := range o.phone.waitCount(1, "a's audio") {
		if p.PayloadType != 8 {
			t.Fatalf("b received payload type %d", p.PayloadType)
		}
	}
	o.phone.audio(o.ours, 8, fill(0x11, media.FrameSamples))
	a.phone.waitCount(1, "audio before the digits")

	if err := a.s.SendDTMF(ctx, "5#"); err != nil {
		t.Fatalf("SendDTMF: %v", err)
	}
	n := a.phone.count()
	o.phone.audio(o.ours, 8, fill(0x22, media.FrameSamples))
	pkts := a.phone.waitCount(n+1, "audio after the digits")
	checkOneStream(t, pkts)
	evs := splitEvents(t, pkts, 101)
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		want, _ := media.DigitEvent([]rune("5#")[i])
		ends := 0
		var last uint16
		for j, p := range ev {
			e, err := media.ParseDTMFEvent(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if e.Event != want || p.Marker != (j == 0) || e.Duration < last || e.Volume != media.DefaultDTMFVolume {
				t.Fatalf("event %d packet %d: %+v marker %v", i, j, e, p.Marker)
			}
			last = e.Duration
			if e.End {
				ends++
			} else if ends > 0 {
				t.Fatalf("event %d: an update after its end", i)
			}
		}
		if ends != 3 || last != 800 {
			t.Fatalf("event %d: %d ends, duration %d", i, ends, last)
		}
	}
	if evs[1][0].Timestamp == evs[0][0].Timestamp {
		t.Fatal("two digits share a timestamp")
	}

	// Cancelled: the digit under way is ended at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.s.SendDTMF(cctx, "1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled SendDTMF: %v", err)
	}
}
