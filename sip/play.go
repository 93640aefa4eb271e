package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

var _ engine.Player = (*Session)(nil)

// Announcements is where the backend finds the audio it plays
// (Config.Announcements).
type Announcements interface {
	// Payload returns the whole announcement id of tenant encoded in c:
	// G.711 codes, one byte per sample at 8 kHz, played from the first
	// byte to the last. The backend only reads the slice, so one may be
	// shared by every leg playing it. An announcement that does not exist
	// is an error wrapping engine.ErrUnknownAnnouncement.
	Payload(tenant, id string, c media.Codec) ([]byte, error)
}

// ErrPlayPreempted is returned by Play when a later Play on the same leg
// took over before it finished.
var ErrPlayPreempted = errors.New("sip: play: preempted by a later play")

// frameInterval is the pacing of played frames: one packet of
// media.FrameSamples every 20 ms.
const frameInterval = media.FrameSamples * time.Second / media.SampleRate

// Play plays announcement a to the leg's party (engine.Player): 20 ms
// packets on the leg's one output stream, paced by a ticker. Without
// opt.Mix the party hears nothing else meanwhile; with it, the other
// party's relayed audio is mixed in (see the package doc). opt.Loop
// repeats it until ctx ends.
//
// Play returns nil once a was played to its end; the cause of ctx when ctx
// ends first (always, with Loop); an error wrapping the leg's cause when
// the leg ends; ErrPlayPreempted when a later Play on the leg took over.
// An announcement Config.Announcements does not have (or no
// Config.Announcements) returns an error wrapping
// engine.ErrUnknownAnnouncement at once.
func (s *Session) Play(ctx context.Context, a engine.Announcement, opt engine.PlayOptions) error {
	src := s.b.cfg.Announcements
	if src == nil {
		return fmt.Errorf("sip: play %q: no announcements configured: %w", a.ID, engine.ErrUnknownAnnouncement)
	}
	o := s.out
	if !o.format.valid {
		return fmt.Errorf("sip: play %q: the leg's codec %s is not G.711", a.ID, s.codec.Name)
	}
	payload, err := src.Payload(a.Tenant, a.ID, o.format.codec)
	if err != nil {
		return fmt.Errorf("sip: play %q: %w", a.ID, err)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("sip: play %q: leg ended: %w", a.ID, context.Cause(s.ctx))
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	p := &playback{
		player:    media.NewPlayer(payload, o.format.codec),
		loop:      opt.Loop,
		mix:       opt.Mix,
		preempted: make(chan struct{}),
	}
	o.start(p)
	defer o.stop(p)
	s.log.Debug("playing", "announcement", a.ID, "loop", opt.Loop, "mix", opt.Mix)
	t := time.NewTicker(frameInterval)
	defer t.Stop()
	for {
		if done, err := o.tick(p); done {
			return err
		}
		select {
		case <-t.C:
		case <-p.preempted:
			return ErrPlayPreempted
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.ctx.Done():
			return fmt.Errorf("sip: play %q: leg ended: %w", a.ID, context.Cause(s.ctx))
		}
	}
}
