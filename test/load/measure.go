package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports; sysconf(_SC_CLK_TCK)
// needs cgo to ask.
const clockTick = 100

// cpuTime is the CPU (user + system, all threads) a process has used, from
// /proc/<pid>/stat; 0 when the process or /proc is gone.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may hold spaces, so fields are counted after its closing parenthesis.
func parseStatCPU(s string) time.Duration {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTick
}

// rss is a process's resident set size in bytes, from /proc/<pid>/status.
func rss(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// machineIdle is the time every CPU of the machine spent idle since boot,
// from /proc/uptime, and the number of CPUs it sums over (the cpuN lines
// of /proc/stat). /proc/uptime is used rather than the tick counters of
// /proc/stat, which in some virtual machines undercount busy time.
func machineIdle() (time.Duration, int) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, 0
	}
	st, _ := os.ReadFile("/proc/stat")
	return parseUptimeIdle(string(b)), countCPUs(string(st))
}

func parseUptimeIdle(s string) time.Duration {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	idle, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0
	}
	return time.Duration(idle * float64(time.Second))
}

func countCPUs(stat string) int {
	n := 0
	for _, l := range strings.Split(stat, "\n") {
		if len(l) > 3 && strings.HasPrefix(l, "cpu") && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return n
}

// busyPercent is the machine's busy time over a window, in percent of one
// CPU: the window times the CPUs, less the idle time.
func busyPercent(idle0, idle1 time.Duration, cpus int, window time.Duration) float64 {
	if cpus == 0 || window <= 0 || idle1 == 0 {
		return 0
	}
	busy := time.Duration(cpus)*window - (idle1 - idle0)
	return max(0, 100*busy.Seconds()/window.Seconds())
}

// udpCounters are the kernel's UDP counters of /proc/net/snmp (machine
// wide: every process's sockets).
type udpCounters struct {
	InDatagrams, NoPorts, InErrors, RcvbufErrors, SndbufErrors uint64
}

func readUDP() udpCounters {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return udpCounters{}
	}
	return parseSNMP(bytes.NewReader(b))
}

// parseSNMP reads the "Udp:" header and value lines of /proc/net/snmp.
func parseSNMP(r io.Reader) udpCounters {
	var c udpCounters
	var names []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i >= len(names) {
				break
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			switch names[i] {
			case "InDatagrams":
				c.InDatagrams = n
			case "NoPorts":
				c.NoPorts = n
			case "InErrors":
				c.InErrors = n
			case "RcvbufErrors":
				c.RcvbufErrors = n
			case "SndbufErrors":
				c.SndbufErrors = n
			}
		}
		break
	}
	return c
}

func (c udpCounters) sub(o udpCounters) udpCounters {
	return udpCounters{
		InDatagrams:  c.InDatagrams - o.InDatagrams,
		NoPorts:      c.NoPorts - o.NoPorts,
		InErrors:     c.InErrors - o.InErrors,
		RcvbufErrors: c.RcvbufErrors - o.RcvbufErrors,
		SndbufErrors: c.SndbufErrors - o.SndbufErrors,
	}
}

// socketDrops is the drop counter of the UDP socket bound on
// 127.0.0.1:port (the last column of /proc/net/udp): datagrams the kernel
// discarded because that socket's receive buffer was full.
func socketDrops(port int) uint64 {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0
	}
	return parseSocketDrops(b, port)
}

func parseSocketDrops(b []byte, port int) uint64 {
	want := fmt.Sprintf("0100007F:%04X", port)
	var n uint64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 12 && f[1] == want {
			d, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
			n += d
		}
	}
	return n
}

// metrics is one scrape of a Prometheus text exposition: every sample by
// its series (name plus labels as written, labels sorted), and the type of
// each metric family.
type metrics struct {
	samples map[string]float64
	types   map[string]string
}

// series is one parsed sample name: the metric name and its labels.
type series struct {
	name   string
	labels map[string]string
}

// parseMetrics reads the Prometheus text format (version 0.0.4). Lines it
// does not understand are skipped: this is a measuring tool, not a
// validator.
func parseMetrics(r io.Reader) metrics {
	m := metrics{samples: map[string]float64{}, types: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[1] == "TYPE" {
				m.types[f[2]] = f[3]
			}
			continue
		}
		s, rest, ok := parseSeries(line)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m.samples[s.key()] = v
	}
	return m
}

