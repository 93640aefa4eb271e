package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The media a call asks for, carried out through the backend's optional
// interfaces (media.go). A feature the backend cannot carry out never
// fails the call: the call goes on, and Call.MediaErrors says what was
// missing.
//
//   - ringTone: from the moment from answers until to answers, from hears
//     the announcement in a loop instead of the to side's early media.
//   - Hold music: while from waits in a group's line for a free member on
//     the to side, it hears Options.HoldMusic instead (then the ringTone
//     again, or nothing, once a member rings).
//   - Time-limit alerts: at each mark of talk time, the mark's alertAudio
//     is mixed into what both parties hear; they keep hearing each other.
//   - Recording: record=yes or a group with recording on records the
//     bridge as "<tenant>/<callid>"; the record carries its URL.
//   - DTMF: keys the answered parties press are kept on their leg and
//     announced as events; Engine.SendDTMF sends keys to a leg.

// Errors of SendDTMF.
var (
	// ErrLegNotFound: the call has no leg with that id.
	ErrLegNotFound = errors.New("no such leg")
	// ErrLegNotAnswered: the leg is not an answered party of the call.
	ErrLegNotAnswered = errors.New("leg is not answered")
	// ErrNotSupported: the backend cannot do this on the leg.
	ErrNotSupported = errors.New("not supported by the backend")
	// ErrBadDTMF: the digits are not DTMF keys.
	ErrBadDTMF = errors.New("digits must be 0-9, *, #, A-D")
)

// maxLegDTMF bounds the keys kept on a leg's record.
const maxLegDTMF = 256

// mediaError notes on the record that a media feature was not carried
// out; it is written with the call's next write.
func (r *callRun) mediaError(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.Warn("media", "error", msg)
	r.mu.Lock()
	if len(r.call.MediaErrors) < 20 && !slices.Contains(r.call.MediaErrors, msg) {
		r.call.MediaErrors = append(r.call.MediaErrors, msg)
		r.queueLocked(nil, Event{})
	}
	r.mu.Unlock()
}

// partyAudio is what the answered from party hears while the engine works
// on the to side: the ringTone, hold music while it waits in a line, or
// (nothing set) the to side's early media.
type partyAudio struct {
	r      *callRun
	player Player
	ring   Announcement // ID "" when the request has no ringTone

	mu     sync.Mutex
	kind   string // what plays now: "", "ringtone" or "hold music"
	cancel context.CancelFunc
	done   chan struct{}
}

// newPartyAudio returns the audio of the from party s, or nil when its
// backend cannot play (then a requested ringTone is noted as missing).
func (r *callRun) newPartyAudio(s Session) *partyAudio {
	req := r.call.Request
	p, ok := s.(Player)
	if !ok {
		if req.RingTone != "" {
			r.mediaError("ringTone %s: the backend cannot play to this leg", req.RingTone)
		}
		return nil
	}
	pa := &partyAudio{r: r, player: p}
	if req.RingTone != "" {
		pa.ring = Announcement{Tenant: r.call.Tenant, ID: req.RingTone}
	}
	return pa
}

// ringing plays the ringTone, if any (and stops hold music).
func (p *partyAudio) ringing() {
	if p == nil {
		return
	}
	p.play("ringtone", p.ring)
}

// holding plays hold music while the party waits in a line.
func (p *partyAudio) holding() {
	if p == nil || p.r.e.opt.HoldMusic == "" {
		return
	}
	p.play("hold music", Announcement{Tenant: p.r.call.Tenant, ID: p.r.e.opt.HoldMusic})
}

// play switches to a looping announcement (none when a.ID is empty).
func (p *partyAudio) play(kind string, a Announcement) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.ID == "" {
		kind = ""
	}
	if kind == p.kind {
		return
	}
	p.stopLocked()
	p.kind = kind
	if kind == "" {
		return
	}
	ctx, cancel := context.WithCancel(p.r.ctx)
	done := make(chan struct{})
	p.cancel, p.done = cancel, done
	go func() {
		defer close(done)
		err := p.player.Play(ctx, a, PlayOptions{Loop: true})
		if err != nil && ctx.Err() == nil {
			p.r.mediaError("%s %s: %v", kind, a.ID, err)
		}
	}()
}

// stop ends whatever plays and waits until it has stopped, so what the
// party hears next (the bridge) follows on a quiet stream.
func (p *partyAudio) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
	p.kind = ""
}

func (p *partyAudio) stopLocked() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel, p.done = nil, nil
	}
}

// alertSchedule is the time-limit alerts of a call: marks in seconds of
// talk time, ascending, each with its announcement.
type alertSchedule struct {
	marks []int
	audio []string
	next  int
}

func newAlertSchedule(req CallRequest) *alertSchedule {
	if len(req.TimeLimitAlert) == 0 || len(req.AlertAudio) == 0 {
		return &alertSchedule{}
	}
	a := &alertSchedule{}
	for i, m := range req.TimeLimitAlert {
		id := req.AlertAudio[0]
		if len(req.AlertAudio) == len(req.TimeLimitAlert) {
			id = req.AlertAudio[i]
		}
		a.marks = append(a.marks, m)
		a.audio = append(a.audio, id)
	}
	// Marks may come in any order; each keeps its own audio.
	idx := make([]int, len(a.marks))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return a.marks[x] - a.marks[y] })
	marks, audio := make([]int, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		marks[i], audio[i] = a.marks[j], a.audio[j]
	}
	a.marks, a.audio = marks, audio
	return a
}

// timer returns a timer for the next mark counted from bridged, or nil
// when no mark is left.
func (a *alertSchedule) timer(bridged time.Time) *time.Timer {
	if a.next >= len(a.marks) {
		return nil
	}
	return time.NewTimer(time.Until(bridged.Add(time.Duration(a.marks[a.next]) * time.Second)))
}

