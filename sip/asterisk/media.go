package asterisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
)

// ErrPlayPreempted is returned by Play when a later Play on the same
// session took over before it finished.
var ErrPlayPreempted = errors.New("asterisk: play: preempted by a later play")

// playing is the Play under way on a session.
type playing struct{ cancel context.CancelCauseFunc }

// playbackGone tells a Play waiting for its playback that a reconcile
// found it no longer exists.
type playbackGone struct{}

// mediaURI is the media URI of an announcement: Config.Media's, or
// "sound:" + the id without its extension. An id that could climb out of
// the sounds directory is unknown.
func (b *Backend) mediaURI(a engine.Announcement) (string, bool) {
	if b.cfg.Media != nil {
		return b.cfg.Media(a)
	}
	id := a.ID
	if i := strings.LastIndexByte(id, '.'); i > 0 {
		id = id[:i]
	}
	if !validToken(id) || strings.HasPrefix(id, ".") {
		return "", false
	}
	return "sound:" + id, true
}

// Play plays a to the session's party (engine.Player) with a channel
// playback (POST /channels/{id}/play/{playbackId}) and waits for its
// PlaybackFinished. Without Mix the party hears only the announcement
// meanwhile (Asterisk takes the channel's audio from the bridge for the
// playback). With Mix a snoop channel whispering into what the party
// hears is created and the announcement is played on it, so the party
// keeps hearing the other party (see the package doc). Loop plays it
// again until ctx ends. Play returns nil once played; the cause of ctx
// when ctx ends first (the playback is stopped); an error wrapping the
// session's cause when it ends; ErrPlayPreempted when a later Play took
// over; an error wrapping engine.ErrUnknownAnnouncement at once for an
// announcement Config.Media does not know, or when Asterisk reports the
// playback failed (its media was not found).
func (s *Session) Play(ctx context.Context, a engine.Announcement, opt engine.PlayOptions) error {
	uri, ok := s.b.mediaURI(a)
	if !ok {
		return fmt.Errorf("asterisk: play %q: %w", a.ID, engine.ErrUnknownAnnouncement)
	}
	if s.ctx.Err() != nil {
		return fmt.Errorf("asterisk: play %q: leg ended: %w", a.ID, context.Cause(s.ctx))
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	me := &playing{cancel: cancel}
	s.playMu.Lock()
	if s.play != nil {
		s.play.cancel(ErrPlayPreempted)
	}
	s.play = me
	s.playMu.Unlock()
	defer func() {
		s.playMu.Lock()
		if s.play == me {
			s.play = nil
		}
		s.playMu.Unlock()
	}()

	target := s
	if opt.Mix {
		sn, err := s.b.snoop(pctx, s)
		if err != nil {
			return err
		}
		defer sn.Hangup(context.Background(), errSnoopDone)
		target = sn
	}
	s.log.Debug("playing", "announcement", a.ID, "media", uri, "loop", opt.Loop, "mix", opt.Mix)
	for {
		if err := s.b.playOnce(pctx, s, target.id, uri); err != nil {
			return err
		}
		if !opt.Loop {
			return nil
		}
	}
}

var errSnoopDone = errors.New("asterisk: mixed announcement done")

// playOnce plays uri once on channel target, for session s.
func (b *Backend) playOnce(ctx context.Context, s *Session, target, uri string) error {
	id := newID()
	mb := newMailbox()
	b.mu.Lock()
	b.plays[id] = mb
	b.mu.Unlock()
	b.router.add(rkey(ari.PlaybackKey, id), mb)
	defer func() {
		b.router.remove(rkey(ari.PlaybackKey, id), mb)
		b.mu.Lock()
		delete(b.plays, id)
		b.mu.Unlock()
	}()
	err := b.c.do(ctx, http.MethodPost, esc("channels", target, "play", id), url.Values{"media": {uri}}, nil, nil)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode >= 500 {
			// The request may have started the playback although its
			// answer was lost (or our context ended first): stop it.
			b.stopPlayback(id)
		}
		if s.ctx.Err() != nil {
			return fmt.Errorf("asterisk: play: leg ended: %w", context.Cause(s.ctx))
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("asterisk: play %s: %w", uri, err)
	}
	for {
		select {
		case <-mb.wake:
			for _, it := range mb.take() {
				switch e := it.(type) {
				case *ari.PlaybackFinished:
					if e.Playback.State == "failed" {
						return fmt.Errorf("asterisk: play %s: Asterisk could not play it: %w", uri, engine.ErrUnknownAnnouncement)
					}
					return nil
				case playbackGone:
					return nil
				}
			}
		case <-ctx.Done():
			b.stopPlayback(id)
			return context.Cause(ctx)
		case <-s.ctx.Done():
			return fmt.Errorf("asterisk: play: leg ended: %w", context.Cause(s.ctx))
		}
	}
}

// stopPlayback stops a playback (DELETE /playbacks/{id}); one already
// finished is fine.
func (b *Backend) stopPlayback(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.requestTimeout())
	defer cancel()
	err := b.c.do(ctx, http.MethodDelete, esc("playbacks", id), nil, nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		b.log.Warn("stopping a playback failed", "playback_id", id, "error", err)
	}
}

