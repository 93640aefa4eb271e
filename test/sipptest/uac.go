package sipptest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// UACOptions say how to run one sipp UAC: one call, placed at once.
type UACOptions struct {
	// Scenario is a file name of test/sipp or a path. Its text may name
	// "[keys_pcap]", replaced with the path of a capture of Keys.
	Scenario string
	// Target is Switchboard's SIP address; Service the number dialed
	// (sipp -s).
	Target  netip.AddrPort
	Service string
	// Keys are pressed as RFC 4733 telephone-events (payload type 101),
	// written to a pcap for the scenario's play_pcap_audio.
	Keys string
	// Vars are the scenario's own keywords: each "[name]" in its text is
	// replaced with the value before sipp reads it (sipp's -key does not
	// reach attributes such as a pause's milliseconds).
	Vars map[string]string
	// Timeout bounds the process (sipp -timeout); default 60 s.
	Timeout time.Duration
}

// UACResult is how a UAC run ended.
type UACResult struct {
	// OK: sipp exited 0, its one call successful.
	OK bool
	// Output is what sipp printed; Messages its message log.
	Output, Messages string
}

// RunUAC places one call with sipp from 127.0.0.1 and waits until sipp
// exits. The test is skipped when sipp is not installed.
func RunUAC(t testing.TB, opts UACOptions) UACResult {
	t.Helper()
	if !Available() {
		t.Skip("sipp is not installed (apt-get install sip-tester)")
	}
	if !opts.Target.Addr().IsLoopback() {
		t.Fatalf("sipp UAC target %v is not a loopback address", opts.Target)
	}
	scenario := opts.Scenario
	if !filepath.IsAbs(scenario) && !strings.ContainsRune(scenario, os.PathSeparator) {
		scenario = filepath.Join(ScenarioDir(), scenario)
	}
	text, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatalf("sipp scenario: %v", err)
	}
	dir := t.TempDir()
	if opts.Keys != "" {
		pcap := filepath.Join(dir, "keys.pcap")
		if err := os.WriteFile(pcap, KeysPcap(opts.Keys), 0o600); err != nil {
			t.Fatal(err)
		}
		text = bytes.ReplaceAll(text, []byte("[keys_pcap]"), []byte(pcap))
	}
	for k, v := range opts.Vars {
		text = bytes.ReplaceAll(text, []byte("["+k+"]"), []byte(v))
	}
	scenario = filepath.Join(dir, filepath.Base(scenario))
	if err := os.WriteFile(scenario, text, 0o600); err != nil {
		t.Fatal(err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	sipPort, err := freePort("udp", 1)
	if err != nil {
		t.Fatal(err)
	}
	mediaPort, err := freePort("udp", 2)
	if err != nil {
		t.Fatal(err)
	}
	ctlPort, err := freePort("udp", 1)
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "messages.log")
	args := []string{
		opts.Target.String(),
		"-sf", scenario, "-s", opts.Service, "-m", "1", "-l", "1",
		"-i", Loopback.String(), "-p", strconv.Itoa(sipPort),
		"-mi", Loopback.String(), "-mp", strconv.Itoa(mediaPort),
		"-ci", Loopback.String(), "-cp", strconv.Itoa(ctlPort),
		"-bind_local", "-t", "u1",
		"-trace_msg", "-message_file", logFile,
		"-timeout", fmt.Sprintf("%ds", int(timeout.Seconds())), "-timeout_error",
		"-nostdin",
	}
	cmd := exec.Command(Binary, args...)
	dieWithParent(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	msgs, _ := os.ReadFile(logFile)
	return UACResult{OK: runErr == nil, Output: out.String(), Messages: string(msgs)}
}

// KeysPcap returns a capture of keys pressed as RFC 4733 telephone-events
// (payload type 101) on an RTP stream, for sipp's play_pcap_audio: each
// key sent for 100 ms in 20 ms packets, its end packet three times, 200
// ms between keys. sipp replays the RTP with the capture's timing to the
// media address of the answer it received.
func KeysPcap(keys string) []byte {
	var b bytes.Buffer
	// Global header: microsecond timestamps, Ethernet link type.
	binary.Write(&b, binary.LittleEndian, []uint32{0xa1b2c3d4})
	binary.Write(&b, binary.LittleEndian, []uint16{2, 4})
	binary.Write(&b, binary.LittleEndian, []uint32{0, 0, 65535, 1})
	var (
		at  time.Duration
		seq uint16 = 1000
		ts  uint32 = 8000
	)
	packet := func(event byte, end bool, duration uint16, marker bool) {
		rtp := make([]byte, 16)
		rtp[0] = 0x80
		rtp[1] = 101
		if marker {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], seq)
		binary.BigEndian.PutUint32(rtp[4:], ts)
		binary.BigEndian.PutUint32(rtp[8:], 0x5157b0a7)
		rtp[12] = event
		rtp[13] = 10 // volume -10 dBm0
		if end {
			rtp[13] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[14:], duration)
		seq++
		frame := udpFrame(rtp)
		us := at.Microseconds()
		binary.Write(&b, binary.LittleEndian, []uint32{uint32(us / 1e6), uint32(us % 1e6), uint32(len(frame)), uint32(len(frame))})
		b.Write(frame)
	}
	for _, k := range keys {
		event := keyEvent(k)
		for i := 1; i <= 5; i++ {
			packet(event, false, uint16(160*i), i == 1)
			at += 20 * time.Millisecond
		}
		for range 3 {
			packet(event, true, 800, false)
			at += 20 * time.Millisecond
		}
		ts += 800 + 1600
		at += 200 * time.Millisecond
	}
	return b.Bytes()
}

// keyEvent is a key's RFC 4733 event code.
func keyEvent(k rune) byte {
	switch {
	case k >= '0' && k <= '9':
		return byte(k - '0')
	case k == '*':
		return 10
	case k == '#':
		return 11
	case k >= 'A' && k <= 'D':
		return byte(12 + k - 'A')
	}
	panic(fmt.Sprintf("sipptest: %q is no DTMF key", k))
}

// udpFrame wraps payload in Ethernet, IPv4 and UDP headers between
// loopback ports; sipp reads only the UDP payload.
func udpFrame(payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 1})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 40002)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(f[42:], payload)
	return f
}
