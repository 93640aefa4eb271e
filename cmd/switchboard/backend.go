package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/api"
	"github.com/switchboard/switchboard/engine/metrics"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/announce"
	"github.com/switchboard/switchboard/sip"
	"github.com/switchboard/switchboard/sip/asterisk"
)

// callBackend is what serve needs of a backend: the engine's seam,
// inbound calls, and an end. Both backends are one.
type callBackend interface {
	engine.Backend
	OnInbound(func(engine.InboundCall))
	Close() error
}

var (
	_ callBackend = (*sip.Backend)(nil)
	_ callBackend = (*asterisk.Backend)(nil)
)

// wiredBackend is a started backend and what it gives the HTTP API.
type wiredBackend struct {
	callBackend
	// recordings serves GET /v1/calls/{id}/recording; nil: not recorded.
	recordings iofs.FS
	// announcements is the announcement store as the API should change it.
	announcements api.Announcements
	// attrs describe the backend in the "ready" log line.
	attrs []any
}

// startBackend starts the configured backend and registers its metrics.
func startBackend(ctx context.Context, cfg *Config, ann *announce.Store, reg prometheus.Registerer, log *slog.Logger) (*wiredBackend, error) {
	if cfg.Backend == backendARI {
		return startAsterisk(ctx, cfg, ann, reg, log)
	}
	return startSIP(ctx, cfg, ann, reg, log)
}