// snoop creates a snoop channel on s that whispers into what s's party
// hears (whisper=out, spy=none) and waits for it to enter Stasis.
func (b *Backend) snoop(ctx context.Context, s *Session) (*Session, error) {
	id := newID()
	sn, ok := b.newLeg(id, kindSnoop, s.log.With("snoop_id", id))
	if !ok {
		return nil, ErrClosed
	}
	q := url.Values{"spy": {"none"}, "whisper": {"out"}, "app": {b.cfg.app()}, "appArgs": {snoopArg}, "snoopId": {id}}
	if err := b.c.do(ctx, http.MethodPost, esc("channels", s.id, "snoop"), q, nil, nil); err != nil {
		sn.endLocal(err)
		b.dropChannel(id, "normal")
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("asterisk: play: leg ended: %w", context.Cause(s.ctx))
		}
		return nil, fmt.Errorf("asterisk: play: snoop: %w", err)
	}
	sn.created.Store(true)
	t := time.NewTimer(b.cfg.requestTimeout())
	defer t.Stop()
	var err error
	select {
	case <-sn.answered:
		return sn, nil
	case <-sn.gone:
		err = fmt.Errorf("asterisk: play: snoop channel ended: %w", context.Cause(sn.ctx))
	case <-s.ctx.Done():
		err = fmt.Errorf("asterisk: play: leg ended: %w", context.Cause(s.ctx))
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-t.C:
		err = errors.New("asterisk: play: snoop channel did not enter the application")
	}
	sn.Hangup(context.Background(), err)
	return nil, err
}

// Digits sent by SendDTMF: each lasts dtmfLength, dtmfPause between two
// (as the native backend sends them).
const (
	dtmfLength = 100 * time.Millisecond
	dtmfPause  = 50 * time.Millisecond
)

// OnDTMF sets the function called with each key the party presses
// (engine.DTMFSession), from the ChannelDtmfReceived events Asterisk
// sends once per key press. It is called on the channel's event
// goroutine; nil stops the reports.
func (s *Session) OnDTMF(f func(digit rune)) {
	if f == nil {
		s.onDTMF.Store(nil)
		return
	}
	s.onDTMF.Store(&f)
}

// SendDTMF sends digits to the party (POST /channels/{id}/dtmf: 100 ms
// each, 50 ms between) and returns once Asterisk has had the time to send
// them (it queues them and answers at once), or when ctx or the session
// ends. Calls on one session take turns.
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	if !engine.ValidDTMF(digits) {
		return fmt.Errorf("asterisk: send dtmf: %q is not a string of DTMF keys (0-9, *, #, A-D)", digits)
	}
	select {
	case s.dtmfTurn <- struct{}{}:
		defer func() { <-s.dtmfTurn }()
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.ctx.Done():
		return fmt.Errorf("asterisk: send dtmf: leg ended: %w", context.Cause(s.ctx))
	}
	q := url.Values{
		"dtmf":     {digits},
		"duration": {strconv.Itoa(int(dtmfLength / time.Millisecond))},
		"between":  {strconv.Itoa(int(dtmfPause / time.Millisecond))},
	}
	if err := s.b.c.do(ctx, http.MethodPost, esc("channels", s.id, "dtmf"), q, nil, nil); err != nil {
		if s.ctx.Err() != nil {
			return fmt.Errorf("asterisk: send dtmf: leg ended: %w", context.Cause(s.ctx))
		}
		return fmt.Errorf("asterisk: send dtmf: %w", err)
	}
	n := time.Duration(len(digits))
	t := time.NewTimer(n*dtmfLength + (n-1)*dtmfPause)
	defer t.Stop()
	select {
	case <-t.C:
		s.log.Debug("DTMF sent", "digits", digits)
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.ctx.Done():
		return fmt.Errorf("asterisk: send dtmf: leg ended: %w", context.Cause(s.ctx))
	}
}

// Recordings is the recordings Asterisk stored, by the engine's names:
// Open("<tenant>/<callid>.wav") reads the stored recording
// recordingName("<tenant>/<callid>") through
// GET /recordings/stored/{name}/file. Files are streamed; they do not
// seek. Only names ending in "."+Config.RecordingFormat exist.
func (b *Backend) Recordings() fs.FS { return recordingsFS{b: b} }

type recordingsFS struct{ b *Backend }

func (r recordingsFS) Open(name string) (fs.File, error) {
	notExist := &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	ext := "." + r.b.cfg.recordingFormat()
	if !fs.ValidPath(name) || !strings.HasSuffix(name, ext) {
		return nil, notExist
	}
	base := strings.TrimSuffix(name, ext)
	if validRecordingName(base) != nil {
		return nil, notExist
	}
	// The request timeout bounds the wait for the answer's headers; the
	// body is read as the caller reads.
	ctx, cancel := context.WithCancel(r.b.closeCtx)
	timer := time.AfterFunc(r.b.cfg.requestTimeout(), cancel)
	resp, err := r.b.c.send(ctx, http.MethodGet, esc("recordings", "stored", recordingName(base), "file"), nil, nil)
	timer.Stop()
	if err != nil {
		cancel()
		if errors.Is(err, ErrNotFound) {
			return nil, notExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := &recordingFile{name: name, body: resp.Body, cancel: cancel, size: resp.ContentLength}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		f.mod = t
	}
	return f, nil
}

type recordingFile struct {
	name   string
	body   io.ReadCloser
	cancel context.CancelFunc
	size   int64
	mod    time.Time
}

func (f *recordingFile) Read(p []byte) (int, error) { return f.body.Read(p) }

func (f *recordingFile) Close() error {
	err := f.body.Close()
	f.cancel()
	return err
}

func (f *recordingFile) Stat() (fs.FileInfo, error) { return recordingInfo{f}, nil }

type recordingInfo struct{ f *recordingFile }

func (i recordingInfo) Name() string       { return pathBase(i.f.name) }
func (i recordingInfo) Size() int64        { return max(i.f.size, 0) }
func (i recordingInfo) Mode() fs.FileMode  { return 0o444 }
func (i recordingInfo) ModTime() time.Time { return i.f.mod }
func (i recordingInfo) IsDir() bool        { return false }
func (i recordingInfo) Sys() any           { return nil }

func pathBase(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}
