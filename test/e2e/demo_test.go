package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's first command and first call: `switchboard demo`, then
// `switchboard call`, complete a bridged call whose record shows both legs
// answered; the busy and rejecting phones are skipped on the way.
func TestDemoCompletesAClickToCall(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	out := &syncBuffer{}
	demo := exec.Command(binary, "demo", "--http", httpAddr,
		"--sip", fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp")),
		"--phones", fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp")))
	demo.Stdout, demo.Stderr = out, out
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { demo.Wait(); close(exited) }()
	n := &node{t: t, base: "http://" + httpAddr, cmd: demo, out: out, exited: exited}
	t.Cleanup(func() {
		n.stop(syscall.SIGINT)
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "curl -s -X POST") {
		if time.Now().After(deadline) {
			t.Fatalf("demo never printed its curl line:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var stdout bytes.Buffer
	call := exec.Command(binary, "call", "--server", n.base, "--user-id", "1", "--token", "demo",
		"from=9000000007,9000000001", "to=9000000009,9000000008,9000000002", "toRingTime=3", "timeLimit=2")
	call.Stdout, call.Stderr = &stdout, &stdout
	if err := call.Run(); err != nil {
		t.Fatalf("switchboard call: %v\n%s", err, stdout.String())
	}
	text := stdout.String()
	for _, want := range []string{"busy (486)", "rejected (603)", "noanswer", "call.bridged", "call.ended"} {
		if !strings.Contains(text, want) {
			t.Fatalf("call output lacks %q:\n%s", want, text)
		}
	}
	// The final record is the JSON object printed last.
	var rec struct {
		Outcome string `json:"outcome"`
		Legs    []struct {
			Number      string `json:"number"`
			Disposition string `json:"disposition"`
		} `json:"legs"`
	}
	if err := json.Unmarshal([]byte(text[strings.Index(text, "\n{")+1:]), &rec); err != nil {
		t.Fatalf("final record: %v\n%s", err, text)
	}
	answered := 0
	for _, l := range rec.Legs {
		if l.Disposition == "answered" {
			answered++
		}
	}
	if rec.Outcome != "completed" || len(rec.Legs) != 5 || answered != 2 {
		t.Fatalf("record %+v", rec)
	}
}
