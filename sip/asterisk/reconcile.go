package asterisk

import (
	"context"
	"errors"
	"net/http"
)

// reconcile runs after the event WebSocket came back: events sent while
// it was down are lost, so the backend asks Asterisk what still exists.
//
//   - Every channel it holds (dialing, offered, answered, snoop) that
//     Asterisk no longer lists has ended unheard: its session ends with
//     ErrChannelGone, a dial fails with it (never re-dialed), an offered
//     inbound call's Context ends with it. Stats.ReconciledEnds counts
//     them.
//   - A dialing channel found Up answered meanwhile (its StasisStart was
//     lost): it is answered now; one found Ringing reports ringing.
//   - Channels still up keep going: their events resume on the new
//     connection, and the engine's timers (which live in the engine)
//     never stopped.
//   - A playback no longer listed finished unheard: its Play returns.
//   - A bridge no longer listed is marked destroyed (Close sends nothing).
//   - Orphans (channels we could not hang up) still listed are hung up.
//
// Only channels known to exist before the listing was asked for are
// judged, so a dial whose originate is still in flight is not taken for
// gone. A channel that ends while the reconcile runs may be ended with
// ErrChannelGone rather than by its own events, which can arrive after
// the listing.
func (b *Backend) reconcile(ctx context.Context) {
	b.mu.Lock()
	var legs []*Session
	for _, s := range b.legs {
		if s.created.Load() {
			legs = append(legs, s)
		}
	}
	var bridges []*Bridge
	for _, br := range b.bridges {
		bridges = append(bridges, br)
	}
	plays := make(map[string]*mailbox, len(b.plays))
	for id, mb := range b.plays {
		plays[id] = mb
	}
	var orphans []string
	for id := range b.orphans {
		orphans = append(orphans, id)
	}
	b.mu.Unlock()

	chans, err := b.c.channels(ctx)
	if err != nil {
		b.log.Warn("reconcile: listing channels failed; channels that ended meanwhile are ended at the next reconnect", "error", err)
		return
	}
	present := make(map[string]string, len(chans))
	for _, c := range chans {
		present[c.ID] = c.State
	}
	gone := 0
	for _, s := range legs {
		state, ok := present[s.id]
		if !ok {
			gone++
		}
		s.mb.put(reconciled{present: ok, state: state})
	}
	for _, id := range orphans {
		if _, ok := present[id]; ok {
			b.killOrphan(id)
			continue
		}
		b.mu.Lock()
		delete(b.orphans, id)
		b.mu.Unlock()
	}

	if len(bridges) > 0 {
		if list, err := b.c.bridges(ctx); err != nil {
			b.log.Warn("reconcile: listing bridges failed", "error", err)
		} else {
			have := make(map[string]bool, len(list))
			for _, br := range list {
				have[br.ID] = true
			}
			for _, br := range bridges {
				if !have[br.id] {
					br.destroyed.Store(true)
					br.Close()
				}
			}
		}
	}

	for id, mb := range plays {
		err := b.c.do(ctx, http.MethodGet, esc("playbacks", id), nil, nil, nil)
		if errors.Is(err, ErrNotFound) {
			mb.put(playbackGone{})
		}
	}
	b.stats.reconciles.Add(1)
	b.log.Info("reconciled", "channels_held", len(legs), "channels_gone", gone, "bridges_held", len(bridges), "playbacks", len(plays))
}
