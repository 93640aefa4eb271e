package sip

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/sipptest"
)

func TestDigestAuth(t *testing.T) {
	tests := []struct {
		name, user, pass string
		disp             engine.Disposition
		code             int
	}{
		{"good credentials", "alice", "secret", engine.DispAnswered, 0},
		{"wrong password", "alice", "wrong", engine.DispFailed, 403},
		{"no credentials", "", "", engine.DispFailed, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_auth.xml"})
			tr := trunkTo("sipp", uas)
			tr.Username, tr.Password = tt.user, tt.pass
			b := startBackend(t, tr)
			sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "a1", LegID: "a1-1", Number: "1000"}, nil)
			if tt.disp == engine.DispAnswered {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if err := sess.Hangup(context.Background(), nil); err != nil {
					t.Fatalf("Hangup: %v", err)
				}
				c := uas.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 })
				if c.Requests["INVITE"] != 2 || c.Responses[401] != 1 {
					t.Fatalf("sipp counts %+v", c)
				}
				return
			}
			de := dialErr(t, err)
			if de.Disposition != tt.disp || de.SIPCode != tt.code {
				t.Fatalf("got %v", de)
			}
		})
	}
}

func TestTCPTrunk(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml", Transport: "tcp"})
	tr := trunkTo("sipp", uas)
	tr.Transport = "tcp"
	b := startBackend(t, tr)
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "t1", LegID: "t1-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := sess.Hangup(context.Background(), nil); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	c := uas.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 })
	if c.Requests["INVITE"] != 1 || c.Requests["ACK"] != 1 {
		t.Fatalf("sipp counts %+v", c)
	}
}

func TestDialRefusedBeforeSending(t *testing.T) {
	trunks := []Trunk{{Name: "us", Host: "127.0.0.1", Port: 9, Prefixes: []string{"1"}}}
	b, err := New(Config{ListenAddr: "127.0.0.1:0", RTPPortMin: 42000, RTPPortMax: 42998, Trunks: trunks}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	req := engine.DialRequest{CallID: "x", LegID: "x-1", Number: "1555"}
	if de := dialErr(t, second(b.Dial(context.Background(), req, nil))); de.Disposition != engine.DispFailed || !errors.Is(de, ErrNotStarted) {
		t.Fatalf("not started: %v", de)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err == nil {
		t.Fatal("started twice")
	}

	bad := req
	bad.Number = "1 555"
	if de := dialErr(t, second(b.Dial(context.Background(), bad, nil))); de.Reason != "bad number" {
		t.Fatalf("bad number: %v", de)
	}
	bad = req
	bad.Number = "4420"
	if de := dialErr(t, second(b.Dial(context.Background(), bad, nil))); de.Reason != "no route" {
		t.Fatalf("no route: %v", de)
	}
	bad = req
	bad.CallerID = "<evil>"
	if de := dialErr(t, second(b.Dial(context.Background(), bad, nil))); de.Reason != "bad caller id" {
		t.Fatalf("bad caller id: %v", de)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(engine.ErrCallStopped)
	if de := dialErr(t, second(b.Dial(ctx, req, nil))); de.Disposition != engine.DispCanceled || !errors.Is(de, engine.ErrCallStopped) {
		t.Fatalf("cancelled: %v", de)
	}
	if b.ActiveStreams() != 0 {
		t.Fatalf("%d streams", b.ActiveStreams())
	}

	// Bridge refuses what is not its own.
	if _, err := b.Bridge(nil, nil); err == nil {
		t.Fatal("bridged nothing")
	}
}

func second(_ engine.Session, err error) error { return err }
