package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// writeTable prints the report: one row per step, then the notes.
func writeTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "machine: %s\nengine: %s\nstore: %s, backend: %s, mode: %s, hold %s, ring %s\n",
		rep.Machine, rep.Engine, rep.Store, rep.Backend, rep.Mode, rep.Hold, rep.Ring)
	src := "call records"
	if rep.Metrics {
		src = "/metrics"
	}
	if rep.Inbound != "" {
		fmt.Fprintf(w, "INBOUND MODE: %s\n", rep.Inbound)
		fmt.Fprintf(w, "INVITE→200 from the callers' sipp (whole ms); answer→agent INVITE from %s; CPU in %% of one core over the firing window; caller = the calling sipp\n\n", src)
		writeInboundRows(w, rep)
	} else {
		fmt.Fprintf(w, "latencies API→INVITE and A 200→B INVITE from %s; CPU in %% of one core over the firing window\n\n", src)
		writeRows(w, rep)
	}
	writeNotes(w, rep)
}

// writeRows is the table of the click-to-call modes.
func writeRows(w io.Writer, rep Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate\toffered/s\tdone/s\tcalls\tpeak live\tfailed d/e/s\tretrans\tAPI→INV p50/p99 ms\tA200→B p99 ms\tHTTP p50/p99 ms\tCPU eng\tredis\tsipp\tdriver\thost\tRSS MB\theap MB\tlive heap MB\tKiB/live call\tredis cmd/call\tUDP err/rcvbuf\t")
	for _, s := range rep.Steps {
		inv50, inv99, b99 := s.RecAPIToLegP50, s.RecAPIToLegP99, s.RecAnswerToLegP99
		if s.APIToInviteOK {
			inv50, inv99 = s.APIToInviteP50, s.APIToInviteP99
		}
		if s.AnswerToInviteOK {
			b99 = s.AnswerToInviteP99
		}
		heap := "-"
		if s.HeapOK {
			heap = fmt.Sprintf("%.0f", mb(s.Heap))
		}
		live, perCall := "-", "-"
		if s.HeapLiveOK {
			live = fmt.Sprintf("%.1f", mb(s.HeapLive))
		}
		if s.HeapPerCallOK {
			perCall = fmt.Sprintf("%.1f", s.HeapPerCall/1024)
		}
		redis := "-"
		if s.RedisCommands > 0 {
			redis = fmt.Sprintf("%.1f", s.RedisPerCall)
		}
		fmt.Fprintf(tw, "%g\t%.1f\t%.1f\t%d/%d\t%d\t%d/%d/%d\t%d\t%s/%s\t%s\t%s/%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%d/%d\t\n",
			s.Rate, s.OfferedCPS, s.CompletedCPS, s.Completed, s.Sent, s.PeakLive,
			s.FailedDriver, s.FailedEngine, s.FailedSipp, s.Sipp.Retrans+s.Sipp.Caught,
			ms(inv50), ms(inv99), ms(b99), ms(s.HTTPP50), ms(s.HTTPP99),
			s.CPUEngine, s.CPURedis, s.CPUSipp, s.CPUDriver, s.CPUMachine,
			mb(s.RSSMax), heap, live, perCall, redis, subSat(s.UDP.InErrors, s.TalkerDrops), subSat(s.UDP.RcvbufErrors, s.TalkerDrops))
	}
	tw.Flush()
}

