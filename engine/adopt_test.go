package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// pbx is a switch whose channels outlive the engine nodes driving them,
// as Asterisk's do: any node can find a channel by its handle.
type pbx struct {
	mu       sync.Mutex
	n        int
	channels map[string]*pbxChannel
}

type pbxChannel struct {
	number string
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (p *pbx) channel(handle string) *pbxChannel {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.channels[handle]
}

// farHangup ends number's channels as the far end would.
func (p *pbx) farHangup(number string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.channels {
		if ch.number == number {
			ch.cancel(engine.ErrRemoteHangup)
		}
	}
}

func (p *pbx) up() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for h, ch := range p.channels {
		if ch.ctx.Err() == nil {
			out = append(out, h+"/"+ch.number)
		}
	}
	return out
}

// pbxNode is one engine node's backend on the pbx. Once dead, it does
// nothing a dead process could do: its hang-ups never reach the pbx.
type pbxNode struct {
	pbx    *pbx
	dead   atomic.Bool
	adopts atomic.Int32
	// failing makes every look at a channel fail (a request that timed
	// out): nothing can be said of whether it is up.
	failing atomic.Bool
}

var _ engine.Adopter = (*pbxNode)(nil)

func (b *pbxNode) Ready() error { return nil }

func (b *pbxNode) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	progress(engine.ProgressRinging)
	b.pbx.mu.Lock()
	b.pbx.n++
	h := fmt.Sprintf("ch-%d", b.pbx.n)
	cctx, cancel := context.WithCancelCause(context.Background())
	b.pbx.channels[h] = &pbxChannel{number: req.Number, ctx: cctx, cancel: cancel}
	b.pbx.mu.Unlock()
	return &pbxSession{node: b, ch: b.pbx.channel(h), handle: h}, nil
}

func (b *pbxNode) Bridge(x, y engine.Session) (engine.Bridge, error) {
	b.pbx.mu.Lock()
	b.pbx.n++
	n := b.pbx.n
	b.pbx.mu.Unlock()
	return pbxBridge(fmt.Sprintf("br-%d", n)), nil
}

func (b *pbxNode) AdoptLeg(ctx context.Context, leg *engine.Leg) (engine.Session, error) {
	if b.failing.Load() {
		return nil, errors.New("request timed out")
	}
	ch := b.pbx.channel(leg.Channel)
	if ch == nil || ch.ctx.Err() != nil {
		return nil, fmt.Errorf("channel %q: %w", leg.Channel, engine.ErrNotFound)
	}
	b.adopts.Add(1)
	return &pbxSession{node: b, ch: ch, handle: leg.Channel}, nil
}

func (b *pbxNode) AdoptBridge(ctx context.Context, handle string, x, y engine.Session, recording string) (engine.Bridge, error) {
	return pbxBridge(handle), nil
}

type pbxSession struct {
	node   *pbxNode
	ch     *pbxChannel
	handle string
}

func (s *pbxSession) Context() context.Context { return s.ch.ctx }
func (s *pbxSession) Handle() string           { return s.handle }
func (s *pbxSession) Hangup(_ context.Context, cause error) error {
	if !s.node.dead.Load() {
		s.ch.cancel(cause)
	}
	return nil
}

type pbxBridge string

func (b pbxBridge) Close() error   { return nil }
func (b pbxBridge) Handle() string { return string(b) }

// deadStore is a store a dead node no longer writes to.
type deadStore struct {
	engine.Store
	dead *atomic.Bool
}

var errDead = errors.New("the node is dead")

func (d deadStore) CreateCall(ctx context.Context, c *engine.Call, ev ...engine.Event) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.CreateCall(ctx, c, ev...)
}
func (d deadStore) SaveCall(ctx context.Context, c *engine.Call, legs []*engine.Leg, ev ...engine.Event) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.SaveCall(ctx, c, legs, ev...)
}
func (d deadStore) SaveLeg(ctx context.Context, l *engine.Leg) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.SaveLeg(ctx, l)
}
func (d deadStore) EndCall(ctx context.Context, c *engine.Call, r time.Duration, ev ...engine.Event) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.EndCall(ctx, c, r, ev...)
}

