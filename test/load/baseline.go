package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// The engine's memory is judged by the live heap after garbage collection
// (go_gc_heap_live_bytes, /gc/heap/live:bytes of runtime/metrics): what
// the last collection found reachable. It changes only when a collection
// completes, and an idle engine allocates so little that its runtime may
// not collect for up to two minutes (Go forces one every two minutes). The
// harness therefore makes the engine collect when it needs a fresh
// reading: it scrapes /metrics back to back — every scrape allocates in
// the engine and keeps nothing — until the engine has completed two more
// collections (the second one also frees what sync.Pools held at the
// first). That is done for the baseline before the first step and for the
// readings after the run, never while a step runs: under load the engine
// collects often enough by itself.

const (
	// sipStateLifetime is how long the native SIP backend keeps what it
	// remembers of a call after the call ended (64×T1: transactions and
	// the INVITEs it recognises stray answers to).
	sipStateLifetime = 32 * time.Second
	// goroutineTolerance is how many goroutines more than the baseline
	// still count as "back": the few a process starts once, on first use
	// (a lazily started worker of a library, the HTTP server's handling
	// of the probe's own request), are not a leak; one leaked per call
	// would show as hundreds or thousands.
	goroutineTolerance = 10
	// heapToleranceFixed and heapTolerancePerPeak bound the live heap
	// that may stay above the baseline after the run without being a
	// leak. Fixed: what a process builds once, on first use (the
	// announcement prompts, encoders' tables), and the Redis client's
	// pool, whose idle connections keep 64 KiB of buffers each (about
	// 2 MiB measured). Per peak live call: the Go runtime never frees a
	// goroutine's descriptor (it reuses them), so the 4 goroutines of a
	// bridged call leave about 2 KiB each after the peak, and Go maps
	// never shrink (the engine's and the SIP backend's tables of calls,
	// transactions and INVITEs keep the room they grew to). A leak that
	// grows with the calls placed is told from this by its size per call
	// placed (printed) on a run of many times the peak.
	heapToleranceFixed   = 4 << 20
	heapTolerancePerPeak = 4 << 10
	// recordAllowance is the live heap a record of an ended call may take
	// in the memory store, which keeps every record in the engine for its
	// retention (1 h in the harness's configuration). A plain call's
	// record (the call and two legs, cloned into the store, and its
	// place in the indexes) measured about 2.5 KiB.
	recordAllowance = 8 << 10
	// gcBound bounds one attempt to make the engine collect.
	gcBound = 30 * time.Second
)

// engineState is one reading of the engine's live state and memory.
type engineState struct {
	At time.Time
	// LiveCalls is switchboard_live_calls, or from the tenant's listing
	// of live calls (0 or 1, "any") when the engine has no /metrics.
	LiveCalls float64
	LiveOK    bool
	// Goroutines is go_goroutines.
	Goroutines   int
	GoroutinesOK bool
	// HeapLive is go_gc_heap_live_bytes; GCCycles the collections the
	// engine completed (go_gc_cycles_total_gc_cycles_total).
	HeapLive  uint64
	GCCycles  uint64
	HeapOK    bool
	HeapAlloc uint64 // go_memstats_heap_alloc_bytes (garbage included)
	// Stacks is go_memstats_stack_inuse_bytes: goroutine stacks, which
	// are not heap and not in HeapLive.
	Stacks uint64
	// Keys is the Redis store's live state (with Redis only).
	Keys liveKeys
}

// liveKeys counts the members of the Redis store's keys of live state: the
// node's live set and its :gone hash, the reservations (call:<id> fields
// of the agents' state hashes) and waiting lines of the run's tenant, and,
// for information only, every other node's live sets under <prefix>:live:*
// and the node registry (<prefix>:live:nodes, which keeps every node that
// ever had a live call, by design).
type liveKeys struct {
	OK           bool
	Live         int64 // SCARD <prefix>:live:{n:<node>}
	Gone         int64 // HLEN <prefix>:live:{n:<node>}:gone
	Reservations int64
	Queued       int64 // ZCARD of the tenant's queue:* sets
	OtherNodes   int64 // members of other nodes' live sets and :gone hashes
	Nodes        int64 // SCARD <prefix>:live:nodes
}