// writeNotes prints what each step had besides its row, the baseline
// check and the notes.
func writeNotes(w io.Writer, rep Report) {
	for _, s := range rep.Steps {
		var extra []string
		if len(s.Failures) > 0 {
			extra = append(extra, "failures: "+countsLine(s.Failures))
		}
		if rep.Inbound != "" {
			extra = append(extra, callerNotes(s)...)
		}
		if s.Sipp.Unexpected+s.Sipp.MaxUDPRetrans+s.Sipp.OutOfCall+s.Sipp.DeadCall > 0 {
			extra = append(extra, fmt.Sprintf("sipp: %d unexpected messages, %d max-retransmission failures, %d out-of-call and %d dead-call messages",
				s.Sipp.Unexpected, s.Sipp.MaxUDPRetrans, s.Sipp.OutOfCall, s.Sipp.DeadCall))
		}
		if s.TalkerDrops > 0 && rep.Inbound != "" {
			extra = append(extra, fmt.Sprintf("kernel UDP: InErrors %d, RcvbufErrors %d machine-wide, of which %d at the caller's media socket (sipp never reads it: the ringback the engine plays; left out of the table) and %d at the echoing far end's",
				s.UDP.InErrors, s.UDP.RcvbufErrors, s.TalkerDrops, s.EchoDrops))
		} else if s.TalkerDrops > 0 {
			extra = append(extra, fmt.Sprintf("kernel UDP: InErrors %d, RcvbufErrors %d machine-wide, of which %d at the talking far end's media socket (sipp never reads it; left out of the table) and %d at the echoing far end's",
				s.UDP.InErrors, s.UDP.RcvbufErrors, s.TalkerDrops, s.EchoDrops))
		}
		if s.EngineSIPDrops+s.SippSIPDrops > 0 {
			extra = append(extra, fmt.Sprintf("SIP datagrams dropped by the kernel (receive buffer full): %d at the engine's SIP socket, %d at the far ends'",
				s.EngineSIPDrops, s.SippSIPDrops))
		}
		if s.RTPToOut+s.RTPFromIn > 0 {
			extra = append(extra, fmt.Sprintf("rtp: talker→engine %d, engine→echo %d, echo→engine %d, engine→talker %d packets; echo round-trip loss %.2f%%",
				s.RTPFromIn, s.RTPToOut, s.RTPToIn, s.RTPFromOut, s.EchoLoss()))
		}
		if len(s.Relay) > 0 {
			extra = append(extra, "relay counters: "+countsLine(floatCounts(s.Relay)))
		}
		if len(s.Trouble) > 0 {
			extra = append(extra, "error and stray counters: "+countsLine(floatCounts(s.Trouble)))
		}
		if len(s.MetricOutcomes) > 0 {
			extra = append(extra, "switchboard_calls_total: "+countsLine(floatCounts(s.MetricOutcomes)))
		}
		if len(s.RedisTop) > 0 {
			extra = append(extra, "redis per call: "+topCommands(s.RedisTop, s.RedisCommands, s.RedisPerCall, 6))
		}
		if s.HeapLiveOK {
			extra = append(extra, fmt.Sprintf("live heap after GC %.1f MiB at the step's peak (%d live calls at that collection; %d collections in the step); then %d goroutines, %.1f MiB of stacks (not heap)",
				mb(s.HeapLive), s.HeapLiveCalls, s.GCs, s.PeakGoroutines, mb(s.PeakStacks)))
		} else if s.Heap > 0 {
			extra = append(extra, "no collection completed while the step was sampled: no live heap per call")
		}
		if s.SendLagMax > 50*time.Millisecond {
			extra = append(extra, fmt.Sprintf("the driver fell up to %s behind its schedule", s.SendLagMax.Round(time.Millisecond)))
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, "\n%g calls/s:\n  %s\n", s.Rate, strings.Join(extra, "\n  "))
		}
	}
	writeBaseline(w, rep.Baseline)
	if rep.SippOpen > 0 {
		fmt.Fprintf(w, "\nsipp still held %d calls after everything ended (never hung up by the engine)\n", rep.SippOpen)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
}

// csvHeader and csvRow are the -out file: one row per step.
var csvHeader = []string{
	"store", "mode", "hold_s", "ring_s", "rate", "duration_s", "sent", "offered_cps", "completed", "completed_cps", "peak_live_calls",
	"failed_driver", "failed_engine", "failed_sipp", "sipp_retransmissions", "sipp_caught_retransmissions", "sipp_unexpected", "sipp_out_of_call",
	"api_to_invite_p50_ms", "api_to_invite_p99_ms", "answer_to_invite_p99_ms", "latency_source",
	"rec_api_to_leg_p50_ms", "rec_api_to_leg_p99_ms", "rec_answer_to_leg_p99_ms",
	"http_p50_ms", "http_p99_ms", "send_lag_max_ms",
	"cpu_engine_pct", "cpu_redis_pct", "cpu_sipp_pct", "cpu_driver_pct", "cpu_host_pct", "rss_max_mb", "rss_after_mb", "heap_mb",
	"heap_live_mb", "heap_live_calls", "heap_live_per_call_kib", "gc_cycles", "peak_goroutines", "peak_stacks_mb",
	"redis_commands", "redis_commands_per_call", "redis_top",
	"udp_in_errors", "udp_rcvbuf_errors", "udp_no_ports", "udp_talker_drops", "udp_echo_drops", "engine_sip_drops", "sipp_sip_drops",
	"rtp_from_in", "rtp_to_out", "rtp_to_in", "rtp_from_out", "echo_loss_pct", "relay_counters", "error_counters", "failures",
	"answer_to_invite_p50_ms", "rec_answer_to_leg_p50_ms",
	"invite_200_n", "invite_200_p50_ms", "invite_200_p95_ms", "invite_200_p99_ms", "invite_200_max_ms",
	"caller_placed", "caller_successful", "caller_failed", "caller_unexpected", "caller_recv_timeouts", "caller_max_retrans",
	"caller_retransmissions", "caller_open", "caller_late_ms", "rec_invite_to_answered_p50_ms", "rec_invite_to_answered_p99_ms",
}

