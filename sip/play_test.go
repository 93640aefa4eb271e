package sip

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

// segment is a run of packets of one source in what a party received.
type segment struct {
	tag byte // first payload byte
	n   int
}

// checkOneStream checks that pkts are one continuous RTP stream: one SSRC,
// consecutive sequence numbers, timestamps that only move forward (audio
// by at least a packet's length; a telephone-event's packets share one),
// and the
// marker bit on the first packet of each run of the same payload tag (and
// elsewhere only where the timestamp shows a pause). It returns the runs.
func checkOneStream(t *testing.T, pkts []rtp.Packet) []segment {
	t.Helper()
	return checkStream(t, pkts, true)
}

// checkStream is checkOneStream; without runs, payloads are not tags and
// markers are not checked.
func checkStream(t *testing.T, pkts []rtp.Packet, runs bool) []segment {
	t.Helper()
	var segs []segment
	for i, p := range pkts {
		tag := byte(0)
		if len(p.Payload) > 0 {
			tag = p.Payload[0]
		}
		newSeg := i == 0 || tag != segs[len(segs)-1].tag
		if newSeg {
			segs = append(segs, segment{tag: tag})
		}
		segs[len(segs)-1].n++
		if i == 0 {
			if !p.Marker {
				t.Errorf("first packet without marker")
			}
			continue
		}
		q := pkts[i-1]
		if p.SSRC != q.SSRC {
			t.Fatalf("packet %d: SSRC %#x after %#x", i, p.SSRC, q.SSRC)
		}
		if p.SequenceNumber != q.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.SequenceNumber, q.SequenceNumber)
		}
		step := p.Timestamp - q.Timestamp
		audio := func(p rtp.Packet) bool { return p.PayloadType == 0 || p.PayloadType == 8 }
		if min := int32(len(q.Payload)); int32(step) < min && (audio(p) && audio(q) || int32(step) < 0) {
			// Audio moves on by at least a packet; the packets of a
			// telephone-event share its timestamp.
			t.Fatalf("packet %d: timestamp %d after %d (a %d-byte packet)", i, p.Timestamp, q.Timestamp, len(q.Payload))
		}
		switch {
		case !runs:
		case newSeg && !p.Marker:
			t.Errorf("packet %d (tag %#x after %#x): no marker at the switch", i, tag, q.Payload[0])
		case !newSeg && p.Marker && step == uint32(len(q.Payload)):
			t.Errorf("packet %d: marker within a run, without a pause", i)
		}
	}
	return segs
}