// A node dies with two bridged calls on a switch that keeps their
// channels up: another node adopts both (the records say they are its),
// ends one at its time limit counted from the bridge and the other when
// its to party hangs up, each with its record, and nothing stays up.
func TestDeadNodesBridgedCallsAreAdopted(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	sw := &pbx{channels: map[string]*pbxChannel{}}
	var aDead atomic.Bool
	ba := &pbxNode{pbx: sw}
	aLeases := &nodeLeases{NodeLeases: st}
	a := engine.New(deadStore{st, &aDead}, ba, engine.Options{NodeID: "node-a", Nodes: aLeases, NodeLeaseTTL: testLeaseTTL})
	actx, stopA := context.WithCancel(context.Background())
	t.Cleanup(stopA)
	if err := a.StartLiveness(actx); err != nil {
		t.Fatal(err)
	}

	limited, err := a.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "5550001"), To: side(dialer.OneByOne, 0, "5550002"),
		TimeLimit: 3, TimeLimitHangup: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	open, err := a.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "5550011"), To: side(dialer.OneByOne, 0, "5550012")})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{limited.ID, open.ID} {
		c := storedCall(t, st, id, func(c *engine.Call) bool { return c.State == engine.StateBridged })
		if c.Bridge == "" || c.Legs[0].Channel == "" || c.Legs[1].Channel == "" {
			t.Fatalf("handles not kept: bridge %q, legs %q %q", c.Bridge, c.Legs[0].Channel, c.Legs[1].Channel)
		}
	}

	// node-a dies: no renewal, no write, no hang-up reaches anything.
	aDead.Store(true)
	ba.dead.Store(true)
	aLeases.frozen.Store(true)
	bb := &pbxNode{pbx: sw}
	b := engine.New(st, bb, engine.Options{NodeID: "node-b", Nodes: st, NodeLeaseTTL: testLeaseTTL})
	bctx, stopB := context.WithCancel(context.Background())
	t.Cleanup(stopB)
	if err := b.StartLiveness(bctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{limited.ID, open.ID} {
		storedCall(t, st, id, func(c *engine.Call) bool { return c.Node == "node-b" && c.Live() })
	}
	if got := bb.adopts.Load(); got != 4 {
		t.Fatalf("node-b adopted %d channels, want 4", got)
	}
	if live, _ := st.LiveCalls(context.Background(), "node-b"); len(live) != 2 {
		t.Fatalf("node-b's live calls %v", live)
	}

	sw.farHangup("5550012")
	got := finished(t, b, open.ID)
	if got.Node != "node-b" || got.Outcome != engine.OutcomeCompleted || got.HangupBy != engine.HangupTo {
		t.Fatalf("open call: node %s, %s by %s: %q", got.Node, got.Outcome, got.HangupBy, got.Reason)
	}
	got = finished(t, b, limited.ID)
	if got.Node != "node-b" || got.Outcome != engine.OutcomeCompleted || got.HangupBy != engine.HangupTimeLimit {
		t.Fatalf("limited call: node %s, %s by %s: %q", got.Node, got.Outcome, got.HangupBy, got.Reason)
	}
	if !strings.Contains(got.Reason, "time limit of 3 s") || got.TalkSeconds < 2.5 {
		t.Fatalf("limited call: %q after %.1f s of talk", got.Reason, got.TalkSeconds)
	}
	for _, l := range got.Legs {
		if l.State != engine.LegEnded || l.Disposition != engine.DispAnswered {
			t.Fatalf("leg %s: %s %s", l.ID, l.State, l.Disposition)
		}
	}
	if up := sw.up(); len(up) != 0 {
		t.Fatalf("channels left up: %v", up)
	}
}