// held is what has to be back to the baseline: the node's live set and
// its :gone notes, reservations and waiting lines.
func (k liveKeys) held() int64 { return k.Live + k.Gone + k.Reservations + k.Queued }

func (k liveKeys) String() string {
	return fmt.Sprintf("live set %d, gone %d, reservations %d, queued %d (other nodes' live sets %d, node registry %d)",
		k.Live, k.Gone, k.Reservations, k.Queued, k.OtherNodes, k.Nodes)
}

// stateFrom reads an engine state out of one scrape.
func stateFrom(m metrics, at time.Time) engineState {
	s := engineState{At: at}
	if v, ok := m.sum("switchboard_live_calls"); ok {
		s.LiveCalls, s.LiveOK = v, true
	}
	if v, ok := m.sum("go_goroutines"); ok {
		s.Goroutines, s.GoroutinesOK = int(v), true
	}
	h, okH := m.sum("go_gc_heap_live_bytes")
	c, okC := m.sum("go_gc_cycles_total_gc_cycles_total")
	if okH && okC {
		s.HeapLive, s.GCCycles, s.HeapOK = uint64(h), uint64(c), true
	}
	if v, ok := m.sum("go_memstats_heap_alloc_bytes"); ok {
		s.HeapAlloc = uint64(v)
	}
	if v, ok := m.sum("go_memstats_stack_inuse_bytes"); ok {
		s.Stacks = uint64(v)
	}
	return s
}

