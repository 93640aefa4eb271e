package sip

import (
	"context"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// strayMemory is how long a dropped dialog is remembered, so the
// retransmissions of its 200 are ACKed without another BYE (64*T1).
const strayMemory = 32 * time.Second

// strays remembers the 2xx answers we dropped.
type strays struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first reports whether id is new, and remembers it.
func (s *strays) first(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	for k, t := range s.seen {
		if now.Sub(t) > strayMemory {
			delete(s.seen, k)
		}
	}
	if _, ok := s.seen[id]; ok {
		return false
	}
	s.seen[id] = now
	return true
}

// onStrayResponse sees responses that match no client transaction. A 2xx
// to an INVITE there is an answer nobody waits for any more: one that
// arrived after its transaction ended (a 200 overtaken by our CANCEL that
// went unanswered, a second 200 from a fork, a retransmission after the
// ACK was lost). RFC 3261 13.2.2.4: every 2xx is ACKed; one that belongs
// to no live session is then hung up with a BYE, once. Anything else is
// dropped.
func (b *Backend) onStrayResponse(res *sipmsg.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sipmsg.INVITE || !res.IsSuccess() {
		b.log.Debug("stray response dropped", "code", res.StatusCode)
		return
	}
	id, err := sipmsg.DialogIDFromResponse(res)
	if err != nil || res.From() == nil || res.To() == nil || res.CallID() == nil {
		b.log.Debug("stray 2xx without dialog headers dropped", "error", err)
		return
	}
	b.mu.Lock()
	client, live, closed := b.client, b.sessions[id] != nil, b.closed
	b.mu.Unlock()
	if client == nil || closed {
		return
	}
	log := b.log.With("sip_call_id", res.CallID().Value())
	ack := strayRequest(sipmsg.ACK, res, cseq.SeqNo)
	b.pinUDP(ack)
	if err := client.WriteRequest(ack); err != nil {
		log.Warn("ACK of stray 200 failed", "error", err)
	}
	if live || !b.strays.first(id, time.Now()) {
		return
	}
	log.Info("stray 200 to an INVITE; hanging it up")
	bye := strayRequest(sipmsg.BYE, res, cseq.SeqNo+1)
	b.pinUDP(bye)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.byeTimeout())
	defer cancel()
	if r, err := client.Do(ctx, bye); err != nil {
		log.Warn("BYE of stray 200 failed", "error", err)
	} else if r.StatusCode >= 300 {
		log.Info("BYE of stray 200 answered", "code", r.StatusCode)
	}
}

// strayRequest builds an in-dialog request from a 2xx alone: to its
// Contact, along its Record-Route (reversed), with its From, To and
// Call-ID. The client adds Via and Max-Forwards.
func strayRequest(method sipmsg.RequestMethod, res *sipmsg.Response, seq uint32) *sipmsg.Request {
	target := res.To().Address
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	req := sipmsg.NewRequest(method, *target.Clone())
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		req.AppendHeader(sipmsg.NewHeader("Route", rr[i].Value()))
	}
	req.AppendHeader(sipmsg.HeaderClone(res.From()))
	req.AppendHeader(sipmsg.HeaderClone(res.To()))
	req.AppendHeader(sipmsg.HeaderClone(res.CallID()))
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: seq, MethodName: method})
	req.SetTransport(res.Transport())
	return req
}
