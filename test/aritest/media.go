package aritest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type playback struct {
	id       string
	medias   []string
	idx      int
	lang     string
	target   string // "channel:ID" or "bridge:ID"
	state    string // queued, playing, continuing, done, failed
	seq      int    // queue order on its target
	canceled bool
	timer    *time.Timer
}

func (p *playback) json() map[string]any {
	m := map[string]any{
		"id":         p.id,
		"media_uri":  p.medias[p.idx],
		"target_uri": p.target,
		"language":   p.lang,
		"state":      p.state,
	}
	if p.idx+1 < len(p.medias) {
		m["next_media_uri"] = p.medias[p.idx+1]
	}
	return m
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// mediaExists says whether Asterisk would find the media to play.
func (s *Server) mediaExists(uri string) bool {
	if s.opts.MediaExists != nil {
		return s.opts.MediaExists(uri)
	}
	scheme, rest, _ := strings.Cut(uri, ":")
	switch scheme {
	case "sound":
		base := rest[strings.LastIndex(rest, "/")+1:]
		return rest != "" && !strings.HasPrefix(base, "missing") && !strings.HasPrefix(base, "nonexistent")
	case "recording":
		_, ok := s.stored[rest]
		return ok
	case "number":
		_, err := strconv.Atoi(rest)
		return err == nil
	case "digits", "characters", "tone":
		return rest != ""
	}
	return false
}

// playChannel is POST /channels/{id}/play[/{playbackId}].
func (s *Server) playChannel(c *call, id, pid string) {
	ch := s.control(c, id)
	if ch == nil || stateInvalid(c, ch) {
		return
	}
	p := s.newPlayback(c, "channel:"+ch.id, pid, ch.language)
	if p == nil {
		return
	}
	ch.played = append(ch.played, p.medias...)
	s.queuePlayback(p)
}

// playBridge is POST /bridges/{id}/play[/{playbackId}].
func (s *Server) playBridge(c *call, b *bridge, pid string) {
	p := s.newPlayback(c, "bridge:"+b.id, pid, "en")
	if p == nil {
		return
	}
	b.played = append(b.played, p.medias...)
	s.queuePlayback(p)
}

func (s *Server) newPlayback(c *call, target, pid, lang string) *playback {
	for _, name := range []string{"skipms", "offsetms"} {
		if n, err := strconv.Atoi(c.param(name)); err == nil && n < 0 {
			writeError(c.w, http.StatusBadRequest, name+" cannot be negative")
			return nil
		}
	}
	medias := c.params("media")
	if len(medias) == 0 {
		writeError(c.w, http.StatusBadRequest, "media is required")
		return nil
	}
	if pid == "" {
		pid = newUUID()
	} else if _, exists := s.playbacks[pid]; exists {
		writeError(c.w, http.StatusInternalServerError, "Failed to queue media for playback")
		return nil
	}
	if l := c.param("lang"); l != "" {
		lang = l
	}
	s.pbseq++
	p := &playback{id: pid, medias: medias, lang: lang, target: target, state: "queued", seq: s.pbseq}
	s.playbacks[pid] = p
	created(c.w, "/playbacks/"+pid, p.json())
	return p
}

// playbackApps are the applications that hear about a playback.
func (s *Server) playbackApps(p *playback) []string {
	kind, id, _ := strings.Cut(p.target, ":")
	if kind == "channel" {
		if ch := s.channels[id]; ch != nil {
			return s.chanApps(ch)
		}
		return nil
	}
	if b := s.bridges[id]; b != nil {
		return s.bridgeApps(b, nil)
	}
	return nil
}

func (s *Server) targetPlaybacks(target string) []*playback {
	var out []*playback
	for _, p := range s.playbacks {
		if p.target == target {
			out = append(out, p)
		}
	}
	return out
}

// queuePlayback starts p when nothing else plays on its target; playbacks
// on one target run one after another, as Stasis' command queue runs them.
func (s *Server) queuePlayback(p *playback) {
	for _, o := range s.targetPlaybacks(p.target) {
		if o != p {
			return // busy: started when those before it end
		}
	}
	s.after(0, func() { s.runPlayback(p) })
}

// runPlayback plays media p.idx: PlaybackStarted, then after the play time
// PlaybackContinuing (more media) or PlaybackFinished.
func (s *Server) runPlayback(p *playback) {
	if _, live := s.playbacks[p.id]; !live {
		return
	}
	apps := s.playbackApps(p)
	if p.canceled {
		p.state = "done"
		s.emit(apps, "PlaybackFinished", map[string]any{"playback": p.json()})
		s.endPlayback(p)
		return
	}
	p.state = "playing"
	s.emit(apps, "PlaybackStarted", map[string]any{"playback": p.json()})
	uri := p.medias[p.idx]
	scheme, _, _ := strings.Cut(uri, ":")
	if !s.mediaExists(uri) && scheme != "sound" {
		// Asterisk skips an unsupported scheme, an unknown recording or a
		// bad number without a final update: no PlaybackFinished for it.
		s.nextMedia(p)
		return
	}
	ok := s.mediaExists(uri)
	d := s.opts.PlaybackDuration
	if !ok {
		d = 0
	}
	p.timer = s.after(d, func() {
		p.timer = nil
		s.finishMedia(p, ok)
	})
}

// finishMedia is playback_final_update for the current media.
func (s *Server) finishMedia(p *playback, ok bool) {
	last := p.idx == len(p.medias)-1
	switch {
	case last && ok:
		p.state = "done"
	case last:
		p.state = "failed"
	default:
		p.state = "continuing"
	}
	apps := s.playbackApps(p)
	if p.state == "continuing" {
		s.emit(apps, "PlaybackContinuing", map[string]any{"playback": p.json()})
	} else {
		s.emit(apps, "PlaybackFinished", map[string]any{"playback": p.json()})
	}
	s.nextMedia(p)
}

func (s *Server) nextMedia(p *playback) {
	if p.idx+1 < len(p.medias) && p.state != "done" {
		p.idx++
		s.runPlayback(p)
		return
	}
	s.endPlayback(p)
}

// endPlayback forgets p and starts the next playback queued on its target.
func (s *Server) endPlayback(p *playback) {
	delete(s.playbacks, p.id)
	var next *playback
	for _, o := range s.targetPlaybacks(p.target) {
		if o.state == "queued" && (next == nil || o.seq < next.seq) {
			next = o
		}
	}
	if next != nil {
		s.after(0, func() { s.runPlayback(next) })
	}
}

// stopPlayback is DELETE /playbacks/{id}.
func (s *Server) stopPlayback(p *playback) {
	if p.state == "queued" {
		p.canceled = true
		return
	}
	if p.timer != nil {
		s.cancel(p.timer)
		p.timer = nil
	}
	p.state = "done"
	s.emit(s.playbackApps(p), "PlaybackFinished", map[string]any{"playback": p.json()})
	s.endPlayback(p)
}

// stopChannelMedia ends what plays or records on a channel that hangs up.
func (s *Server) stopChannelMedia(ch *channel) {
	target := "channel:" + ch.id
	for _, p := range s.targetPlaybacks(target) {
		if p.state == "queued" {
			delete(s.playbacks, p.id)
			continue
		}
		if p.timer != nil {
			s.cancel(p.timer)
			p.timer = nil
		}
		// The stream is cut by the hang-up: Asterisk reports "failed".
		p.state = "failed"
		s.emit(s.playbackApps(p), "PlaybackFinished", map[string]any{"playback": p.json()})
		delete(s.playbacks, p.id)
	}
	if name := s.liveRecordingOf(target); name != "" {
		s.finishRecording(s.live[name], "done")
	}
}

func (s *Server) stopBridgeMedia(b *bridge) {
	target := "bridge:" + b.id
	for _, p := range s.targetPlaybacks(target) {
		if p.timer != nil {
			s.cancel(p.timer)
			p.timer = nil
		}
		// Asterisk sends no PlaybackFinished for a bridge playback cut by
		// the bridge's destruction.
		delete(s.playbacks, p.id)
	}
	if name := s.liveRecordingOf(target); name != "" {
		s.finishRecording(s.live[name], "done")
	}
}

func (s *Server) routePlaybacks(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(c.seg) == 3 && c.seg[2] == "control" && c.r.Method == http.MethodPost {
		p := s.playbacks[c.seg[1]]
		if p == nil {
			writeError(c.w, http.StatusNotFound, "Playback not found")
			return
		}
		switch op := c.param("operation"); op {
		case "":
			writeError(c.w, http.StatusBadRequest, "Missing operation")
		case "restart", "pause", "unpause", "reverse", "forward":
			if p.state != "playing" {
				writeError(c.w, http.StatusConflict, "Can only "+op+" while media is playing")
				return
			}
			noContent(c.w)
			if op == "restart" {
				// The media starts again: PlaybackStarted once more.
				s.emit(s.playbackApps(p), "PlaybackStarted", map[string]any{"playback": p.json()})
			}
		default:
			writeError(c.w, http.StatusBadRequest, "Invalid operation "+c.param("operation"))
		}
		return
	}
	if len(c.seg) != 2 {
		writeError(c.w, http.StatusNotFound, "Resource not found")
		return
	}
	p := s.playbacks[c.seg[1]]
	switch c.r.Method {
	case http.MethodGet:
		if p == nil {
			writeError(c.w, http.StatusNotFound, "Playback not found")
			return
		}
		writeJSON(c.w, http.StatusOK, p.json())
	case http.MethodDelete:
		if p == nil {
			writeError(c.w, http.StatusNotFound, "Playback not found")
			return
		}
		noContent(c.w)
		s.stopPlayback(p)
	default:
		methodNotAllowed(c)
	}
}
