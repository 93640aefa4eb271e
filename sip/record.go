package sip

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/media"
)

// Recording: each party's received audio is tapped on its stream's read
// goroutine into a small queue of pooled packets; one goroutine per
// recording takes a 20 ms frame per channel on a ticker and appends it to
// a two-channel WAV. See the package doc.
const (
	// recPackets is how many packets of one party may wait for the
	// recorder (320 ms of 20 ms packets); more are dropped and counted.
	recPackets = 16
	// recMaxPayload is the most audio kept of one packet (120 ms of
	// G.711); the rest of a longer one is dropped.
	recMaxPayload = 6 * media.FrameSamples
	// recLag bounds how much of a party's audio may wait to be written
	// (160 ms): beyond it the oldest is dropped, so a party whose clock
	// runs fast cannot drift away from the other channel.
	recLag = 8 * media.FrameSamples
	// recCatchUp bounds the frames one tick writes after the recorder was
	// held up (1 s); the rest follow on the next ticks.
	recCatchUp = 50
	// recSyncEvery is how often the WAV header is brought up to date, so
	// the file is playable at every moment (all but at most this much).
	recSyncEvery = 500 * time.Millisecond
	// maxRecordingName bounds a recording's name.
	maxRecordingName = 200
)

// Errors of StartRecording.
var (
	ErrNoRecordingDir = errors.New("sip: recording: no recording directory configured")
	ErrRecording      = errors.New("sip: recording: the bridge is already recording")
	ErrBridgeClosed   = errors.New("sip: recording: the bridge is closed")
)

// validRecordingName checks a recording's name: slash-separated segments
// of letters, digits, '.', '_' and '-', none empty or starting with a dot
// (so no "." or ".."), no leading slash, at most maxRecordingName bytes.
func validRecordingName(name string) error {
	bad := func(why string) error { return fmt.Errorf("sip: recording name %q: %s", name, why) }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > maxRecordingName:
		return bad(fmt.Sprintf("longer than %d bytes", maxRecordingName))
	case strings.HasPrefix(name, "/"):
		return bad("absolute")
	case strings.Contains(name, ".."):
		return bad(`contains ".."`)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg[0] == '.' {
			return bad("empty segment or one starting with a dot")
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return bad(fmt.Sprintf("character %q (allowed: letters, digits, . _ - and / between segments)", r))
			}
		}
	}
	return nil
}

// StartRecording records the bridge (engine.RecordingBridge) to
// <Config.RecordingDir>/<name>.wav, creating the directories it needs: a
// two-channel 8 kHz 16-bit PCM WAV, the first session given to Bridge on
// the left, the second on the right, each channel what that party said.
// The file is playable at every moment. A name that is not a safe
// relative path is refused, and so is a file that exists already; one
// bridge records one recording at a time. The recording ends with
// StopRecording, Close, or the end of either leg.
func (br *Bridge) StartRecording(name string) error {
	dir := br.b.cfg.RecordingDir
	if dir == "" {
		return ErrNoRecordingDir
	}
	if err := validRecordingName(name); err != nil {
		return err
	}
	if !br.x.format.valid || !br.y.format.valid {
		return fmt.Errorf("sip: recording: codecs %s and %s are not both G.711", br.x.codec.Name, br.y.codec.Name)
	}
	path := filepath.Join(dir, filepath.FromSlash(name)+".wav")
	br.mu.Lock()
	defer br.mu.Unlock()
	switch {
	case br.closed:
		return ErrBridgeClosed
	case br.rec != nil:
		return ErrRecording
	}
	if !br.b.startRecorder() {
		return ErrClosed
	}
	started := false
	defer func() {
		if !started {
			br.b.recorders.Done()
		}
	}()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("sip: recording: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("sip: recording: %w", err)
	}
	w, err := media.NewWAVWriter(f, 2)
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("sip: recording: %w", err)
	}
	w.SyncEvery(recSyncEvery)
	r := &recorder{
		name:  name,
		path:  path,
		file:  f,
		w:     w,
		log:   br.x.log.With("recording", name),
		start: time.Now(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		chans: [2]*recChannel{newRecChannel(br.x.format.codec), newRecChannel(br.y.format.codec)},
		legs:  [2]*Session{br.x, br.y},
	}
	br.x.rec.Store(r.chans[0])
	br.y.rec.Store(r.chans[1])
	br.rec, br.last = r, r
	started = true
	go func() {
		defer br.b.recorders.Done()
		r.run()
	}()
	r.log.Info("recording", "path", path)
	return nil
}

// startRecorder counts a recording that starts; false once the backend
// is closing (Close waits for the recordings it counted).
func (b *Backend) startRecorder() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.recorders.Add(1)
	return true
}

// StopRecording finishes the recording under way (engine.RecordingBridge):
// what is queued is written and the WAV header gets its final sizes. It
// returns the error that stopped the recording early, if one did (a full
// disk). Idempotent.
func (br *Bridge) StopRecording() error {
	br.mu.Lock()
	r := br.rec
	br.rec = nil
	br.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.close()
}

