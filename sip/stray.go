package sip

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Bounds of what the backend remembers to recognise stray answers.
const (
	// maxSentInvites bounds the INVITEs remembered; past it the oldest
	// ended attempts are forgotten first (attempts in flight never are:
	// the RTP port pool bounds them).
	maxSentInvites = 1 << 16
	// maxStrayDialogs bounds the answers (forks) remembered per INVITE.
	maxStrayDialogs = 8
	// maxSources bounds the response sources remembered per INVITE.
	maxSources = 4
	// maxLiveAcks bounds the ACKs sent again for a retransmitted 200 of
	// a live session (its UAS retransmits about ten times in 64*T1).
	maxLiveAcks = 12
	// resolveTimeout bounds the DNS look-up of a trunk's name when a
	// stray answer's source must be checked against it.
	resolveTimeout = 2 * time.Second
)

// strayMemory is how long an INVITE is remembered after its attempt
// ended: the time a UAS may retransmit its 2xx (64*T1).
func strayMemory() time.Duration { return 64 * sipmsg.T1 }

// StrayStats count the responses that matched no transaction.
type StrayStats struct {
	// Dropped: not a 2xx to an INVITE of ours from the trunk it went to
	// (forged, misrouted, or a retransmission already dealt with), or any
	// other stray response.
	Dropped uint64
	// ACKs and BYEs sent for stray 2xx answers.
	ACKs, BYEs uint64
}

// sentInvite is what is remembered of an INVITE we sent, to recognise the
// 2xx answers that arrive after its transaction ended.
type sentInvite struct {
	callID, fromTag string
	toURI           sipmsg.Uri
	host            string // the trunk's host (an IP or a DNS name)
	port            int
	// Guarded by strayTable.mu:
	sources  []netip.AddrPort        // where its responses came from
	dialogs  map[string]*strayDialog // answers acted on, by To tag
	answered string                  // To tag of the 2xx Dial took
	ended    bool
}

// strayDialog is one answer to a remembered INVITE.
type strayDialog struct {
	acks int
	// byed: the dialog was hung up (or never kept): no BYE is sent for
	// it again and its retransmitted 200 gets at most one more ACK.
	byed bool
}

type expiring struct {
	inv *sentInvite
	at  time.Time
}

// strayTable remembers the INVITEs we sent, in flight and for
// strayMemory after their attempt ended. Expiry is time ordered (every
// entry lives as long after its end), so forgetting is O(1) per entry
// and a flood of unknown answers costs one map look-up each.
type strayTable struct {
	mu      sync.Mutex
	invites map[string]*sentInvite // by Call-ID
	queue   []expiring             // ended invites, oldest first
	head    int

	dropped, acks, byes atomic.Uint64
}