// startSIP starts the native SIP backend: it plays the announcements
// itself and records into the recordings directory.
func startSIP(ctx context.Context, cfg *Config, ann *announce.Store, reg prometheus.Registerer, log *slog.Logger) (*wiredBackend, error) {
	recordings, err := openRecordings(cfg.Recordings.Dir)
	if err != nil {
		return nil, err
	}
	sc := sipConfig(cfg.SIP)
	sc.Announcements = playable{ann}
	sc.RecordingDir = cfg.Recordings.Dir
	backend, err := sip.New(sc, log)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	if err := backend.Start(ctx); err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	if err := metrics.RegisterSIP(reg, func() metrics.SIPStats { return sipStats(backend.Stats()) }); err != nil {
		backend.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &wiredBackend{callBackend: backend, recordings: recordings, announcements: ann,
		attrs: []any{"backend", backendSIP, "sip", cfg.SIP.Listen}}, nil
}

// startAsterisk starts the Asterisk backend: Asterisk plays the
// announcements (from ari.sounds_dir when set) and keeps the recordings,
// which the API serves through ARI.
func startAsterisk(ctx context.Context, cfg *Config, ann *announce.Store, reg prometheus.Registerer, log *slog.Logger) (*wiredBackend, error) {
	ac := cfg.ARI.asteriskConfig()
	var announcements api.Announcements = ann
	if cfg.ARI.SoundsDir != "" {
		exp, err := announce.NewExport(ann, cfg.ARI.SoundsDir)
		if err != nil {
			return nil, fmt.Errorf("ari.sounds_dir: %w", err)
		}
		if err := exp.Sync(); err != nil {
			return nil, fmt.Errorf("ari.sounds_dir: %w", err)
		}
		ac.Media = soundsMedia(ann, exp, cfg.ARI.asteriskSoundsDir(), log)
		announcements = exportingAnnouncements{Store: ann, exp: exp, log: log}
		log.Info("announcements: written for Asterisk", "sounds_dir", exp.Dir(), "as_seen_by_asterisk", cfg.ARI.asteriskSoundsDir())
	} else {
		log.Warn("ari.sounds_dir is not set: Asterisk plays an announcement id such as welcome.wav as sound:welcome from its own sounds directory, so uploads cannot be played")
	}
	if cfg.Recordings.Dir != "" {
		log.Warn("recordings.dir is not used with the Asterisk backend: Asterisk keeps the recordings, served through ARI", "dir", cfg.Recordings.Dir)
	}
	backend, err := asterisk.New(ac, log)
	if err != nil {
		return nil, fmt.Errorf("ari: %w", err)
	}
	if err := backend.Start(ctx); err != nil {
		backend.Close()
		return nil, fmt.Errorf("ari: connecting to Asterisk (check ari.url, ari.user, ari.password and ari.app against its http.conf and ari.conf): %w", err)
	}
	err = metrics.RegisterAsterisk(reg, func() metrics.AsteriskStats {
		s := backend.Stats()
		return metrics.AsteriskStats{
			Events: s.Events, EventsUnrouted: s.Unrouted, EventsUndecodable: s.Undecodable,
			Reconnects: s.Reconnects, Reconciles: s.Reconciles, ReconciledEnds: s.ReconciledEnds,
			InboundOffered: s.Inbound, InboundRefusedNoHandler: s.InboundRefused,
			Connected: backend.Ready() == nil,
		}
	})
	if err != nil {
		backend.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &wiredBackend{callBackend: backend, recordings: backend.Recordings(), announcements: announcements,
		attrs: []any{"backend", backendARI, "ari_app", cfg.ARI.app()}}, nil
}

// soundsMedia maps an announcement to its exported file as Asterisk
// plays it: "sound:" and the absolute path without ".wav". An
// announcement the store does not have, or that cannot be written, is
// unknown (the engine records the play as failed).
func soundsMedia(ann *announce.Store, exp *announce.Export, asteriskDir string, log *slog.Logger) func(engine.Announcement) (string, bool) {
	return func(a engine.Announcement) (string, bool) {
		an, err := ann.Lookup(a.Tenant, a.ID)
		if err != nil {
			if !errors.Is(err, announce.ErrNotFound) {
				log.Warn("announcement look-up failed", "tenant", a.Tenant, "announcement", a.ID, "err", err)
			}
			return "", false
		}
		path, err := exp.Ensure(an)
		if err != nil {
			log.Warn("announcement could not be written for Asterisk", "tenant", a.Tenant, "announcement", a.ID, "err", err)
			return "", false
		}
		rel, err := filepath.Rel(exp.Dir(), path)
		if err != nil {
			return "", false
		}
		return "sound:" + filepath.ToSlash(filepath.Join(asteriskDir, strings.TrimSuffix(rel, ".wav"))), true
	}
}

// exportingAnnouncements is the announcement store whose uploads and
// deletes through the API are followed in the export for Asterisk. An
// upload whose copy could not be written is still stored: its copy is
// written again before it is played.
type exportingAnnouncements struct {
	*announce.Store
	exp *announce.Export
	log *slog.Logger
}

func (e exportingAnnouncements) Add(tenant string, up announce.Upload, audio io.Reader) (*announce.Announcement, error) {
	a, err := e.Store.Add(tenant, up, audio)
	if err == nil {
		if perr := e.exp.Put(a); perr != nil {
			e.log.Warn("announcement could not be written for Asterisk", "tenant", tenant, "announcement", a.ID, "err", perr)
		}
	}
	return a, err
}

func (e exportingAnnouncements) Delete(tenant, id string) error {
	err := e.Store.Delete(tenant, id)
	if err == nil {
		if rerr := e.exp.Remove(tenant, id); rerr != nil {
			e.log.Warn("the copy for Asterisk of a deleted announcement could not be removed", "tenant", tenant, "announcement", id, "err", rerr)
		}
	}
	return err
}

func sipStats(s sip.Stats) metrics.SIPStats {
	return metrics.SIPStats{
		StrayDropped: s.Stray.Dropped,
		StrayACKs:    s.Stray.ACKs,
		StrayBYEs:    s.Stray.BYEs,
		RTPReceived:  s.RTP.PacketsReceived,
		RTPForwarded: s.RTP.PacketsSent,
		RTPRejected:  s.RTP.Rejected,
		RTPInvalid:   s.RTP.Invalid,
		RTPDropped:   s.RTP.Dropped,

		InboundAccepted:          s.Inbound.Accepted,
		InboundRefusedNotTrunk:   s.Inbound.RefusedNotTrunk,
		InboundRefusedBadRequest: s.Inbound.RefusedBadRequest,
		InboundRefusedNoHandler:  s.Inbound.RefusedNoHandler,
	}
}

func sipConfig(c SIPConfig) sip.Config {
	sc := sip.Config{
		ListenAddr:  c.Listen,
		Transport:   c.Transport,
		AdvertiseIP: c.AdvertiseIP,
		UserAgent:   c.UserAgent,
		RTPPortMin:  c.RTPPortMin,
		RTPPortMax:  c.RTPPortMax,

		MediaTimeout: c.MediaTimeout.Duration,
	}
	for _, t := range c.Trunks {
		sc.Trunks = append(sc.Trunks, sip.Trunk{
			Name: t.Name, Host: t.Host, Port: t.Port, Transport: t.Transport,
			Username: t.Username, Password: t.Password, CallerID: t.CallerID, Prefixes: t.Prefixes,
			Sources: t.Sources,
		})
	}
	return sc
}

// playable serves the announcement store to the SIP backend, which tells
// an unknown announcement by engine.ErrUnknownAnnouncement.
type playable struct{ *announce.Store }

func (p playable) Payload(tenant, id string, c media.Codec) ([]byte, error) {
	b, err := p.Store.Payload(tenant, id, c)
	if errors.Is(err, announce.ErrNotFound) {
		err = fmt.Errorf("%w: %w", engine.ErrUnknownAnnouncement, err)
	}
	return b, err
}

// openRecordings makes sure the recordings directory exists and returns
// it for the API to serve from (nil when recording is off).
func openRecordings(dir string) (iofs.FS, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	return os.DirFS(dir), nil
}