// parseSeries splits `name{a="1",b="x"} rest` into the series and rest.
func parseSeries(line string) (series, string, bool) {
	s := series{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i < 0 {
		return s, "", false
	}
	s.name = line[:i]
	if line[i] != '{' {
		return s, line[i:], true
	}
	j := i + 1
	for {
		for j < len(line) && (line[j] == ' ' || line[j] == ',') {
			j++
		}
		if j >= len(line) {
			return s, "", false
		}
		if line[j] == '}' {
			return s, line[j+1:], true
		}
		eq := strings.IndexByte(line[j:], '=')
		if eq < 0 || j+eq+1 >= len(line) || line[j+eq+1] != '"' {
			return s, "", false
		}
		name := strings.TrimSpace(line[j : j+eq])
		k := j + eq + 2
		var val strings.Builder
		for ; k < len(line) && line[k] != '"'; k++ {
			if line[k] == '\\' && k+1 < len(line) {
				k++
				switch line[k] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(line[k])
				}
				continue
			}
			val.WriteByte(line[k])
		}
		if k >= len(line) {
			return s, "", false
		}
		s.labels[name] = val.String()
		j = k + 1
	}
}

func (s series) key() string {
	if len(s.labels) == 0 {
		return s.name
	}
	names := make([]string, 0, len(s.labels))
	for n := range s.labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.name)
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, s.labels[n])
	}
	b.WriteByte('}')
	return b.String()
}

// has reports whether any sample of the metric family name was scraped.
func (m metrics) has(name string) bool {
	for k := range m.samples {
		base, _, _ := strings.Cut(k, "{")
		switch base {
		case name, name + "_bucket", name + "_sum", name + "_count":
			return true
		}
	}
	return false
}

// sum adds every sample whose metric name is name (all label sets), and
// reports whether there was one.
func (m metrics) sum(name string) (float64, bool) {
	var total float64
	found := false
	for k, v := range m.samples {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
			found = true
		}
	}
	return total, found
}

// byLabel sums the samples of name by the value of one label.
func (m metrics) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m.samples {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		s, _, ok := parseSeries(k + " 0")
		if !ok {
			continue
		}
		out[s.labels[label]] += v
	}
	return out
}

// buckets returns the cumulative histogram buckets of name, summed over
// every other label, by upper bound.
func (m metrics) buckets(name string) map[float64]float64 {
	out := map[float64]float64{}
	for k, v := range m.samples {
		if !strings.HasPrefix(k, name+"_bucket{") {
			continue
		}
		s, _, ok := parseSeries(k + " 0")
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		out[le] += v
	}
	return out
}

// histogramQuantile is the q-quantile of the observations a histogram
// gained between two scrapes, interpolated linearly within the bucket it
// falls in (as PromQL's histogram_quantile does). ok is false when the
// histogram is absent or gained nothing.
func histogramQuantile(q float64, before, after metrics, name string) (float64, bool) {
	a, b := after.buckets(name), before.buckets(name)
	if len(a) == 0 {
		return 0, false
	}
	type bucket struct{ le, n float64 }
	bs := make([]bucket, 0, len(a))
	for le, n := range a {
		bs = append(bs, bucket{le, n - b[le]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	total := bs[len(bs)-1].n
	if !math.IsInf(bs[len(bs)-1].le, 1) || total <= 0 {
		return 0, false
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, bk := range bs {
		if bk.n >= rank {
			if math.IsInf(bk.le, 1) {
				// Above the highest finite bound: that bound is all we know.
				if i > 0 {
					return bs[i-1].le, true
				}
				return 0, false
			}
			inBucket := bk.n - below
			if inBucket <= 0 {
				return bk.le, true
			}
			return lower + (bk.le-lower)*(rank-below)/inBucket, true
		}
		lower, below = bk.le, bk.n
	}
	return bs[len(bs)-1].le, true
}

// sippStats are the cumulative counters of one sipp -trace_stat CSV line.
type sippStats struct {
	At            time.Time // CurrentTime
	Incoming      int64     // IncomingCall(C)
	Outgoing      int64     // OutgoingCall(C): calls a UAC placed
	Successful    int64     // SuccessfulCall(C)
	Failed        int64     // FailedCall(C)
	Current       int64     // CurrentCall
	Retrans       int64     // Retransmissions(C)
	OutOfCall     int64     // OutOfCallMsgs(C)
	DeadCall      int64     // DeadCallMsgs(C)
	Unexpected    int64     // FailedUnexpectedMessage(C)
	MaxUDPRetrans int64     // FailedMaxUDPRetrans(C)
	RecvTimeout   int64     // FailedTimeoutOnRecv(C)
	Rejected      int64     // FailedCallRejected(C)
	// Caught is the retransmitted INVITEs and CANCELs the scenario took
	// in its own steps (from -trace_counts), which sipp does not count
	// among its retransmissions.
	Caught int64
}

// lastSippStats reads the last complete line of a sipp statistics file
// (-trace_stat -stf F: ';'-separated, the first line names the columns).
func lastSippStats(path string) (sippStats, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return sippStats{}, false
	}
	return parseSippStats(b)
}

func parseSippStats(b []byte) (sippStats, bool) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return sippStats{}, false
	}
	header := strings.Split(strings.TrimRight(string(b[:nl]), "\r;"), ";")
	rest := b[nl+1:]
	end := bytes.LastIndexByte(rest, '\n')
	if end < 0 {
		return sippStats{}, false
	}
	rest = rest[:end]
	start := bytes.LastIndexByte(rest, '\n') + 1
	return parseSippLine(header, string(rest[start:]))
}

// parseSippLine reads one ';'-separated line under its header.
func parseSippLine(header []string, line string) (sippStats, bool) {
	var st sippStats
	vals := strings.Split(strings.TrimRight(line, "\r;"), ";")
	if len(vals) < len(header) {
		return st, false
	}
	col := map[string]string{}
	for i, h := range header {
		col[h] = vals[i]
	}
	num := func(name string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(col[name]), 10, 64)
		return n
	}
	// CurrentTime is "date<TAB>time<TAB>epoch.micros".
	if f := strings.Fields(col["CurrentTime"]); len(f) == 3 {
		if sec, err := strconv.ParseFloat(f[2], 64); err == nil {
			st.At = time.Unix(0, int64(sec*1e9))
		}
	}
	st.Incoming = num("IncomingCall(C)")
	st.Outgoing = num("OutgoingCall(C)")
	st.Successful = num("SuccessfulCall(C)")
	st.Failed = num("FailedCall(C)")
	st.Current = num("CurrentCall")
	st.Retrans = num("Retransmissions(C)")
	st.OutOfCall = num("OutOfCallMsgs(C)")
	st.DeadCall = num("DeadCallMsgs(C)")
	st.Unexpected = num("FailedUnexpectedMessage(C)")
	st.MaxUDPRetrans = num("FailedMaxUDPRetrans(C)")
	st.RecvTimeout = num("FailedTimeoutOnRecv(C)")
	st.Rejected = num("FailedCallRejected(C)")
	return st, true
}