// Recording is the file of the bridge's latest recording and how much
// audio it holds so far (final once it stopped); "" and 0 when the bridge
// never recorded.
func (br *Bridge) Recording() (path string, duration time.Duration) {
	br.mu.Lock()
	r := br.last
	br.mu.Unlock()
	if r == nil {
		return "", 0
	}
	return r.path, r.duration()
}

// recPacket is one packet's audio waiting for the recorder.
type recPacket struct {
	n     int
	codes [recMaxPayload]byte
}

// recChannel is one party of a recording. tap runs on the party's read
// goroutine; the rest on the recorder's.
type recChannel struct {
	codec   media.Codec
	free    chan *recPacket // packets to fill
	queue   chan *recPacket // filled, for the recorder
	dropped atomic.Uint64   // packets the recorder was too far behind for

	// The recorder's: audio decoded, waiting to be written (its dropped
	// count: samples beyond recLag).
	fifo ring[int16]
	pcm  [recMaxPayload]int16
}

func newRecChannel(c media.Codec) *recChannel {
	ch := &recChannel{codec: c, free: make(chan *recPacket, recPackets), queue: make(chan *recPacket, recPackets), fifo: newRing[int16](recLag)}
	for range recPackets {
		ch.free <- &recPacket{}
	}
	return ch
}

// tap copies the audio of pkt, a packet the party sent, for the recorder.
// It never blocks: with no free packet it drops it and counts. It does
// not allocate.
func (c *recChannel) tap(pkt []byte) {
	payload, ok := media.RTPPayload(pkt)
	if !ok || len(payload) == 0 {
		return
	}
	var p *recPacket
	select {
	case p = <-c.free:
	default:
		c.dropped.Add(1)
		return
	}
	p.n = copy(p.codes[:], payload)
	c.queue <- p // never blocks: free and queue share recPackets packets
}

// drain decodes the packets queued into the fifo.
func (c *recChannel) drain() {
	for {
		select {
		case p := <-c.queue:
			n := c.codec.Decode(c.pcm[:], p.codes[:p.n])
			c.free <- p
			c.fifo.push(c.pcm[:n])
		default:
			return
		}
	}
}

// take fills dst with the oldest samples, silence where there are none.
func (c *recChannel) take(dst []int16) {
	n := c.fifo.pop(dst)
	clear(dst[n:])
}

// recorder writes one recording.
type recorder struct {
	name, path string
	file       *os.File
	w          *media.WAVWriter
	log        *slog.Logger
	start      time.Time
	chans      [2]*recChannel
	legs       [2]*Session

	stop chan struct{} // closed by close
	done chan struct{} // closed when run has finished the file
	err  error         // why it stopped early; read after done

	frames  atomic.Int64 // 20 ms frames written
	stopped atomic.Bool

	left, right [media.FrameSamples]int16
}

func (r *recorder) duration() time.Duration {
	return time.Duration(r.frames.Load()) * frameInterval
}

// close detaches the taps, lets run finish the file and returns why the
// recording failed, if it did.
func (r *recorder) close() error {
	if !r.stopped.CompareAndSwap(false, true) {
		<-r.done
		return nil
	}
	for i, s := range r.legs {
		s.rec.CompareAndSwap(r.chans[i], nil)
	}
	close(r.stop)
	<-r.done
	return r.err
}

// run writes a frame per channel for every 20 ms since the start, until
// stopped, then finishes the file.
func (r *recorder) run() {
	defer close(r.done)
	t := time.NewTicker(frameInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.finish()
			return
		case now := <-t.C:
			due := int64(now.Sub(r.start)/frameInterval) - r.frames.Load()
			if err := r.write(min(due, recCatchUp)); err != nil {
				r.err = err
				r.log.Error("recording failed", "path", r.path, "error", err)
				r.finish()
				return
			}
		}
	}
}

// write appends n frames: each channel's oldest audio, silence where its
// party sent none.
func (r *recorder) write(n int64) error {
	for _, c := range r.chans {
		c.drain()
	}
	for ; n > 0; n-- {
		r.chans[0].take(r.left[:])
		r.chans[1].take(r.right[:])
		if err := r.w.WriteStereo(r.left[:], r.right[:]); err != nil {
			return err
		}
		r.frames.Add(1)
	}
	return nil
}

// finish writes what was queued (after a failure, nothing more), fixes
// the header and closes the file.
func (r *recorder) finish() {
	if r.err == nil {
		for _, c := range r.chans {
			c.drain()
		}
		rest := int64((max(r.chans[0].fifo.n, r.chans[1].fifo.n) + media.FrameSamples - 1) / media.FrameSamples)
		if err := r.write(rest); err != nil {
			r.err = err
		}
	}
	if err := r.w.Close(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.file.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("sip: recording: %w", err)
	}
	attrs := []any{"path", r.path, "duration", r.duration().String()}
	dropped := r.chans[0].dropped.Load() + r.chans[1].dropped.Load()
	lagged := r.chans[0].fifo.dropped + r.chans[1].fifo.dropped
	if dropped > 0 || lagged > 0 {
		attrs = append(attrs, "packets_dropped", dropped, "samples_dropped", lagged)
	}
	r.log.Info("recording finished", attrs...)
}
