package sip

import (
	"context"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Bounds of the janitor's tick: a quarter of the media timeout, so a
// silent leg ends between MediaTimeout and 1.25 times it.
const (
	minTick = 10 * time.Millisecond
	maxTick = 5 * time.Second
)

func (b *Backend) janitorTick() time.Duration {
	tick := b.cfg.mediaTimeout() / 4
	if tick <= 0 {
		return maxTick
	}
	return min(max(tick, minTick), maxTick)
}

// janitor is the backend's one ticker: it ends the sessions whose far end
// went silent and forgets the INVITEs whose answers can no longer come.
func (b *Backend) janitor(stop <-chan struct{}) {
	t := time.NewTicker(b.janitorTick())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			b.checkMedia(now)
			b.strays.sweep(now)
		}
	}
}

// checkMedia hangs up (cause engine.ErrMediaTimeout) every session whose
// far end sent no RTP for the media timeout: counted from the later of
// its last packet and its answer (or the end of a hold).
func (b *Backend) checkMedia(now time.Time) {
	timeout := b.cfg.mediaTimeout()
	if timeout <= 0 {
		return
	}
	b.mu.Lock()
	silent := make([]*Session, 0, 4)
	for _, s := range b.sessions {
		if s.silentSince(now) > timeout {
			silent = append(silent, s)
		}
	}
	b.mu.Unlock()
	for _, s := range silent {
		if !s.timedOut.CompareAndSwap(false, true) {
			continue
		}
		s.log.Warn("no RTP received; hanging up", "media_timeout", timeout.String(),
			"last_rtp", s.stream.LastReceived(), "packets_in", s.stream.Stats().PacketsReceived)
		go s.Hangup(context.Background(), engine.ErrMediaTimeout)
	}
}

// silentSince is how long the far end has sent no RTP, 0 while it says it
// sends none (held) or the session is ending.
func (s *Session) silentSince(now time.Time) time.Duration {
	if s.ended.Load() || s.held.Load() {
		return 0
	}
	last := s.since.Load()
	if rx := s.stream.LastReceived(); !rx.IsZero() && rx.UnixNano() > last {
		last = rx.UnixNano()
	}
	return now.Sub(time.Unix(0, last))
}

// setDirection records whether the far end's SDP says it sends audio; a
// resumed far end gets a whole media timeout from now.
func (s *Session) setDirection(sdpBody []byte, now time.Time) {
	sends := farEndSends(sdpBody)
	if was := s.held.Swap(!sends); was && sends {
		s.since.Store(now.UnixNano())
	}
}
