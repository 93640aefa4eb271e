package engine_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/ivr"
)

// appMap is an engine.AppStore for the engine's own tests (the stores'
// implementations pass their conformance suite).
type appMap struct {
	mu   sync.Mutex
	apps map[string]*engine.App // by number
}

func (m *appMap) PutApp(_ context.Context, a *engine.App) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps[a.Number] = a
	return nil
}

func (m *appMap) GetApp(_ context.Context, tenant, id string) (*engine.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.apps {
		if a.Tenant == tenant && a.ID == id {
			return a, nil
		}
	}
	return nil, engine.ErrNotFound
}

func (m *appMap) ListApps(_ context.Context, tenant string) ([]*engine.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*engine.App
	for _, a := range m.apps {
		if a.Tenant == tenant {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *appMap) DeleteApp(_ context.Context, tenant, id string) error { return errors.New("unused") }

func (m *appMap) AppByNumber(_ context.Context, number string) (*engine.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.apps[number]; ok {
		return a, nil
	}
	return nil, engine.ErrNotFound
}

// fakeInbound is a call offered by the fake backend: its party is a
// mediaSession once answered, so the engine plays to it and hears its
// keys.
type fakeInbound struct {
	b                    *fakeBackend
	caller, name, called string
	ctx                  context.Context
	cancel               context.CancelCauseFunc

	mu       sync.Mutex
	rejected int
	session  *mediaSession
	answered chan struct{}
	done     chan struct{} // closed by Answer or Reject
}

func newInbound(b *fakeBackend, caller, name, called string) *fakeInbound {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &fakeInbound{b: b, caller: caller, name: name, called: called, ctx: ctx, cancel: cancel,
		answered: make(chan struct{}), done: make(chan struct{})}
}

func (f *fakeInbound) Caller() string           { return f.caller }
func (f *fakeInbound) CallerName() string       { return f.name }
func (f *fakeInbound) Called() string           { return f.called }
func (f *fakeInbound) Context() context.Context { return f.ctx }
func (f *fakeInbound) Ringing() error           { return nil }

func (f *fakeInbound) Answer(ctx context.Context) (engine.Session, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancelCause(context.Background())
	s := &fakeSession{b: f.b, number: f.caller, ctx: sctx, cancel: cancel}
	f.b.mu.Lock()
	f.b.live[s] = true
	f.b.mu.Unlock()
	ms := &mediaSession{fakeSession: s, log: f.b.media}
	f.mu.Lock()
	f.session = ms
	f.mu.Unlock()
	close(f.answered)
	close(f.done)
	return ms, nil
}

func (f *fakeInbound) Reject(code int, reason string) error {
	f.mu.Lock()
	f.rejected = code
	f.mu.Unlock()
	close(f.done)
	return nil
}

func (f *fakeInbound) rejectedWith() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

// lookupFunc is an engine.CallerLookup.
type lookupFunc func(ctx context.Context, app *engine.App, caller string) (*engine.CallerInfo, error)

func (f lookupFunc) LookupCaller(ctx context.Context, app *engine.App, caller string) (*engine.CallerInfo, error) {
	return f(ctx, app, caller)
}

// inboundEngine is agentEngine's group of n agents with the media fake
// and the apps given.
func inboundEngine(t *testing.T, script map[string]string, n int, group func(*engine.Group), lookup engine.CallerLookup, apps ...*engine.App) (*engine.Engine, *fakeBackend) {
	t.Helper()
	_, _, st := agentEngine(t, nil, n, nil, group)
	b := newFakeBackend(script)
	b.media = newMediaLog()
	am := &appMap{apps: map[string]*engine.App{}}
	for _, a := range apps {
		am.PutApp(context.Background(), a)
	}
	e := engine.New(st, b, engine.Options{NodeID: "test", Agents: st, Apps: am, CallerLookup: lookup})
	return e, b
}

// offer hands the engine an inbound call and returns the id of the call
// it started.
func offer(t *testing.T, e *engine.Engine, ic *fakeInbound) string {
	t.Helper()
	before := map[string]bool{}
	page, _ := e.List(context.Background(), engine.CallQuery{Tenant: "1", Limit: 500})
	for _, c := range page.Calls {
		before[c.ID] = true
	}
	e.Inbound(ic)
	select {
	case <-ic.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the inbound call was neither answered nor rejected")
	}
	page, err := e.List(context.Background(), engine.CallQuery{Tenant: "1", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Calls {
		if !before[c.ID] {
			return c.ID
		}
	}
	t.Fatal("no call recorded for the inbound call")
	return ""
}

func groupApp(id, number string) *engine.App {
	return &engine.App{Tenant: "1", ID: id, Number: number, Route: &ivr.Action{Type: ivr.RouteGroup, Target: "g"}, RingTime: 1}
}

// A direct route to a group: the caller is answered, hears the ringback,
// the group's members are rung in round-robin order with the caller's
// number and name, and the record says it all.
func TestInboundDirectRouteToGroupRoundRobin(t *testing.T) {
	e, b := inboundEngine(t, nil, 2, nil, nil, groupApp("app1", "5550100"))
	var agents []string
	for i, caller := range []string{"9001", "9002"} {
		ic := newInbound(b, caller, "Caller "+caller, "5550100")
		id := offer(t, e, ic)
		waitBridged(t, e, b, id)
		if p := b.media.playsOf("ringback.wav"); len(p) != i+1 {
			t.Fatalf("ringback plays: %d", len(p))
		}
		ic.session.remoteHangup()
		c := finished(t, e, id)
		if c.Direction != engine.DirectionInbound || c.App != "app1" || c.Caller != caller || c.Called != "5550100" {
			t.Fatalf("record: %+v", c)
		}
		if c.Outcome != engine.OutcomeCompleted || c.HangupBy != engine.HangupFrom {
			t.Fatalf("outcome %s by %s", c.Outcome, c.HangupBy)
		}
		if len(c.Legs) != 2 || !c.Legs[0].Inbound || c.Legs[0].Number != caller || c.Legs[0].Disposition != engine.DispAnswered {
			t.Fatalf("legs: %v", dispositions(c))
		}
		to := c.Legs[1]
		if to.Side != engine.SideTo || to.GroupID != "g" || to.CallerID != caller {
			t.Fatalf("to leg: %+v", to)
		}
		agents = append(agents, to.AgentID)
	}
	if agents[0] == agents[1] {
		t.Fatalf("round robin gave both calls to %s", agents[0])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.requests {
		if r.CallerName == "" || r.CallerID == "" {
			t.Fatalf("dialed without the caller's name or number: %+v", r)
		}
	}
}

// A number no app answers is refused with 404 and leaves no call.
func TestInboundUnknownNumberIsRefused(t *testing.T) {
	e, b := inboundEngine(t, nil, 1, nil, nil, groupApp("app1", "5550100"))
	ic := newInbound(b, "9001", "", "5550199")
	e.Inbound(ic)
	<-ic.done
	if ic.rejectedWith() != 404 {
		t.Fatalf("rejected with %d", ic.rejectedWith())
	}
	page, _ := e.List(context.Background(), engine.CallQuery{Tenant: "1"})
	if len(page.Calls) != 0 {
		t.Fatalf("calls recorded: %d", len(page.Calls))
	}
}

func menuFlow() *ivr.Flow {
	return &ivr.Flow{ID: "f", Start: "main", Menus: []ivr.Menu{{
		ID: "main", Prompt: "welcome.wav", Retries: 1, InvalidPrompt: "invalid.wav",
		Options: map[string]ivr.Action{
			"1": {Type: ivr.RouteGroup, Target: "g", Prompt: "connecting.wav"},
			"2": {Type: ivr.RouteNumber, Target: "5551234"},
			"9": {Type: ivr.PlayHangup, Prompt: "bye.wav"},
		},
		Collect: &ivr.Collect{FirstDigitTimeout: 5},
	}}}
}

// waitPlay waits until the announcement has been played n times.
func waitPlay(t *testing.T, m *mediaLog, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(m.playsOf(id)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s played %d times, want %d", id, len(m.playsOf(id)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The caller meets the IVR: a wrong key gets the invalid-input notice and
// the menu again, the right key routes, and the IVR log and the keys are
// on the record.
func TestInboundIVRRoutesByKey(t *testing.T) {
	app := &engine.App{Tenant: "1", ID: "app2", Number: "5550200", Flow: menuFlow(), RingTime: 1}
	e, b := inboundEngine(t, nil, 1, nil, nil, app)
	ic := newInbound(b, "9001", "", "5550200")
	id := offer(t, e, ic)
	waitPlay(t, b.media, "welcome.wav", 1)
	b.media.press(t, "9001", "7")
	waitPlay(t, b.media, "invalid.wav", 1)
	waitPlay(t, b.media, "welcome.wav", 2)
	b.media.press(t, "9001", "2")
	waitBridged(t, e, b, id)
	if got := b.dialed(); len(got) != 1 || got[0] != "5551234" {
		t.Fatalf("dialed %v", got)
	}
	ic.session.remoteHangup()
	c := finished(t, e, id)
	if c.Outcome != engine.OutcomeCompleted || c.Legs[0].DTMF != "72" {
		t.Fatalf("outcome %s, keys %q", c.Outcome, c.Legs[0].DTMF)
	}
	var events []string
	for _, en := range c.IVR {
		events = append(events, string(en.Event)+":"+en.Digits)
	}
	want := []string{"menu:", "invalid:7", "retry:", "input:2", "exit:"}
	if !equal(events, want) {
		t.Fatalf("IVR log %v, want %v", events, want)
	}
}

// play_hangup plays its prompt and ends the call as the flow's hang-up.
func TestInboundIVRPlayHangup(t *testing.T) {
	app := &engine.App{Tenant: "1", ID: "app2", Number: "5550200", Flow: menuFlow()}
	e, b := inboundEngine(t, nil, 1, nil, nil, app)
	ic := newInbound(b, "9001", "", "5550200")
	id := offer(t, e, ic)
	waitPlay(t, b.media, "welcome.wav", 1)
	b.media.press(t, "9001", "9")
	c := finished(t, e, id)
	if c.Outcome != engine.OutcomeIVRHangup || len(b.media.playsOf("bye.wav")) != 1 || len(b.dialed()) != 0 {
		t.Fatalf("outcome %s, bye plays %d, dialed %v", c.Outcome, len(b.media.playsOf("bye.wav")), b.dialed())
	}
}

// A caller who hangs up in the IVR leaves a final record saying so.
func TestInboundCallerHangsUpInIVR(t *testing.T) {
	app := &engine.App{Tenant: "1", ID: "app2", Number: "5550200", Flow: menuFlow()}
	e, b := inboundEngine(t, nil, 1, nil, nil, app)
	ic := newInbound(b, "9001", "", "5550200")
	id := offer(t, e, ic)
	waitPlay(t, b.media, "welcome.wav", 1)
	ic.session.remoteHangup()
	c := finished(t, e, id)
	if c.Outcome != engine.OutcomeFromHungUp || c.HangupBy != engine.HangupFrom {
		t.Fatalf("outcome %s by %s", c.Outcome, c.HangupBy)
	}
	last := c.IVR[len(c.IVR)-1]
	if last.Event != ivr.EntryExit || last.Reason != ivr.ReasonCallerHangup {
		t.Fatalf("last IVR entry %+v", last)
	}
}

// The caller lookup names the caller on the record and to the agent; a
// lookup slower than its timeout is given up and the call routed anyway.
func TestInboundCallerLookup(t *testing.T) {
	for _, tc := range []struct {
		name     string
		slow     bool
		wantName string
	}{{"answers", false, "Ann Example"}, {"too slow", true, "From Invite"}} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := lookupFunc(func(ctx context.Context, app *engine.App, caller string) (*engine.CallerInfo, error) {
				if tc.slow {
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return &engine.CallerInfo{Name: "Ann Example", Email: "ann@example.com", Info: "gold"}, nil
			})
			app := groupApp("app1", "5550100")
			app.CallerLookupURL, app.CallerLookupTimeoutMS = "http://127.0.0.1:1/lookup", 100
			e, b := inboundEngine(t, nil, 1, nil, lookup, app)
			ic := newInbound(b, "9001", "From Invite", "5550100")
			id := offer(t, e, ic)
			waitBridged(t, e, b, id)
			ic.session.remoteHangup()
			c := finished(t, e, id)
			if tc.slow != (c.CallerInfo == nil) {
				t.Fatalf("caller info %+v", c.CallerInfo)
			}
			b.mu.Lock()
			got := b.requests[0].CallerName
			b.mu.Unlock()
			if got != tc.wantName {
				t.Fatalf("agent leg dialed with name %q, want %q", got, tc.wantName)
			}
		})
	}
}

// Sticky: a caller goes back to the agent who last talked to them,
// whatever the round-robin would say.
func TestInboundStickyAgent(t *testing.T) {
	e, b := inboundEngine(t, nil, 3, func(g *engine.Group) { g.Sticky = true }, nil, groupApp("app1", "5550100"))
	var agents []string
	for _, caller := range []string{"9001", "9002", "9001"} {
		ic := newInbound(b, caller, "", "5550100")
		id := offer(t, e, ic)
		waitBridged(t, e, b, id)
		ic.session.remoteHangup()
		c := finished(t, e, id)
		agents = append(agents, c.Legs[len(c.Legs)-1].AgentID)
	}
	if agents[0] != agents[2] || agents[0] == agents[1] {
		t.Fatalf("agents %v: the third call (9001 again) must go to the first call's agent", agents)
	}
}

// An inbound caller routed to a group whose members are all busy waits in
// the group's line (the group's queue_timeout, 60 s when it sets none)
// and hears hold music, as a call centre's callers do, instead of being
// hung up at once; it gets the member as soon as the member is free.
func TestInboundCallerWaitsInTheGroupsLine(t *testing.T) {
	_, _, st := agentEngine(t, nil, 1, nil, nil)
	b := newFakeBackend(nil)
	b.media = newMediaLog()
	am := &appMap{apps: map[string]*engine.App{}}
	am.PutApp(context.Background(), groupApp("app1", "5550100"))
	e := engine.New(st, b, engine.Options{NodeID: "test", Agents: st, Apps: am, HoldMusic: "hold.wav"})
	first := newInbound(b, "9001", "", "5550100")
	firstID := offer(t, e, first)
	waitBridged(t, e, b, firstID)

	second := newInbound(b, "9002", "", "5550100")
	secondID := offer(t, e, second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _ := e.Get(context.Background(), "1", secondID)
		if len(c.Legs) > 1 && c.Legs[1].Disposition == engine.DispSkipped {
			if !strings.Contains(c.Legs[1].Reason, "busy") {
				t.Fatalf("skip reason %q", c.Legs[1].Reason)
			}
			break
		}
		if !c.Live() || time.Now().After(deadline) {
			t.Fatalf("the second caller did not wait for the busy agent: %s %v", c.Outcome, dispositions(c))
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.session.remoteHangup()
	finished(t, e, firstID)
	waitBridged(t, e, b, secondID)
	second.session.remoteHangup()
	got := finished(t, e, secondID)
	if got.Outcome != engine.OutcomeCompleted || !equal(legsOf(got, engine.SideTo), []string{"ag1:skipped", "ag1:answered"}) {
		t.Fatalf("second call %s %v", got.Outcome, legsOf(got, engine.SideTo))
	}
	if len(b.media.playsOf("hold.wav")) == 0 {
		t.Fatal("the waiting caller heard no hold music")
	}
}

// The group's own queue_timeout bounds an inbound caller's wait.
func TestInboundCallerWaitsNoLongerThanTheGroupSays(t *testing.T) {
	e, b := inboundEngine(t, nil, 1, func(g *engine.Group) { g.QueueTimeout = 1 }, nil, groupApp("app1", "5550100"))
	first := newInbound(b, "9001", "", "5550100")
	firstID := offer(t, e, first)
	waitBridged(t, e, b, firstID)
	second := newInbound(b, "9002", "", "5550100")
	got := finished(t, e, offer(t, e, second))
	last := got.Legs[len(got.Legs)-1]
	if got.Outcome != engine.OutcomeToUnanswered || last.Disposition != engine.DispSkipped || !strings.Contains(last.Reason, "queue timeout: no member free within 1s") {
		t.Fatalf("second call %s, last leg %s %q", got.Outcome, last.Disposition, last.Reason)
	}
	first.session.remoteHangup()
	finished(t, e, firstID)
}
