package media

import "time"

// Player cuts an announcement, already in a leg's codec (Audio.Encode),
// into 20 ms frames for Packetize. Many players may share one encoded
// announcement: a Player only reads it. A Player is not safe for
// concurrent use.
type Player struct {
	data    []byte
	off     int
	silence byte
	last    [FrameSamples]byte
}

// NewPlayer plays payload, G.711 codes of codec c, from the start.
func NewPlayer(payload []byte, c Codec) *Player {
	return &Player{data: payload, silence: c.Silence()}
}

// Next returns the next frame of FrameSamples bytes, the last one padded
// with silence, and false once the announcement is over. The frame is
// valid until the next call and must not be modified. It does not
// allocate.
func (p *Player) Next() ([]byte, bool) {
	rest := p.data[p.off:]
	switch {
	case len(rest) == 0:
		return nil, false
	case len(rest) >= FrameSamples:
		p.off += FrameSamples
		return rest[:FrameSamples:FrameSamples], true
	}
	n := copy(p.last[:], rest)
	for i := n; i < len(p.last); i++ {
		p.last[i] = p.silence
	}
	p.off = len(p.data)
	return p.last[:], true
}

// Done reports whether every frame has been returned.
func (p *Player) Done() bool { return p.off >= len(p.data) }

// Remaining is how much of the announcement is still to be played.
func (p *Player) Remaining() time.Duration {
	return time.Duration(len(p.data)-p.off) * time.Second / SampleRate
}

// Rewind starts the announcement over, for a looped prompt.
func (p *Player) Rewind() { p.off = 0 }
