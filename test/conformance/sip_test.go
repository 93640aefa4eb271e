package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/announce"
	"github.com/switchboard/switchboard/sip"
	"github.com/switchboard/switchboard/test/phone"
)

// The native SIP backend, its far ends the test phone on loopback SIP.
func TestNativeSIP(t *testing.T) {
	Run(t, newSIPHarness)
}

func newSIPHarness(t *testing.T) *Harness {
	ph := phone.New(t, phone.Options{})
	ann, err := announce.New(announce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := sip.New(sip.Config{
		ListenAddr:    "127.0.0.1:0",
		RTPPortMin:    43000,
		RTPPortMax:    43998,
		Trunks:        []sip.Trunk{{Name: "phones", Host: "127.0.0.1", Port: int(ph.Addr().Port())}},
		Announcements: announcements{ann},
		RecordingDir:  dir,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	// answered is number's latest answered call.
	answered := func(ctx context.Context, number string) (*phone.Call, error) {
		deadline := time.Now().Add(bound)
		for {
			calls := ph.CallsTo(number)
			for i := len(calls) - 1; i >= 0; i-- {
				if calls[i].State() == phone.Answered {
					return calls[i], nil
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("no answered call to %s", number)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return &Harness{
		Backend: b,
		Far: func(number string, f Far) {
			bh := phone.Behaviour{AnswerAfter: f.AnswerAfter}
			switch f.Action {
			case Busy:
				bh.Action = phone.Busy
			case NoAnswer:
				bh.Action = phone.RingForever
			case Reject:
				bh.Action = phone.Reject
			}
			ph.Set(number, bh)
		},
		Hangup: func(ctx context.Context, number string) error {
			c, err := answered(ctx, number)
			if err != nil {
				return err
			}
			return c.Hangup(ctx)
		},
		Press: func(ctx context.Context, number, keys string) error {
			c, err := answered(ctx, number)
			if err != nil {
				return err
			}
			return c.SendDTMF(ctx, keys)
		},
		Received: func(number string) string {
			calls := ph.CallsTo(number)
			if len(calls) == 0 {
				return ""
			}
			return calls[len(calls)-1].Digits()
		},
		Recording: func(_ context.Context, name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)+".wav"))
		},
	}
}

// announcements serves the built-in announcements to the backend.
type announcements struct{ *announce.Store }

func (a announcements) Payload(tenant, id string, c media.Codec) ([]byte, error) {
	b, err := a.Store.Payload(tenant, id, c)
	if errors.Is(err, announce.ErrNotFound) {
		err = fmt.Errorf("%w: %w", engine.ErrUnknownAnnouncement, err)
	}
	return b, err
}