// The party hears the other party, an announcement, the other party, a
// looped announcement (during which the other party's packets are not
// heard) and the other party again: one stream throughout.
func TestPlayRelaySwitchesKeepOneStream(t *testing.T) {
	ann := &fakeAnnouncements{raw: map[string][]byte{
		"t/five":  fill(0xAA, 5*media.FrameSamples),
		"t/three": fill(0xBB, 3*media.FrameSamples),
	}}
	b, a, o := pair(t, Config{Announcements: ann}, 101, 101)
	br, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	ctx := testCtx(t)
	talk := func(tag byte, n int) {
		for range n {
			o.phone.audio(o.ours, 8, fill(tag, media.FrameSamples))
		}
	}

	talk(0x11, 5)
	a.phone.waitCount(5, "first relayed packets")
	if err := a.s.Play(ctx, engine.Announcement{Tenant: "t", ID: "five"}, engine.PlayOptions{}); err != nil {
		t.Fatalf("Play: %v", err)
	}
	a.phone.waitCount(10, "the announcement")
	talk(0x22, 5)
	a.phone.waitCount(15, "relay after the announcement")

	loopCtx, stop := context.WithCancel(ctx)
	played := make(chan error, 1)
	go func() {
		played <- a.s.Play(loopCtx, engine.Announcement{Tenant: "t", ID: "three"}, engine.PlayOptions{Loop: true})
	}()
	a.phone.waitCount(15+7, "the looped announcement, more than twice")
	// The other party talks meanwhile: not heard. Its last packet is a
	// fence: once it was received, every earlier one was handled.
	rx := o.s.Stream().Stats().PacketsReceived
	talk(0x77, 10)
	o.phone.audio(o.ours, 8, fill(0x78, media.FrameSamples))
	waitFor(t, "the muted packets received", func() bool { return o.s.Stream().Stats().PacketsReceived >= rx+11 })
	select {
	case err := <-played:
		t.Fatalf("looped Play returned %v", err)
	default:
	}
	stop()
	if err := <-played; !errors.Is(err, context.Canceled) {
		t.Fatalf("looped Play: %v, want context.Canceled", err)
	}
	n := a.phone.count()
	talk(0x44, 5)
	pkts := a.phone.waitCount(n+5, "relay after the loop")

	segs := checkOneStream(t, pkts)
	var want = []byte{0x11, 0xAA, 0x22, 0xBB, 0x44}
	var tags []byte
	for _, s := range segs {
		if s.tag == 0x78 { // the fence may slip out as the loop ends
			continue
		}
		tags = append(tags, s.tag)
	}
	if string(tags) != string(want) {
		t.Fatalf("heard runs %x (%+v), want %x", tags, segs, want)
	}
	for _, s := range segs {
		switch s.tag {
		case 0x11, 0x22, 0xAA:
			if s.n != 5 {
				t.Errorf("run %#x: %d packets, want 5", s.tag, s.n)
			}
		case 0xBB:
			if s.n < 7 {
				t.Errorf("looped run: %d packets", s.n)
			}
		}
	}
	if st := o.s.Stream().Stats(); st.Dropped != 0 {
		t.Errorf("the muted packets counted as dropped: %+v", st)
	}
}

// A leg dialed with NoEarlyMedia does not relay its 183's media to the
// peer; without it, the same media is heard.
func TestNoEarlyMedia(t *testing.T) {
	for _, noEarly := range []bool{false, true} {
		t.Run(map[bool]string{false: "early media", true: "no early media"}[noEarly], func(t *testing.T) {
			pa, pb := newFakePeer(t), newFakePeer(t)
			ta, tb := fakeTrunk(pa), fakeTrunk(pb)
			ta.Name, ta.Prefixes, tb.Name, tb.Prefixes = "a", []string{"1"}, "b", []string{"2"}
			b, _ := startBackendCfg(t, Config{Trunks: []Trunk{ta, tb}})
			a := dialLeg(t, b, pa, newRTPEnd(t, 1), 101, engine.DialRequest{CallID: "n", LegID: "n-1", Number: "1000"})
			ph := newRTPEnd(t, 2)
			type result struct {
				s   engine.Session
				err error
			}
			ch := make(chan result, 1)
			ringing := make(chan struct{}, 1)
			go func() {
				s, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "n", LegID: "n-2", Number: "2000", Peer: a.s, NoEarlyMedia: noEarly}, func(p engine.Progress) {
					if p == engine.ProgressRinging {
						ringing <- struct{}{}
					}
				})
				ch <- result{s, err}
			}()
			inv := pb.recv("INVITE ")
			ours := offerRTP(t, inv)
			pb.send(b.LocalAddr(), pb.reply(inv, "183 Session Progress", "x", legSDP(ph.port(), 101)))
			<-ringing // the 183's SDP was taken
			early := 0
			if noEarly {
				for range 10 {
					ph.audio(ours, 8, fill(0xEE, media.FrameSamples))
					early++
				}
			} else {
				waitFor(t, "early media relayed", func() bool {
					ph.audio(ours, 8, fill(0xEE, media.FrameSamples))
					early++
					return a.phone.count() > 0
				})
			}
			pb.send(b.LocalAddr(), pb.reply(inv, "200 OK", "x", legSDP(ph.port(), 101)))
			r := <-ch
			if r.err != nil {
				t.Fatal(r.err)
			}
			pb.recv("ACK ")
			leg := &testLeg{s: r.s.(*Session), peer: pb, phone: ph, ours: ours}
			t.Cleanup(func() { leg.hangup(t) })
			// Every early packet reached the leg's stream, and was handled.
			waitFor(t, "the early packets received", func() bool { return leg.s.Stream().Stats().PacketsReceived >= uint64(early) })
			if noEarly {
				if got := a.phone.count(); got != 0 || a.s.Stream().Stats().PacketsSent != 0 {
					t.Fatalf("the peer heard %d early packets", got)
				}
			}
			br, err := b.Bridge(a.s, leg.s)
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			n := a.phone.count()
			for range 3 {
				ph.audio(ours, 8, fill(0x55, media.FrameSamples))
			}
			pkts := a.phone.waitCount(n+3, "the bridged party heard")
			// Early media and the answered leg are one stream of the far
			// end: no switch between them.
			segs := checkStream(t, pkts, false)
			if last := segs[len(segs)-1]; last.tag != 0x55 || last.n != 3 {
				t.Fatalf("runs %+v", segs)
			}
			if noEarly && len(segs) != 1 {
				t.Fatalf("runs %+v: early media was heard", segs)
			}
			if !noEarly && segs[0].tag != 0xEE {
				t.Fatalf("runs %+v: no early media heard", segs)
			}
		})
	}
}