// skip moves past the marks already played and those whose time passed
// (elapsed talk time): a call adopted by another node plays neither
// again nor late.
func (a *alertSchedule) skip(played []int, elapsed time.Duration) {
	for a.next < len(a.marks) && (slices.Contains(played, a.marks[a.next]) || time.Duration(a.marks[a.next])*time.Second <= elapsed) {
		a.next++
	}
}

// take returns the mark due and its announcement, and moves on.
func (a *alertSchedule) take() (int, string) {
	m, id := a.marks[a.next], a.audio[a.next]
	a.next++
	return m, id
}

// playAlert mixes the mark's announcement into what both parties hear.
// The plays run on their own; they end with the announcement, or with the
// call.
func (r *callRun) playAlert(mark int, id string, parties ...Session) {
	a := Announcement{Tenant: r.call.Tenant, ID: id}
	played := false
	for _, s := range parties {
		p, ok := s.(Player)
		if !ok {
			r.mediaError("alert at %d s: the backend cannot play to this leg", mark)
			continue
		}
		played = true
		r.pending.Add(1)
		go func() {
			defer r.pending.Done()
			if err := p.Play(r.ctx, a, PlayOptions{Mix: true}); err != nil && r.ctx.Err() == nil && s.Context().Err() == nil {
				r.mediaError("alert %s at %d s: %v", id, mark, err)
			}
		}()
	}
	if played {
		r.setCall(EventAlertPlayed, func(c *Call) { c.AlertsPlayed = append(c.AlertsPlayed, mark) })
	}
}

// wantsRecording reports whether the call is to be recorded: record=yes,
// or an answered leg came through a group with recording on.
func (r *callRun) wantsRecording() bool {
	return r.call.Request.Record || r.groupRecords.Load()
}

// startRecording records the bridge when the call wants it, and returns
// the recording's URL ("" when not recording).
func (r *callRun) startRecording(b Bridge) string {
	if !r.wantsRecording() {
		return ""
	}
	rb, ok := b.(RecordingBridge)
	if !ok {
		r.mediaError("recording: the backend cannot record this bridge")
		return ""
	}
	if err := rb.StartRecording(RecordingName(r.call.Tenant, r.call.ID)); err != nil {
		r.mediaError("recording: %v", err)
		return ""
	}
	return "/v1/calls/" + r.call.ID + "/recording"
}

// RecordingName is the name a call's recording is kept under.
func RecordingName(tenant, callID string) string { return tenant + "/" + callID }

// answered keeps the session of an answered leg, for SendDTMF, and
// listens to the keys its party presses.
func (r *callRun) answered(leg *Leg, s Session) {
	r.mu.Lock()
	r.sessions[leg.ID] = s
	r.mu.Unlock()
	if d, ok := s.(DTMFSession); ok {
		d.OnDTMF(func(digit rune) { r.dtmfReceived(leg, digit) })
	}
}

// dtmfReceived keeps a key on the leg's record and announces it (after
// the write that carries it, like any leg progress).
func (r *callRun) dtmfReceived(leg *Leg, digit rune) {
	r.mu.Lock()
	if r.final {
		r.mu.Unlock()
		return
	}
	if len(leg.DTMF) < maxLegDTMF {
		leg.DTMF += string(digit)
	}
	ev := r.legEvent(EventLegDTMF, leg, r.e.opt.Now().UTC())
	ev.Digit = string(digit)
	r.queueLocked(leg, ev)
	writeNow := r.scheduleLocked()
	r.mu.Unlock()
	if writeNow {
		// Called on the backend's media goroutine: never make it wait for
		// the store.
		go r.flush()
	}
}

// SendDTMF sends digits to an answered leg of a tenant's call that this
// node runs, and returns once they are sent.
func (e *Engine) SendDTMF(ctx context.Context, tenant, callID, legID, digits string) error {
	if !ValidDTMF(digits) {
		return ErrBadDTMF
	}
	run, err := e.liveRun(ctx, tenant, callID)
	if err != nil {
		return err
	}
	run.mu.Lock()
	s := run.sessions[legID]
	var leg *Leg
	for _, l := range run.call.Legs {
		if l.ID == legID {
			leg = l
		}
	}
	run.mu.Unlock()
	switch {
	case leg == nil:
		return ErrLegNotFound
	case s == nil || s.Context().Err() != nil:
		return ErrLegNotAnswered
	}
	d, ok := s.(DTMFSession)
	if !ok {
		return ErrNotSupported
	}
	if err := d.SendDTMF(ctx, digits); err != nil {
		return fmt.Errorf("send dtmf: %w", err)
	}
	run.mu.Lock()
	ev := run.legEvent(EventDTMFSent, leg, e.opt.Now().UTC())
	ev.Digit = digits
	run.queueLocked(nil, ev)
	writeNow := run.scheduleLocked()
	run.mu.Unlock()
	if writeNow {
		run.flush()
	}
	return nil
}

// liveRun finds a tenant's call running on this node: ErrNotFound for no
// such call (or another tenant's), ErrCallEnded, or ErrNotOwner when
// another node runs it.
func (e *Engine) liveRun(ctx context.Context, tenant, id string) (*callRun, error) {
	e.mu.Lock()
	run := e.live[id]
	e.mu.Unlock()
	if run != nil && run.call.Tenant == tenant {
		run.mu.Lock()
		ended := run.final
		run.mu.Unlock()
		if ended {
			return nil, ErrCallEnded
		}
		return run, nil
	}
	c, err := e.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !c.Live() {
		return nil, ErrCallEnded
	}
	return nil, ErrNotOwner
}
