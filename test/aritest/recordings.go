package aritest

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type liveRecording struct {
	name, format, target string
	state                string // queued, recording, done, failed, canceled
	started              time.Time
	maxTimer             *time.Timer
}

type storedRecording struct {
	name, format string
	duration     time.Duration
}

func (r *liveRecording) json(withDuration bool) map[string]any {
	m := map[string]any{"name": r.name, "format": r.format, "state": r.state, "target_uri": r.target}
	if withDuration {
		m["duration"] = int(time.Since(r.started) / time.Second)
	}
	return m
}

// recordingFormats are the formats Asterisk knows by default.
var recordingFormats = map[string]bool{
	"wav": true, "WAV": true, "wav49": true, "gsm": true, "ulaw": true, "alaw": true, "sln": true,
	"g722": true, "g729": true, "ogg": true, "wav16": true, "sln16": true, "g726": true, "h264": true,
}

func (s *Server) liveRecordingOf(target string) string {
	for name, r := range s.live {
		if r.target == target {
			return name
		}
	}
	return ""
}

// recordChannel is POST /channels/{id}/record.
func (s *Server) recordChannel(c *call, id string) {
	for _, n := range []string{"maxDurationSeconds", "maxSilenceSeconds"} {
		if v, err := strconv.Atoi(c.param(n)); err == nil && v < 0 {
			writeError(c.w, http.StatusBadRequest, map[string]string{
				"maxDurationSeconds": "max_duration_seconds cannot be negative",
				"maxSilenceSeconds":  "max_silence_seconds cannot be negative",
			}[n])
			return
		}
	}
	ch := s.control(c, id)
	if ch == nil {
		return
	}
	s.record(c, "channel:"+ch.id)
}

// record starts a live recording of a channel or bridge target.
func (s *Server) record(c *call, target string) {
	name, format := c.param("name"), c.param("format")
	switch c.param("terminateOn") {
	case "", "none", "any", "*", "#":
	default:
		writeError(c.w, http.StatusBadRequest, "terminateOn invalid")
		return
	}
	ifExists := c.param("ifExists")
	switch ifExists {
	case "", "fail", "overwrite", "append":
	default:
		writeError(c.w, http.StatusBadRequest, "ifExists invalid")
		return
	}
	if !recordingFormats[format] {
		writeError(c.w, http.StatusUnprocessableEntity, "specified format is unknown on this system")
		return
	}
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		writeError(c.w, http.StatusBadRequest, "Recording name invalid")
		return
	}
	_, stored := s.stored[name]
	if _, live := s.live[name]; live || (stored && (ifExists == "" || ifExists == "fail")) {
		writeError(c.w, http.StatusConflict, "Recording '"+name+"' already exists and can not be overwritten")
		return
	}
	r := &liveRecording{name: name, format: format, target: target, state: "queued"}
	s.live[name] = r
	if b := s.liveBridge(strings.TrimPrefix(target, "bridge:")); b != nil && strings.HasPrefix(target, "bridge:") {
		b.recording = name
	}
	created(c.w, "/recordings/live/"+url.PathEscape(name), r.json(false))
	s.after(0, func() {
		if r.state != "queued" {
			return
		}
		r.state, r.started = "recording", time.Now()
		s.emit(s.recordingApps(r), "RecordingStarted", map[string]any{"recording": r.json(false)})
		if n, err := strconv.Atoi(c.param("maxDurationSeconds")); err == nil && n > 0 {
			r.maxTimer = s.after(time.Duration(n)*time.Second, func() {
				if r.state == "recording" {
					s.finishRecording(r, "done")
				}
			})
		}
	})
}

func (s *Server) recordingApps(r *liveRecording) []string {
	kind, id, _ := strings.Cut(r.target, ":")
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

// finishRecording ends a live recording: "done" stores it, "canceled"
// discards it.
func (s *Server) finishRecording(r *liveRecording, state string) {
	if r == nil || s.live[r.name] != r {
		return
	}
	s.cancel(r.maxTimer)
	delete(s.live, r.name)
	if kind, id, _ := strings.Cut(r.target, ":"); kind == "bridge" {
		if b := s.bridges[id]; b != nil && b.recording == r.name {
			b.recording = ""
		}
	}
	wasRecording := r.state == "recording"
	r.state = state
	if state == "done" {
		d := time.Duration(0)
		if wasRecording {
			d = time.Since(r.started)
		}
		s.stored[r.name] = &storedRecording{name: r.name, format: r.format, duration: d}
	} else {
		delete(s.stored, r.name)
	}
	if wasRecording {
		s.emit(s.recordingApps(r), "RecordingFinished", map[string]any{"recording": r.json(true)})
	}
}

func (s *Server) routeRecordings(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg, m := c.seg, c.r.Method
	if len(seg) < 2 {
		writeError(c.w, http.StatusNotFound, "Resource not found")
		return
	}
	switch seg[1] {
	case "live":
		if len(seg) < 3 {
			writeError(c.w, http.StatusNotFound, "Resource not found")
			return
		}
		r := s.live[seg[2]]
		if r == nil {
			writeError(c.w, http.StatusNotFound, "Recording not found")
			return
		}
		switch {
		case len(seg) == 3 && m == http.MethodGet:
			writeJSON(c.w, http.StatusOK, r.json(false))
		case len(seg) == 3 && m == http.MethodDelete:
			noContent(c.w)
			s.finishRecording(r, "canceled")
		case len(seg) == 4 && seg[3] == "stop" && m == http.MethodPost:
			noContent(c.w)
			s.finishRecording(r, "done")
		case len(seg) == 4 && (seg[3] == "pause" || seg[3] == "mute"):
			noContent(c.w)
		default:
			writeError(c.w, http.StatusNotFound, "Resource not found")
		}
	case "stored":
		if len(seg) == 2 && m == http.MethodGet {
			out := []map[string]any{}
			for _, r := range s.stored {
				out = append(out, map[string]any{"name": r.name, "format": r.format})
			}
			writeJSON(c.w, http.StatusOK, out)
			return
		}
		if len(seg) < 3 {
			methodNotAllowed(c)
			return
		}
		r := s.stored[seg[2]]
		if r == nil {
			writeError(c.w, http.StatusNotFound, "Recording not found")
			return
		}
		switch {
		case len(seg) == 3 && m == http.MethodGet:
			writeJSON(c.w, http.StatusOK, map[string]any{"name": r.name, "format": r.format})
		case len(seg) == 3 && m == http.MethodDelete:
			delete(s.stored, r.name)
			noContent(c.w)
		case len(seg) == 4 && seg[3] == "file" && m == http.MethodGet:
			c.w.Header().Set("Content-Type", "audio/wav")
			c.w.WriteHeader(http.StatusOK)
			_, _ = c.w.Write(wavFile(r.duration))
		default:
			writeError(c.w, http.StatusNotFound, "Resource not found")
		}
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

// wavFile is a valid 8 kHz 16-bit mono WAV of silence, at least 100 ms long
// and at most 10 s.
func wavFile(d time.Duration) []byte {
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	if d > 10*time.Second {
		d = 10 * time.Second
	}
	samples := int(d / (time.Second / 8000))
	data := samples * 2
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + data))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))    // PCM
	w(uint16(1))    // mono
	w(uint32(8000)) // sample rate
	w(uint32(16000))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(data))
	b.Write(make([]byte, data))
	return b.Bytes()
}