// A mixed announcement (a 1000 Hz alert) is heard together with the other
// party (440 Hz): both tones are in the frames the party receives.
func TestPlayMixKeepsTheConversation(t *testing.T) {
	ann := &fakeAnnouncements{audio: map[string][]int16{"t/alert": tone(1000, 8000, 0, 50*media.FrameSamples)}}
	b, a, o := pair(t, Config{Announcements: ann}, 101, 101)
	br, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	// The other party talks, every 20 ms, until the test is over.
	stop := make(chan struct{})
	talking := make(chan struct{})
	go func() {
		defer close(talking)
		frame := make([]byte, media.FrameSamples)
		tk := time.NewTicker(frameInterval)
		defer tk.Stop()
		for i := 0; ; i++ {
			media.PCMA.Encode(frame, tone(440, 8000, i*media.FrameSamples, media.FrameSamples))
			o.phone.audio(o.ours, 8, frame)
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	defer func() { close(stop); <-talking }()
	a.phone.waitCount(5, "the conversation")
	before := a.phone.count()
	if err := a.s.Play(testCtx(t), engine.Announcement{Tenant: "t", ID: "alert"}, engine.PlayOptions{Mix: true}); err != nil {
		t.Fatalf("Play: %v", err)
	}
	pkts := a.phone.waitCount(before+50, "the alert")
	n := a.phone.count()
	a.phone.waitCount(n+5, "the conversation after the alert")
	checkStream(t, a.phone.packets(), false)

	both, alertOnly := 0, 0
	pcm := make([]int16, media.FrameSamples)
	for _, p := range pkts[before:] {
		media.PCMA.Decode(pcm, p.Payload)
		hi, lo := level(pcm, 1000), level(pcm, 440)
		switch {
		case hi > 3000 && lo > 3000:
			both++
		case hi > 3000:
			alertOnly++
		}
	}
	t.Logf("of %d frames, %d carry the alert and the party, %d the alert alone", len(pkts)-before, both, alertOnly)
	// Frames without the other party are those whose packet was late or
	// lost; most carry both.
	if both < 25 || both+alertOnly < 45 {
		t.Fatalf("of %d frames, %d carry the alert and the party, %d the alert alone", len(pkts)-before, both, alertOnly)
	}
}

// A later Play takes over; the earlier returns ErrPlayPreempted. Play
// errors: no source, an unknown announcement, an ended leg.
func TestPlayPreemptAndErrors(t *testing.T) {
	pool, err := media.NewPortPool(media.PoolConfig{MinPort: 43000, MaxPort: 43098})
	if err != nil {
		t.Fatal(err)
	}
	phone := newRTPEnd(t, 9)
	far := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(phone.port()))
	ann := &fakeAnnouncements{raw: map[string][]byte{"t/a": fill(0xAA, 2*media.FrameSamples), "t/b": fill(0xBB, 2*media.FrameSamples), "t/empty": nil}}
	b := &Backend{cfg: Config{Announcements: ann}}
	s := unitSession(t, b, pool, PCMU, 101, far)
	ctx := testCtx(t)

	first := make(chan error, 1)
	go func() {
		first <- s.Play(ctx, engine.Announcement{Tenant: "t", ID: "a"}, engine.PlayOptions{Loop: true})
	}()
	phone.waitCount(3, "the first announcement")
	if err := s.Play(ctx, engine.Announcement{Tenant: "t", ID: "b"}, engine.PlayOptions{}); err != nil {
		t.Fatalf("second Play: %v", err)
	}
	if err := <-first; !errors.Is(err, ErrPlayPreempted) {
		t.Fatalf("first Play: %v, want ErrPlayPreempted", err)
	}
	pkts := phone.packets()
	if last := pkts[len(pkts)-1]; last.Payload[0] != 0xBB || last.PayloadType != 0 {
		t.Fatalf("last packet %v", last)
	}
	// One announcement after another is one talkspurt: no marker needed.
	checkStream(t, pkts, false)

	// An empty announcement plays nothing.
	if err := s.Play(ctx, engine.Announcement{Tenant: "t", ID: "empty"}, engine.PlayOptions{}); err != nil {
		t.Fatalf("empty: %v", err)
	}
	if err := s.Play(ctx, engine.Announcement{Tenant: "t", ID: "nope"}, engine.PlayOptions{}); !errors.Is(err, engine.ErrUnknownAnnouncement) {
		t.Fatalf("unknown: %v", err)
	}
	none := unitSession(t, &Backend{}, pool, PCMU, 101, far)
	if err := none.Play(ctx, engine.Announcement{Tenant: "t", ID: "a"}, engine.PlayOptions{}); !errors.Is(err, engine.ErrUnknownAnnouncement) {
		t.Fatalf("no source: %v", err)
	}
	s.cancel(engine.ErrRemoteHangup)
	if err := s.Play(ctx, engine.Announcement{Tenant: "t", ID: "a"}, engine.PlayOptions{}); !errors.Is(err, engine.ErrRemoteHangup) {
		t.Fatalf("ended leg: %v", err)
	}
}

// A leg that is played to but sends nothing still times out.
func TestMediaTimeoutWhilePlaying(t *testing.T) {
	peer := newFakePeer(t)
	ann := &fakeAnnouncements{raw: map[string][]byte{"t/a": fill(0xAA, media.FrameSamples)}}
	b, _ := startBackendCfg(t, Config{MediaTimeout: 300 * time.Millisecond, Announcements: ann, Trunks: []Trunk{fakeTrunk(peer)}})
	phone := newRTPEnd(t, 3)
	l := dialLeg(t, b, peer, phone, 101, engine.DialRequest{CallID: "mt", LegID: "mt-1", Number: "1000"})
	played := make(chan error, 1)
	go func() {
		played <- l.s.Play(testCtx(t), engine.Announcement{Tenant: "t", ID: "a"}, engine.PlayOptions{Loop: true})
	}()
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	waitDone(t, l.s.Context(), "media timeout")
	if cause := context.Cause(l.s.Context()); !errors.Is(cause, engine.ErrMediaTimeout) {
		t.Fatalf("cause %v", cause)
	}
	if err := <-played; !errors.Is(err, engine.ErrMediaTimeout) {
		t.Fatalf("Play: %v", err)
	}
	if phone.count() == 0 {
		t.Fatal("nothing was played")
	}
}
