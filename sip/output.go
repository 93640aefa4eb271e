package sip

import (
	"sync"
	"time"

	"github.com/switchboard/switchboard/media"
)

// legFormat is how a leg labels its RTP: the G.711 law and payload type of
// its audio, and the payload type of its telephone-events
// (noTelephoneEvent when it has none).
type legFormat struct {
	codec media.Codec
	valid bool // codec is G.711: the backend can speak on the leg
	audio uint8
	te    int
}

// newLegFormat is the format of a leg that answered codec (and, in the
// same SDP, telephone-event te).
func newLegFormat(codec Codec, te int) legFormat {
	f := legFormat{audio: codec.PayloadType, te: te}
	if mc, err := media.ParseCodec(codec.Name); err == nil && codec.ClockRate == media.SampleRate {
		f.codec, f.valid = mc, true
	}
	return f
}

// mixQueueFrames bounds the relayed audio waiting to be mixed into an
// announcement: 4 frames, 80 ms. When the other party's packets come
// faster than the ticker takes them, the oldest audio is dropped, so
// mixing never delays the conversation by more than this.
const mixQueueFrames = 4

// output is the sending side of an answered leg's stream: every packet its
// party receives goes out through it, under one SSRC with continuous
// sequence numbers and timestamps (a media.Packetizer), whichever source
// it comes from: the other party of a bridge, a ringing leg's early media,
// an announcement (Play), or DTMF (SendDTMF). See the package doc.
type output struct {
	stream *media.Stream
	format legFormat

	mu   sync.Mutex
	pk   *media.Packetizer // nil when the codec is not G.711: relay only
	play *playback         // the announcement playing, nil when none
	dtmf bool              // a digit is being sent: nothing else goes out
	mixq ring[byte]        // relayed audio waiting to be mixed (play.mix): mixQueueFrames frames

	buf     [12 + media.FrameSamples]byte // a packet being built
	relayed [media.FrameSamples]byte      // relayed audio taken from mixq
	mixed   [media.FrameSamples]byte      // an announcement frame mixed with it
	silence [media.FrameSamples]byte
}

func newOutput(stream *media.Stream, f legFormat) *output {
	o := &output{stream: stream, format: f, mixq: newRing[byte](mixQueueFrames * media.FrameSamples)}
	if f.valid {
		o.pk, _ = media.NewPacketizer(media.RandomPacketizerConfig(f.codec)) // cannot fail: G.711
		for i := range o.silence {
			o.silence[i] = f.codec.Silence()
		}
	}
	return o
}

// input is the sink of an answered leg's stream, on its read goroutine:
// telephone-events go to the DTMF detector, audio to a recording's tap,
// and every packet to the other party's output while bridged.
type input struct{ s *Session }

// WriteRTP takes one packet the far end sent. It does not allocate
// (the OnDTMF callback aside).
func (in *input) WriteRTP(pkt []byte) error {
	s := in.s
	switch pt := int(pkt[1] & 0x7F); pt {
	case s.format.te:
		if d, ok := s.det.Detect(pkt); ok {
			if f := s.onDTMF.Load(); f != nil {
				(*f)(d)
			}
		}
	case int(s.format.audio):
		if r := s.rec.Load(); r != nil {
			r.tap(pkt)
		}
	}
	if o := s.peer.Load(); o != nil {
		return o.relay(pkt, s.format)
	}
	return media.ErrDropped
}

// relay sends pkt, a packet received from a leg of format from (the other
// party of a bridge, or a ringing leg's early media), to this leg's party.
// Its payload type is mapped to this leg's: audio to audio (when both use
// the same law), telephone-event to telephone-event; a telephone-event is
// dropped when this leg negotiated none. It is rewritten into the output
// stream in place. While an announcement plays or a digit is sent, the
// packet is not sent: with Mix, its audio is queued to be mixed.
//
// It runs on the sending leg's read goroutine and does not allocate.
func (o *output) relay(pkt []byte, from legFormat) error {
	if len(pkt) < 12 {
		return nil
	}
	pt := pkt[1] & 0x7F
	audio := pt == from.audio && from.valid && from.codec == o.format.codec
	switch {
	case audio:
		pt = o.format.audio
	case from.te != noTelephoneEvent && int(pt) == from.te:
		if o.format.te == noTelephoneEvent {
			return nil
		}
		pt = uint8(o.format.te)
	}
	o.mu.Lock()
	if o.play != nil || o.dtmf {
		if audio && !o.dtmf && o.play.mix {
			if payload, ok := media.RTPPayload(pkt); ok {
				o.mixq.push(payload)
			}
		}
		o.mu.Unlock()
		return nil
	}
	pkt[1] = pkt[1]&0x80 | pt
	if o.pk != nil && !o.pk.Rewrite(pkt, time.Now()) {
		o.mu.Unlock()
		return nil
	}
	err := o.stream.WriteRTP(pkt)
	o.mu.Unlock()
	return err
}

// playback is one Play on an output.
type playback struct {
	player *media.Player
	loop   bool
	mix    bool
	// preempted is closed when a later Play takes the output.
	preempted chan struct{}
}

// start makes p the output's announcement; one playing is preempted.
func (o *output) start(p *playback) {
	o.mu.Lock()
	prev := o.play
	o.play = p
	o.mixq.reset()
	o.mu.Unlock()
	if prev != nil {
		close(prev.preempted)
	}
}

// stop ends p if it still plays: the party hears the relay again.
func (o *output) stop(p *playback) {
	o.mu.Lock()
	if o.play == p {
		o.play = nil
		o.mixq.reset()
	}
	o.mu.Unlock()
}

// tick sends p's next frame (mixed with the relayed audio queued, with
// Mix), or nothing while a digit is being sent. It reports done once p
// has played to its end (never with Loop) or was preempted.
func (o *output) tick(p *playback) (done bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.play != p {
		return true, ErrPlayPreempted
	}
	if o.dtmf {
		return false, nil
	}
	frame, ok := p.player.Next()
	if !ok && p.loop {
		p.player.Rewind()
		if frame, ok = p.player.Next(); !ok {
			frame = o.silence[:] // an empty announcement, looped
		}
	}
	if !ok && !p.loop {
		o.play = nil
		o.mixq.reset()
		return true, nil
	}
	if p.mix {
		if n := o.mixq.pop(o.relayed[:]); n > 0 {
			media.Mix(o.format.codec, o.mixed[:], frame, o.relayed[:n])
			frame = o.mixed[:]
		}
	}
	o.send(o.pk.Packetize(o.buf[:0], frame, time.Now()))
	return false, nil
}

// send writes a packet the Packetizer made, in the leg's audio payload
// type (which a far end may have numbered dynamically). Called with mu
// held.
func (o *output) send(pkt []byte) {
	pkt[1] = pkt[1]&0x80 | o.format.audio
	_ = o.stream.WriteRTP(pkt)
}
