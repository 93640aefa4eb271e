package phone

import (
	"context"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/media"
)

// Frame is the packet time of the audio the phone sends.
const Frame = 20 * time.Millisecond

// mediaLeg is a call's RTP: one socket, a sending and a receiving
// goroutine.
type mediaLeg struct {
	c      *Call
	conn   *net.UDPConn
	codec  media.Codec
	ctx    context.Context
	cancel context.CancelFunc
	dtmf   chan *dtmfJob

	sent, received atomic.Int64
	stopOnce       sync.Once
	running        sync.WaitGroup // receive and send
}

type dtmfJob struct {
	digits []rune
	res    chan error
}

func (m *mediaLeg) stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		m.conn.Close()
	})
	m.running.Wait()
}

// receive records every packet until the socket closes.
func (m *mediaLeg) receive() {
	defer m.c.p.wg.Done()
	defer m.running.Done()
	buf := make([]byte, 2048)
	for {
		n, _, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if m.c.rec.Record(buf[:n], time.Now()) == nil {
			m.received.Add(1)
		}
	}
}

// send plays the call's tone (or silence) every Frame to the remote
// address, and DTMF digits when asked, until the leg stops.
func (m *mediaLeg) send() {
	defer m.c.p.wg.Done()
	defer m.running.Done()
	pk, err := media.NewPacketizer(media.RandomPacketizerConfig(m.codec))
	if err != nil {
		m.c.log.Error("packetizer", "error", err)
		return
	}
	ticker := time.NewTicker(Frame)
	defer ticker.Stop()

	var (
		gen      toneGen
		frame    = make([]int16, media.FrameSamples)
		payload  = make([]byte, media.FrameSamples)
		buf      = make([]byte, 0, 12+media.FrameSamples)
		queue    []*dtmfJob
		job      *dtmfJob
		next     int // job's next digit
		sender   *media.DTMFSender
		senderPT = -1
		started  time.Time // of the digit being sent
		nextAt   time.Time // earliest start of the next digit
	)
	defer func() {
		for _, j := range append(queue, job) {
			if j != nil {
				j.res <- ErrEnded
			}
		}
	}()
	write := func(pkt []byte) {
		remote, _, _, _, _ := m.c.mediaParams()
		if !remote.IsValid() {
			return
		}
		if _, err := m.conn.WriteToUDPAddrPort(pkt, remote); err == nil {
			m.sent.Add(1)
		}
	}
	// sendDue sends the digit's packets due by now.
	sendDue := func(now time.Time) {
		for d, ok := sender.Due(); ok && !now.Before(started.Add(d)); d, ok = sender.Due() {
			buf, _ = sender.Next(buf[:0])
			write(buf)
		}
		if !sender.Busy() {
			next++
			nextAt = now.Add(DTMFGap)
		}
	}
	for {
		select {
		case <-m.ctx.Done():
			return
		case j := <-m.dtmf:
			queue = append(queue, j)
		case now := <-ticker.C:
			_, tone, amp, sending, eventPT := m.c.mediaParams()
			if sender != nil && sender.Busy() {
				sendDue(now)
				continue
			}
			if job != nil && next == len(job.digits) {
				job.res <- nil
				job = nil
			}
			if job == nil && len(queue) > 0 {
				job, queue, next, nextAt = queue[0], queue[1:], 0, now
			}
			if job != nil && sending && !now.Before(nextAt) {
				if eventPT < 0 {
					job.res <- ErrEnded
					job = nil
					continue
				}
				if sender == nil || senderPT != eventPT {
					sender, senderPT = media.NewDTMFSender(pk, uint8(eventPT)), eventPT
				}
				if err := sender.Start(job.digits[next], DTMFLength, now); err != nil {
					job.res <- err
					job = nil
					continue
				}
				started = now
				sendDue(now)
				continue
			}
			if !sending {
				continue
			}
			gen.fill(frame, tone, amp)
			m.codec.Encode(payload, frame)
			buf = pk.Packetize(buf[:0], payload, now)
			write(buf)
		}
	}
}

// toneGen is a sine generator whose phase carries on across frames and
// changes of frequency.
type toneGen struct{ phase float64 }

// fill writes the next len(dst) samples of a sine of freq Hz and peak amp;
// silence when freq is 0.
func (g *toneGen) fill(dst []int16, freq, amp float64) {
	if freq <= 0 {
		clear(dst)
		return
	}
	step := 2 * math.Pi * freq / media.SampleRate
	for i := range dst {
		dst[i] = int16(math.Round(amp * math.Sin(g.phase)))
		g.phase += step
	}
	g.phase = math.Mod(g.phase, 2*math.Pi)
}