// add remembers an INVITE about to be sent.
func (t *strayTable) add(req *sipmsg.Request, tr *Trunk, now time.Time) *sentInvite {
	inv := &sentInvite{host: tr.Host, port: tr.port()}
	if h := req.CallID(); h != nil {
		inv.callID = h.Value()
	}
	if h := req.From(); h != nil {
		inv.fromTag, _ = h.Params.Get("tag")
	}
	if h := req.To(); h != nil {
		inv.toURI = *h.Address.Clone()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	if t.invites == nil {
		t.invites = map[string]*sentInvite{}
	}
	t.invites[inv.callID] = inv
	return inv
}

// seen records where a response to inv came from.
func (t *strayTable) seen(inv *sentInvite, source string) {
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(inv.sources) < maxSources && !slices.Contains(inv.sources, src) {
		inv.sources = append(inv.sources, src)
	}
}

// answer records the To tag of the 2xx Dial took: until its session is
// registered (or the answer dropped), a retransmission of it is ACKed,
// never hung up.
func (t *strayTable) answer(inv *sentInvite, toTag string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inv.answered == "" {
		inv.answered = toTag
	}
}

// end starts inv's strayMemory: its attempt is over.
func (t *strayTable) end(inv *sentInvite, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inv.ended {
		return
	}
	inv.ended = true
	t.queue = append(t.queue, expiring{inv: inv, at: now.Add(strayMemory())})
	t.expireLocked(now)
}

// byed records that the dialog of inv's answer with toTag was hung up
// (or dropped at once), so a retransmission of that answer is not hung
// up again.
func (t *strayTable) byed(inv *sentInvite, toTag string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.dialogLocked(inv, toTag); d != nil {
		d.byed = true
		d.acks = max(d.acks, 1)
	}
}

func (t *strayTable) dialogLocked(inv *sentInvite, toTag string) *strayDialog {
	if d := inv.dialogs[toTag]; d != nil {
		return d
	}
	if len(inv.dialogs) >= maxStrayDialogs {
		return nil
	}
	if inv.dialogs == nil {
		inv.dialogs = map[string]*strayDialog{}
	}
	d := &strayDialog{}
	inv.dialogs[toTag] = d
	return d
}

// expireLocked forgets the invites whose memory ran out, and the oldest
// ended ones while there are too many.
func (t *strayTable) expireLocked(now time.Time) {
	for t.head < len(t.queue) {
		e := t.queue[t.head]
		if e.at.After(now) && len(t.invites) <= maxSentInvites {
			break
		}
		if t.invites[e.inv.callID] == e.inv {
			delete(t.invites, e.inv.callID)
		}
		t.queue[t.head] = expiring{}
		t.head++
	}
	switch {
	case len(t.invites) == 0 && t.head == len(t.queue):
		// Idle: give the memory back. A Go map keeps the room it grew
		// to (tens of MB after a burst of calls) until it is dropped.
		t.invites, t.queue, t.head = nil, nil, 0
	case t.head > 1024 && t.head*2 > len(t.queue):
		t.queue = append(t.queue[:0], t.queue[t.head:]...)
		t.head = 0
	}
}

// sweep forgets what expired; the backend's ticker calls it so memory is
// returned even when no INVITE is sent.
func (t *strayTable) sweep(now time.Time) {
	t.mu.Lock()
	t.expireLocked(now)
	t.mu.Unlock()
}

func (t *strayTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.invites)
}

// lookup returns the remembered INVITE a response answers, by Call-ID and
// From tag.
func (t *strayTable) lookup(callID, fromTag string, now time.Time) *sentInvite {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	inv := t.invites[callID]
	if inv == nil || inv.fromTag != fromTag || fromTag == "" {
		return nil
	}
	return inv
}

// fromTrunk reports whether src is the trunk inv was sent to: the source
// of one of its responses, or the trunk's address (resolved when a name).
func (t *strayTable) fromTrunk(ctx context.Context, inv *sentInvite, src netip.AddrPort) bool {
	t.mu.Lock()
	known := slices.Contains(inv.sources, src)
	t.mu.Unlock()
	if known {
		return true
	}
	if int(src.Port()) != inv.port {
		return false
	}
	if ip, err := netip.ParseAddr(inv.host); err == nil {
		return ip.Unmap() == src.Addr()
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", inv.host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.Unmap() == src.Addr() {
			return true
		}
	}
	return false
}

// strayAction is what to do with a stray 2xx of a remembered INVITE.
type strayAction int

const (
	strayDrop strayAction = iota
	strayAck
	strayAckBye
)

// decide picks the action for an answer (toTag) to inv and records it.
func (t *strayTable) decide(inv *sentInvite, toTag string, live bool) strayAction {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dialogLocked(inv, toTag)
	live = live || (toTag != "" && toTag == inv.answered)
	switch {
	case d == nil:
		return strayDrop
	case live && !d.byed:
		if d.acks >= maxLiveAcks {
			return strayDrop
		}
		d.acks++
		return strayAck
	case d.byed:
		if d.acks >= 2 {
			return strayDrop
		}
		d.acks++
		return strayAck
	default:
		d.acks, d.byed = 1, true
		return strayAckBye
	}
}