// collect makes the engine complete n more garbage collections by
// scraping /metrics back to back, bounded by gcBound, and returns the
// reading after them; ok is false when the engine did not collect in time
// (or exposes no collection counter).
func (c *client) collect(ctx context.Context, n uint64) (engineState, int, bool) {
	m, ok := c.scrape(ctx)
	first := stateFrom(m, time.Now())
	if !ok || !first.HeapOK {
		return first, 1, false
	}
	deadline := time.Now().Add(gcBound)
	scrapes := 1
	for ctx.Err() == nil && time.Now().Before(deadline) {
		m, ok := c.scrape(ctx)
		scrapes++
		if !ok {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		s := stateFrom(m, time.Now())
		if s.HeapOK && s.GCCycles >= first.GCCycles+n {
			return s, scrapes, true
		}
	}
	return first, scrapes, false
}

// readState reads the engine's state through the probe client (one
// keep-alive connection), with the Redis store's live state.
func readState(ctx context.Context, probe *client, rp *redisProbe, node, tenant string) engineState {
	m, ok := probe.scrape(ctx)
	s := stateFrom(m, time.Now())
	if !ok || !s.LiveOK {
		if live, err := probe.anyLive(ctx); err == nil {
			s.LiveOK = true
			s.LiveCalls = 0
			if live {
				s.LiveCalls = 1
			}
		}
	}
	s.Keys = rp.liveState(ctx, node, tenant)
	return s
}

// Baseline is the return-to-baseline check: the engine's state before the
// first step against its state once the run's calls ended, the SIP
// backend's memory of them expired and the engine collected.
type Baseline struct {
	Before, After engineState
	// Collected says both readings follow collections the harness made
	// the engine run (otherwise the live heap is as the last collection
	// of the engine's own left it).
	BeforeCollected, AfterCollected bool
	// Waited is the time from the last step's drain to the last reading.
	Waited time.Duration
	// Calls is every call the run placed; PeakLive the most at once.
	Calls, PeakLive int
	// MemoryStore: records stay in the engine's heap (for the retention).
	MemoryStore bool
	Redis       bool
	Notes       []string
}

// LiveBack reports whether the live calls (and, with Redis, the live
// state) are back where they started: a failure of the run.
func (b Baseline) LiveBack() bool {
	if !b.Before.LiveOK || !b.After.LiveOK || b.After.LiveCalls != b.Before.LiveCalls {
		return false
	}
	if b.Redis && (!b.Before.Keys.OK || !b.After.Keys.OK || b.After.Keys.held() != b.Before.Keys.held()) {
		return false
	}
	return true
}

// GoroutinesBack reports whether the goroutines are within
// goroutineTolerance of the baseline (ok false: not measured).
func (b Baseline) GoroutinesBack() (back, ok bool) {
	if !b.Before.GoroutinesOK || !b.After.GoroutinesOK {
		return false, false
	}
	return b.After.Goroutines <= b.Before.Goroutines+goroutineTolerance, true
}

// HeapTolerance is how far above the baseline the live heap may stay: see
// heapToleranceFixed; with the memory store, plus recordAllowance for
// every call's record, which the store keeps by design.
func (b Baseline) HeapTolerance() uint64 {
	t := uint64(heapToleranceFixed) + uint64(heapTolerancePerPeak)*uint64(b.PeakLive)
	if b.MemoryStore {
		t += uint64(recordAllowance) * uint64(b.Calls)
	}
	return t
}

// HeapBack reports whether the live heap is within HeapTolerance of the
// baseline (ok false: not measured).
func (b Baseline) HeapBack() (back, ok bool) {
	if !b.Before.HeapOK || !b.After.HeapOK || b.Before.GCCycles == 0 {
		return false, false
	}
	return b.heapWithin(b.After.HeapLive), true
}

func (b Baseline) heapWithin(live uint64) bool { return live <= b.Before.HeapLive+b.HeapTolerance() }

// done reports whether every measure is back (so waiting longer cannot
// change the verdict).
func (b Baseline) done() bool {
	g, gok := b.GoroutinesBack()
	h, hok := b.HeapBack()
	return b.LiveBack() && (g || !gok) && (h || !hok)
}

// baselineEnv is what takes the engine's readings.
type baselineEnv struct {
	probe        *client
	redis        *redisProbe
	node, tenant string
	logf         func(string, ...any)
}

// takeBaseline reads the engine before the first step, after making it
// collect (a freshly started engine may not have collected at all).
func takeBaseline(ctx context.Context, env baselineEnv) (engineState, bool) {
	s, _, ok := env.probe.collect(ctx, 2)
	r := readState(ctx, env.probe, env.redis, env.node, env.tenant)
	if ok {
		r.HeapLive, r.GCCycles, r.HeapOK = s.HeapLive, s.GCCycles, s.HeapOK
	}
	return r, ok
}

// checkBaseline waits, after the last step drained, for the engine to be
// back at its baseline: the live calls and (Redis) the live state at
// once; the goroutines, and the live heap once the SIP backend forgot the
// calls (settle after the drain) and the engine collected. It polls every
// second, makes the engine collect after settle (again at most every 10 s
// while the heap is above the tolerance), and stops when everything is
// back or wait after settle has passed, keeping what it last read.
func checkBaseline(ctx context.Context, env baselineEnv, b *Baseline, drained time.Time, settle, wait time.Duration) {
	settled := drained.Add(settle)
	deadline := settled.Add(wait)
	measureHeap := b.Before.HeapOK && b.Before.GCCycles > 0
	var heap engineState
	var heapRead, lastGC time.Time
	for {
		s := readState(ctx, env.probe, env.redis, env.node, env.tenant)
		// Each collection costs the engine about as much allocation as
		// its live heap: one after settle, then at most one every 10 s
		// while the heap is above the tolerance.
		if measureHeap && !time.Now().Before(settled) &&
			(heapRead.IsZero() || (!b.heapWithin(heap.HeapLive) && time.Since(lastGC) >= 10*time.Second)) {
			g, scrapes, ok := env.probe.collect(ctx, 2)
			lastGC = time.Now()
			if ok {
				heap, heapRead = g, lastGC
				env.logf("%s after the drain: live heap after GC %.1f MiB (baseline %.1f), %d goroutines (baseline %d)",
					lastGC.Sub(drained).Round(time.Second), mb(g.HeapLive), mb(b.Before.HeapLive), g.Goroutines, b.Before.Goroutines)
			} else if ctx.Err() == nil {
				env.logf("the engine did not collect within %s (%d scrapes of /metrics)", gcBound, scrapes)
			}
		}
		s.HeapOK = !heapRead.IsZero()
		s.HeapLive, s.GCCycles, s.HeapAlloc = heap.HeapLive, heap.GCCycles, heap.HeapAlloc
		b.After = s
		b.AfterCollected = s.HeapOK
		b.Waited = time.Since(drained)
		if ctx.Err() != nil {
			return
		}
		heapDone := !measureHeap || (s.HeapOK && b.heapWithin(s.HeapLive))
		if (b.done() && heapDone) || time.Now().After(deadline) {
			if measureHeap && !s.HeapOK {
				b.Notes = append(b.Notes, "the engine did not collect after the settle time: no live heap reading")
			}
			return
		}
		sleep(ctx, time.Second)
	}
}

// writeBaseline prints the check: before, after, verdict.
func writeBaseline(w io.Writer, b *Baseline) {
	if b == nil {
		return
	}
	fmt.Fprintf(w, "\nreturn to baseline (before the first step → %s after the last step drained):\n", b.Waited.Round(time.Second))
	row := func(what, before, after, verdict string) {
		fmt.Fprintf(w, "  %-20s %14s → %-14s %s\n", what, before, after, verdict)
	}
	live := "DID NOT RETURN"
	if b.Before.LiveOK && b.After.LiveOK && b.After.LiveCalls == b.Before.LiveCalls {
		live = "back"
	} else if !b.After.LiveOK {
		live = "DID NOT RETURN (not readable)"
	}
	row("live calls", f0(b.Before.LiveCalls, b.Before.LiveOK), f0(b.After.LiveCalls, b.After.LiveOK), live)
	if b.Redis {
		v := "DID NOT RETURN"
		if b.Before.Keys.OK && b.After.Keys.OK && b.After.Keys.held() == b.Before.Keys.held() {
			v = "back"
		} else if !b.After.Keys.OK {
			v = "DID NOT RETURN (not readable)"
		}
		row("redis live state", i64(b.Before.Keys.held()), i64(b.After.Keys.held()), v)
		fmt.Fprintf(w, "  %20s before: %s\n  %20s after:  %s\n", "", b.Before.Keys, "", b.After.Keys)
	}
	if back, ok := b.GoroutinesBack(); ok {
		v := fmt.Sprintf("back (within +%d)", goroutineTolerance)
		if !back {
			v = fmt.Sprintf("REGRESSION: +%d, more than +%d", b.After.Goroutines-b.Before.Goroutines, goroutineTolerance)
		}
		row("goroutines", itoa(b.Before.Goroutines), itoa(b.After.Goroutines), v)
	} else {
		row("goroutines", "-", "-", "not measured")
	}
	if back, ok := b.HeapBack(); ok {
		d := int64(b.After.HeapLive) - int64(b.Before.HeapLive)
		v := fmt.Sprintf("back (%+.1f MiB, within %.1f MiB)", float64(d)/(1<<20), mb(b.HeapTolerance()))
		if !back {
			v = fmt.Sprintf("REGRESSION: %+.1f MiB, more than %.1f MiB", float64(d)/(1<<20), mb(b.HeapTolerance()))
		}
		row("live heap after GC", fmt.Sprintf("%.1f MiB", mb(b.Before.HeapLive)), fmt.Sprintf("%.1f MiB", mb(b.After.HeapLive)), v)
		if b.Calls > 0 {
			kept := "the engine keeps no record"
			if b.MemoryStore {
				kept = fmt.Sprintf("the memory store keeps every record; allowance %d KiB each", recordAllowance>>10)
			}
			fmt.Fprintf(w, "  %20s %+.2f KiB per call placed (%d calls; %s); tolerance %d MiB + %d KiB × %d peak live calls\n",
				"", float64(d)/1024/float64(b.Calls), b.Calls, kept, heapToleranceFixed>>20, heapTolerancePerPeak>>10, b.PeakLive)
		}
	} else {
		row("live heap after GC", "-", "-", "not measured")
	}
	var how []string
	if b.BeforeCollected && b.AfterCollected {
		how = append(how, "both heap readings follow two collections the harness made the engine run (scraping /metrics)")
	}
	how = append(how, b.Notes...)
	for _, n := range how {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	verdict := "returned to baseline"
	switch {
	case !b.LiveBack():
		verdict = "FAILED: live calls or live state did not return to baseline"
	default:
		if g, ok := b.GoroutinesBack(); ok && !g {
			verdict = "live state returned; goroutines flagged"
		}
		if h, ok := b.HeapBack(); ok && !h {
			verdict = strings.Replace(verdict, "returned to baseline", "live state returned", 1) + "; live heap flagged"
		}
	}
	fmt.Fprintf(w, "  verdict: %s\n", verdict)
}

func f0(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}