func (s sippStats) sub(o sippStats) sippStats {
	return sippStats{
		At:            s.At,
		Incoming:      s.Incoming - o.Incoming,
		Outgoing:      s.Outgoing - o.Outgoing,
		Successful:    s.Successful - o.Successful,
		Failed:        s.Failed - o.Failed,
		Current:       s.Current,
		Retrans:       s.Retrans - o.Retrans,
		OutOfCall:     s.OutOfCall - o.OutOfCall,
		DeadCall:      s.DeadCall - o.DeadCall,
		Unexpected:    s.Unexpected - o.Unexpected,
		MaxUDPRetrans: s.MaxUDPRetrans - o.MaxUDPRetrans,
		RecvTimeout:   s.RecvTimeout - o.RecvTimeout,
		Rejected:      s.Rejected - o.Rejected,
		Caught:        s.Caught - o.Caught,
	}
}

func (s sippStats) add(o sippStats) sippStats {
	at := s.At
	if o.At.Before(at) || at.IsZero() {
		at = o.At
	}
	return sippStats{
		At:            at,
		Incoming:      s.Incoming + o.Incoming,
		Outgoing:      s.Outgoing + o.Outgoing,
		Successful:    s.Successful + o.Successful,
		Failed:        s.Failed + o.Failed,
		Current:       s.Current + o.Current,
		Retrans:       s.Retrans + o.Retrans,
		OutOfCall:     s.OutOfCall + o.OutOfCall,
		DeadCall:      s.DeadCall + o.DeadCall,
		Unexpected:    s.Unexpected + o.Unexpected,
		MaxUDPRetrans: s.MaxUDPRetrans + o.MaxUDPRetrans,
		RecvTimeout:   s.RecvTimeout + o.RecvTimeout,
		Rejected:      s.Rejected + o.Rejected,
		Caught:        s.Caught + o.Caught,
	}
}

// caughtRetransmissions reads the last line of a sipp -trace_counts file
// (one column per scenario step and counter, "3_INVITE_Recv") and adds
// up what the steps receiving an INVITE or a CANCEL after the first such
// step received: the load scenarios' explicit catches of retransmissions.
func caughtRetransmissions(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseCaught(b)
}

func parseCaught(b []byte) int64 {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return 0
	}
	header := strings.Split(strings.TrimRight(string(b[:nl]), "\r;"), ";")
	rest := b[nl+1:]
	end := bytes.LastIndexByte(rest, '\n')
	if end < 0 {
		return 0
	}
	rest = rest[:end]
	vals := strings.Split(strings.TrimRight(string(rest[bytes.LastIndexByte(rest, '\n')+1:]), "\r;"), ";")
	seen := map[string]bool{}
	var n int64
	for i, h := range header {
		f := strings.Split(h, "_")
		if len(f) != 3 || f[2] != "Recv" || (f[1] != "INVITE" && f[1] != "CANCEL") || i >= len(vals) {
			continue
		}
		if seen[f[1]] {
			v, _ := strconv.ParseInt(strings.TrimSpace(vals[i]), 10, 64)
			n += v
		}
		seen[f[1]] = true
	}
	return n
}

// percentile of sorted durations (nearest rank); 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