// StrayStats returns the counters of stray responses.
func (b *Backend) StrayStats() StrayStats {
	return StrayStats{Dropped: b.strays.dropped.Load(), ACKs: b.strays.acks.Load(), BYEs: b.strays.byes.Load()}
}

// onStrayResponse sees responses that match no client transaction. A 2xx
// to an INVITE there is an answer nobody waits for any more: one that
// arrived after its transaction ended (a 200 overtaken by our CANCEL, a
// second 200 from a fork, a retransmission after our ACK was lost). RFC
// 3261 13.2.2.4: such a 2xx is ACKed, and one that belongs to no live
// session is then hung up with a BYE, once.
//
// Since the ACK and BYE go to whatever the 2xx names, only a 2xx whose
// Call-ID and From tag are those of an INVITE we sent (in flight, or
// ended less than 64*T1 ago) and whose source is the trunk that INVITE
// went to is acted on; a retransmission of an answer already hung up gets
// at most one more ACK. Everything else is dropped and counted
// (StrayStats), so forged answers cannot make us send anything anywhere.
func (b *Backend) onStrayResponse(res *sipmsg.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sipmsg.INVITE || !res.IsSuccess() {
		b.strays.dropped.Add(1)
		b.log.Debug("stray response dropped", "code", res.StatusCode)
		return
	}
	from, to, callID := res.From(), res.To(), res.CallID()
	if from == nil || to == nil || callID == nil {
		b.strays.dropped.Add(1)
		return
	}
	fromTag, _ := from.Params.Get("tag")
	toTag, _ := to.Params.Get("tag")
	inv := b.strays.lookup(callID.Value(), fromTag, time.Now())
	if inv == nil || toTag == "" {
		b.strays.dropped.Add(1)
		b.log.Debug("stray 2xx to no INVITE of ours dropped", "source", res.Source())
		return
	}
	log := b.log.With("sip_call_id", inv.callID)
	src, err := netip.ParseAddrPort(res.Source())
	if err != nil || !b.strays.fromTrunk(b.closeCtx, inv, netip.AddrPortFrom(src.Addr().Unmap(), src.Port())) {
		b.strays.dropped.Add(1)
		log.Warn("2xx to our INVITE from another address than its trunk dropped", "source", res.Source(), "trunk", inv.host)
		return
	}
	id := sipmsg.DialogIDMake(inv.callID, fromTag, toTag)
	b.mu.Lock()
	client, live, closed := b.client, b.sessions[id] != nil, b.closed
	b.mu.Unlock()
	if client == nil || closed {
		b.strays.dropped.Add(1)
		return
	}
	action := b.strays.decide(inv, toTag, live)
	if action == strayDrop {
		b.strays.dropped.Add(1)
		log.Debug("retransmitted 2xx dropped")
		return
	}
	ack := strayRequest(sipmsg.ACK, res, inv, cseq.SeqNo)
	b.pinUDP(ack)
	if err := client.WriteRequest(ack); err != nil {
		log.Warn("ACK of stray 200 failed", "error", err)
	}
	b.strays.acks.Add(1)
	if action != strayAckBye {
		return
	}
	log.Info("stray 200 to an INVITE; hanging it up")
	bye := strayRequest(sipmsg.BYE, res, inv, cseq.SeqNo+1)
	b.pinUDP(bye)
	b.strays.byes.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.byeTimeout())
	defer cancel()
	if r, err := client.Do(ctx, bye); err != nil {
		log.Warn("BYE of stray 200 failed", "error", err)
	} else if r != nil && r.StatusCode >= 300 {
		log.Info("BYE of stray 200 answered", "code", r.StatusCode)
	}
}

// strayRequest builds an in-dialog request from a 2xx alone: to its
// Contact (else the To URI of our INVITE), along its Record-Route
// (reversed), with its From, To and Call-ID. The client adds Via and
// Max-Forwards.
func strayRequest(method sipmsg.RequestMethod, res *sipmsg.Response, inv *sentInvite, seq uint32) *sipmsg.Request {
	target := inv.toURI
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