func writeCSV(w io.Writer, rep Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, s := range rep.Steps {
		src := "records"
		inv50, inv99, b99 := s.RecAPIToLegP50, s.RecAPIToLegP99, s.RecAnswerToLegP99
		if s.APIToInviteOK {
			inv50, inv99, src = s.APIToInviteP50, s.APIToInviteP99, "metrics"
		}
		a50 := s.RecAnswerToLegP50
		if s.AnswerToInviteOK {
			b99, a50 = s.AnswerToInviteP99, s.AnswerToInviteP50
		}
		heap := ""
		if s.HeapOK {
			heap = f1(mb(s.Heap))
		}
		live, liveCalls, perCall := "", "", ""
		if s.HeapLiveOK {
			live, liveCalls = f1(mb(s.HeapLive)), itoa(s.HeapLiveCalls)
		}
		if s.HeapPerCallOK {
			perCall = f1(s.HeapPerCall / 1024)
		}
		row := []string{
			rep.Store, rep.Mode, f1(rep.Hold.Seconds()), f1(rep.Ring.Seconds()), strconv.FormatFloat(s.Rate, 'g', -1, 64), f1(s.Duration.Seconds()),
			itoa(s.Sent), f1(s.OfferedCPS), itoa(s.Completed), f1(s.CompletedCPS), itoa(s.PeakLive),
			itoa(s.FailedDriver), itoa(s.FailedEngine), itoa(s.FailedSipp), i64(s.Sipp.Retrans), i64(s.Sipp.Caught), i64(s.Sipp.Unexpected), i64(s.Sipp.OutOfCall),
			ms(inv50), ms(inv99), ms(b99), src,
			ms(s.RecAPIToLegP50), ms(s.RecAPIToLegP99), ms(s.RecAnswerToLegP99),
			ms(s.HTTPP50), ms(s.HTTPP99), ms(s.SendLagMax),
			f1(s.CPUEngine), f1(s.CPURedis), f1(s.CPUSipp), f1(s.CPUDriver), f1(s.CPUMachine), f1(mb(s.RSSMax)), f1(mb(s.RSSAfter)), heap,
			live, liveCalls, perCall, itoa(s.GCs), itoa(s.PeakGoroutines), f1(mb(s.PeakStacks)),
			i64(s.RedisCommands), f1(s.RedisPerCall), topCommands(s.RedisTop, s.RedisCommands, s.RedisPerCall, 0),
			u64(s.UDP.InErrors), u64(s.UDP.RcvbufErrors), u64(s.UDP.NoPorts), u64(s.TalkerDrops), u64(s.EchoDrops), u64(s.EngineSIPDrops), u64(s.SippSIPDrops),
			u64(s.RTPFromIn), u64(s.RTPToOut), u64(s.RTPToIn), u64(s.RTPFromOut), fmt.Sprintf("%.2f", s.EchoLoss()),
			countsLine(floatCounts(s.Relay)), countsLine(floatCounts(s.Trouble)), countsLine(s.Failures),
			ms(a50), ms(s.RecAnswerToLegP50),
			itoa(s.InviteN), ms(s.InviteP50), ms(s.InviteP95), ms(s.InviteP99), ms(s.InviteMax),
			i64(s.Caller.Outgoing), i64(s.Caller.Successful), i64(s.Caller.Failed), i64(s.Caller.Unexpected), i64(s.Caller.RecvTimeout), i64(s.Caller.MaxUDPRetrans),
			i64(s.Caller.Retrans), i64(s.CallerOpen), ms(s.CallerLate), ms(s.RecAnsweredP50), ms(s.RecAnsweredP99),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// topCommands renders the busiest Redis commands per call ("hset 4.0 …");
// n = 0 means all.
func topCommands(top []cmdCount, total int64, perCall float64, n int) string {
	if total == 0 || perCall == 0 {
		return ""
	}
	calls := float64(total) / perCall
	var parts []string
	for i, c := range top {
		if n > 0 && i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", c.name, float64(c.n)/calls))
	}
	return strings.Join(parts, ", ")
}

func countsLine(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s ×%d", e.k, e.v))
	}
	return strings.Join(parts, "; ")
}

func floatCounts(m map[string]float64) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}

// ms renders a duration in milliseconds, with two decimals below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
func mb(b uint64) float64 { return float64(b) / (1 << 20) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func itoa(v int) string   { return strconv.Itoa(v) }
func i64(v int64) string  { return strconv.FormatInt(v, 10) }
func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func subSat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// writeInboundRows is the table of the inbound mode: the failures are the
// caller's (c), the engine's records (e) and the far end's (s); the
// latencies are the callers' INVITE→200 (sipp) and the engine's, from
// the caller's answer to the agent's INVITE.
func writeInboundRows(w io.Writer, rep Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate\toffered/s\tdone/s\tcalls\tpeak live\tfailed c/e/s\tretrans\tINV→200 p50/p95/p99 ms\tanswer→agent INV p50/p99 ms\tCPU eng\tredis\tsipp\tcaller\thost\tRSS MB\theap MB\tlive heap MB\tKiB/live call\tredis cmd/call\tUDP err/rcvbuf\t")
	for _, s := range rep.Steps {
		a50, a99 := s.RecAnswerToLegP50, s.RecAnswerToLegP99
		if s.AnswerToInviteOK {
			a50, a99 = s.AnswerToInviteP50, s.AnswerToInviteP99
		}
		heap, live, perCall, redis := "-", "-", "-", "-"
		if s.HeapOK {
			heap = fmt.Sprintf("%.0f", mb(s.Heap))
		}
		if s.HeapLiveOK {
			live = fmt.Sprintf("%.1f", mb(s.HeapLive))
		}
		if s.HeapPerCallOK {
			perCall = fmt.Sprintf("%.1f", s.HeapPerCall/1024)
		}
		if s.RedisCommands > 0 {
			redis = fmt.Sprintf("%.1f", s.RedisPerCall)
		}
		fmt.Fprintf(tw, "%g\t%.1f\t%.1f\t%d/%d\t%d\t%d/%d/%d\t%d\t%s/%s/%s\t%s/%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%d/%d\t\n",
			s.Rate, s.OfferedCPS, s.CompletedCPS, s.Completed, s.Sent, s.PeakLive,
			s.FailedDriver, s.FailedEngine, s.FailedSipp, s.Sipp.Retrans+s.Sipp.Caught+s.Caller.Retrans,
			ms(s.InviteP50), ms(s.InviteP95), ms(s.InviteP99), ms(a50), ms(a99),
			s.CPUEngine, s.CPURedis, s.CPUSipp, s.CPUDriver, s.CPUMachine,
			mb(s.RSSMax), heap, live, perCall, redis, subSat(s.UDP.InErrors, s.TalkerDrops), subSat(s.UDP.RcvbufErrors, s.TalkerDrops))
	}
	tw.Flush()
}

// callerNotes are the inbound step's lines about its caller.
func callerNotes(s Step) []string {
	c := s.Caller
	out := []string{fmt.Sprintf("caller (sipp): %d placed, %d successful, %d failed (%d unexpected messages, %d receive timeouts, %d max-retransmission), %d retransmissions, %d out-of-call and %d dead-call messages; INVITE→200 of %d calls, max %s ms; records: INVITE taken → caller's ACK p50/p99 %s/%s ms",
		c.Outgoing, c.Successful, c.Failed, c.Unexpected, c.RecvTimeout, c.MaxUDPRetrans, c.Retrans, c.OutOfCall, c.DeadCall, s.InviteN, ms(s.InviteMax),
		ms(s.RecAnsweredP50), ms(s.RecAnsweredP99))}
	if len(s.Skips) > 0 {
		out = append(out, "agents skipped by calls that then completed: "+countsLine(s.Skips))
	}
	if s.CallerOpen > 0 {
		out = append(out, fmt.Sprintf("the caller still held %d calls when it was stopped", s.CallerOpen))
	}
	if s.CallerLate > 0 {
		out = append(out, fmt.Sprintf("the caller fell behind its rate: its last call left about %s after the step's end", s.CallerLate.Round(100*time.Millisecond)))
	}
	if s.CallerErrors != "" {
		out = append(out, "caller's error file begins: "+strings.ReplaceAll(s.CallerErrors, "\n", " | "))
	}
	return out
}