// A dead node's call that cannot be adopted (it was still ringing its to
// side) is ended with a record, and its channels that are still up are
// hung up, so nothing of it stays on the switch.
func TestDeadNodesHuntingCallIsEndedAndHungUp(t *testing.T) {
	st, sw, c := deadNodeHunting(t)
	liveNodeOn(t, st, &pbxNode{pbx: sw}, "node-b")
	got := storedCall(t, st, c.ID, func(c *engine.Call) bool { return !c.Live() })
	if got.Outcome != engine.OutcomeFailed || got.HangupBy != engine.HangupSystem || !strings.Contains(got.Reason, "node-a stopped renewing") {
		t.Fatalf("record: %s by %s: %q", got.Outcome, got.HangupBy, got.Reason)
	}
	if up := sw.up(); len(up) != 0 {
		t.Fatalf("channels left up: %v", up)
	}
}

// deadNodeHunting has node-a place a call whose from side answered on the
// pbx and whose to side rings on, then die (no renewal, no write, no
// hang-up reaches anything).
func deadNodeHunting(t *testing.T) (*memory.Store, *pbx, *engine.Call) {
	t.Helper()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	sw := &pbx{channels: map[string]*pbxChannel{}}
	var aDead atomic.Bool
	ba := &pbxNode{pbx: sw}
	aLeases := &nodeLeases{NodeLeases: st}
	fb := newFakeBackend(map[string]string{"5550002": "noanswer"})
	a := engine.New(deadStore{st, &aDead}, huntingNode{pbxNode: ba, ring: fb}, engine.Options{NodeID: "node-a", Nodes: aLeases, NodeLeaseTTL: testLeaseTTL})
	actx, stopA := context.WithCancel(context.Background())
	t.Cleanup(stopA)
	if err := a.StartLiveness(actx); err != nil {
		t.Fatal(err)
	}
	c, err := a.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "5550001"), To: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"5550002"}, Strategy: dialer.OneByOne, RingTime: 60}})
	if err != nil {
		t.Fatal(err)
	}
	storedCall(t, st, c.ID, func(c *engine.Call) bool { return c.State == engine.StateDialingTo && len(c.Legs) == 2 })
	aDead.Store(true)
	ba.dead.Store(true)
	aLeases.frozen.Store(true)
	return st, sw, c
}

// liveNodeOn starts a node with liveness on st and backend b.
func liveNodeOn(t *testing.T, st *memory.Store, b engine.Backend, id string) *engine.Engine {
	t.Helper()
	e := engine.New(st, b, engine.Options{NodeID: id, Nodes: st, NodeLeaseTTL: testLeaseTTL})
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	if err := e.StartLiveness(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// huntingNode answers from on the pbx and rings to through a fake that
// never answers.
type huntingNode struct {
	*pbxNode
	ring *fakeBackend
}

func (h huntingNode) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	if req.Number == "5550002" {
		return h.ring.Dial(ctx, req, progress)
	}
	return h.pbxNode.Dial(ctx, req, progress)
}

// A left call whose channels cannot be looked at now is not recorded as
// ended while they may be up: it stays live until they can, then ends
// with its channels hung up.
func TestLeftCallWaitsUntilItsChannelsCanBeReached(t *testing.T) {
	st, sw, c := deadNodeHunting(t)
	bb := &pbxNode{pbx: sw}
	bb.failing.Store(true)
	liveNodeOn(t, st, bb, "node-b")
	// Several lease times pass with node-b unable to look: the call stays.
	time.Sleep(4 * testLeaseTTL)
	if got, _ := st.GetCall(context.Background(), c.ID); !got.Live() {
		t.Fatalf("ended while its channels could not be looked at: %q", got.Reason)
	}
	if up := sw.up(); len(up) != 1 {
		t.Fatalf("channels up: %v", up)
	}
	bb.failing.Store(false)
	got := storedCall(t, st, c.ID, func(c *engine.Call) bool { return !c.Live() })
	if !strings.Contains(got.Reason, "node-a stopped renewing") {
		t.Fatalf("record: %q", got.Reason)
	}
	if up := sw.up(); len(up) != 0 {
		t.Fatalf("channels left up: %v", up)
	}
}
