package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

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

	h := &Harness{
		Backend: b,
		Recording: func(_ context.Context, name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)+".wav"))
		},
	}
	phoneEnds(h, ph)
	return h
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
