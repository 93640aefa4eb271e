package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/api"
	"github.com/switchboard/switchboard/engine/metrics"
	"github.com/switchboard/switchboard/engine/store/memory"
	redisstore "github.com/switchboard/switchboard/engine/store/redis"
	"github.com/switchboard/switchboard/engine/webhook"
	"github.com/switchboard/switchboard/media/announce"
	"github.com/switchboard/switchboard/sip/demophone"
)

// demoPhonesAddr is where `switchboard demo` puts its simulated phones.
const demoPhonesAddr = "127.0.0.1:5070"

func runServe(args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file (see configs/switchboard.example.yaml)")
	httpAddr := fs.String("http", "", "HTTP API listen address (default 127.0.0.1:8080)")
	sipAddr := fs.String("sip", "", "SIP listen address (default 127.0.0.1:5060)")
	redisURL := fs.String("redis", "", "Redis URL for live state and records; empty means the in-process memory store")
	nodeID := fs.String("node-id", "", "this node's id in records (default: random)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	annDir := fs.String("announcements", "", "directory announcement uploads are written to; empty means memory (lost at restart)")
	recDir := fs.String("recordings", "", "directory call recordings are written to; empty means calls are not recorded")
	phonesAddr := fs.String("phones", demoPhonesAddr, "demo only: where the simulated phones listen")
	backendName := fs.String("backend", "", "what calls are driven on: sip (the native SIP backend, default) or ari (Asterisk)")
	ariURL := fs.String("ari-url", "", "with --backend ari: the ARI REST base, such as http://127.0.0.1:8088/ari")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}

	cfg := defaultConfig()
	if *configPath != "" {
		if err := loadFile(&cfg, *configPath); err != nil {
			return err
		}
	}
	if err := applyEnv(&cfg, os.Getenv); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	for flagValue, dst := range map[*string]*string{httpAddr: &cfg.HTTP, sipAddr: &cfg.SIP.Listen, redisURL: &cfg.Redis, nodeID: &cfg.NodeID, logLevel: &cfg.LogLevel, annDir: &cfg.Announcements.Dir, recDir: &cfg.Recordings.Dir,
		backendName: &cfg.Backend, ariURL: &cfg.ARI.URL} {
		if *flagValue != "" {
			*dst = *flagValue
		}
	}
	if demo {
		addDemoSettings(&cfg, *phonesAddr)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if cfg.NodeID == "" {
		cfg.NodeID = defaultNodeID(&cfg)
	}
	return serve(cfg, serveOptions{demo: demo, phones: *phonesAddr, log: newLogger(cfg.LogLevel)})
}

// serveOptions are what serve takes beside the configuration.
type serveOptions struct {
	demo   bool
	phones string // demo: where the simulated phones listen
	log    *slog.Logger
	// signals, when set, stands for the process's SIGTERM and SIGINT
	// (tests); nil: serve listens for them.
	signals <-chan os.Signal
	// listening, when set, is told the HTTP API's address once it serves.
	listening func(addr string)
}

// serve runs a node with a checked configuration until a signal stops
// it: the store, the backend, the engine and the HTTP API.
func serve(cfg Config, o serveOptions) error {
	log, demo := o.log, o.demo
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// Both stores keep calls (engine.Store), agents (engine.AgentStore)
	// and apps (engine.AppStore).
	var store interface {
		engine.Store
		engine.AgentStore
		engine.AppStore
	}
	if cfg.Redis == "" {
		store = memory.New(memory.Options{})
		log.Info("store: in-process memory (single node; records do not survive a restart)")
	} else {
		// The tenant index forgets calls the retention has expired.
		rs, err := redisstore.New(ctx, cfg.Redis, redisstore.Options{IndexRetention: max(cfg.Defaults.Retention.Duration, 0)})
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		store = rs
		log.Info("store: redis", "url", redactURL(cfg.Redis))
	}
	defer store.Close()
	if n, err := seed(ctx, store, &cfg, time.Now().UTC()); err != nil {
		return err
	} else if n > 0 {
		log.Info("seeded agents, groups and apps from the configuration", "created", n)
	}

	ann, err := openAnnouncements(cfg.Announcements, log)
	if err != nil {
		return err
	}

	if demo {
		phones, err := demophone.Start(ctx, demophone.Options{Addr: o.phones, Logger: log})
		if err != nil {
			return err
		}
		defer phones.Close()
		log.Info("demo phones listening", "addr", phones.Addr())
	}

	reg := metrics.NewRegistry()
	observer, err := metrics.New(reg)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	backend, err := startBackend(ctx, &cfg, ann, reg, log)
	if err != nil {
		return err
	}
	defer backend.Close()

	// The engine gets the backend itself, not its wiring, so that it sees
	// what the backend can do beyond engine.Backend (engine.Adopter).
	eng := engine.New(store, backend.callBackend, engine.Options{
		NodeID:       cfg.NodeID,
		Retention:    retention(cfg.Defaults.Retention.Duration),
		MaxLiveCalls: cfg.Defaults.MaxLiveCalls,
		Agents:       store,
		HoldMusic:    ann.HoldID(),
		LogEvents:    logEventsOf(cfg),
		Logger:       log,
		Observer:     observer,
		Apps:         store,
		CallerLookup: callerLookup(&cfg),
		Nodes:        nodeLeases(store),
		NodeLeaseTTL: cfg.NodeLeaseTTL.Duration,
	})
	// Calls to the apps' numbers: the backend offers them to the engine
	// from here on (until now it refused them, counted as no_handler).
	backend.OnInbound(eng.Inbound)
	// This node's lease in the store first: it refuses a second process
	// under the same node id (which Recover would rob of its calls), and
	// from then on the calls of nodes that died are ended by the others.
	livenessCtx, stopLiveness := context.WithCancel(context.Background())
	defer stopLiveness()
	if err := eng.StartLiveness(livenessCtx); err != nil {
		return err
	}
	if n, err := eng.Recover(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Warn("ended calls a previous run of this node left live", "count", n)
	}

	// Webhooks: the dispatcher reads the event log the store keeps, from
	// the start (Recover's records included) until the engine has drained.
	var deadLetters api.DeadLetters
	stopWebhooks := func(context.Context) {}
	if eventLog, ok := store.(engine.EventLog); ok {
		d, err := startWebhooks(eventLog, store, &cfg, reg, log)
		if err != nil {
			return err
		}
		deadLetters, stopWebhooks = d.Dispatcher, d.stop
	} else if len(cfg.webhookEndpoints()) > 0 {
		log.Warn("webhooks: the store keeps no event log, so no events are delivered")
	}

	apiServer := api.NewServer(api.Config{Engine: eng, Agents: store, Apps: store, Announcements: backend.announcements, Recordings: backend.recordings, DeadLetters: deadLetters, Tenants: cfg.tenantTokens(), Logger: log})
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(reg, log))
	mux.Handle("/", apiServer.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	log.Info("switchboard ready", append([]any{"version", version, "node", eng.NodeID(), "http", ln.Addr().String()}, backend.attrs...)...)
	if demo {
		printDemoHelp(ln.Addr().String(), cfg.tenantTokens()["1"])
	}
	if o.listening != nil {
		o.listening(ln.Addr().String())
	}

	// SIGTERM drains (no new calls; live calls finish within the drain
	// timeout, then are ended with a record); SIGINT stops at once, still
	// writing every call's record.
	sigs := o.signals
	if sigs == nil {
		c := make(chan os.Signal, 2)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(c)
		sigs = c
	}
	var drainFor time.Duration
	select {
	case sig := <-sigs:
		if sig == syscall.SIGTERM {
			drainFor = cfg.Defaults.DrainTimeout.Duration
		}
		log.Info("shutting down", "signal", sig.String(), "drain", drainFor.String(), "live_calls", eng.LiveCalls())
	case err := <-httpErr:
		log.Error("http server stopped", "err", err)
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), drainFor)
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), webhookFlushTimeout)
	defer cancelFlush()
	go func() {
		// A second signal cuts the drain and the webhook flush short, and
		// closing the backend ends attempts still waiting on a slow far
		// end.
		<-sigs
		cancel()
		cancelFlush()
		backend.Close()
	}()
	eng.Drain(drainCtx)
	cancel()
	// Drained: the node's lease is given back, so its id is free at once.
	stopLiveness()
	// The calls' last events go out before the dispatcher stops; what
	// cannot go out in time stays in the event log for the next run (or,
	// on Redis, for another node).
	stopWebhooks(flushCtx)
	shutdownCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_ = srv.Shutdown(shutdownCtx)
	log.Info("stopped")
	return nil
}

// webhookFlushTimeout bounds how long a stopping node waits for the
// last events of its calls to be delivered.
const webhookFlushTimeout = 10 * time.Second

// runningWebhooks is the webhook dispatcher of a running node.
type runningWebhooks struct {
	*webhook.Dispatcher
	stop func(flush context.Context)
}

// startWebhooks starts the webhook dispatcher on the store's event log.
func startWebhooks(eventLog engine.EventLog, calls webhook.CallGetter, cfg *Config, reg *prometheus.Registry, log *slog.Logger) (*runningWebhooks, error) {
	observer, err := metrics.NewWebhooks(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	endpoints, secrets := cfg.webhookEndpoints(), cfg.webhookSecrets()
	w := cfg.Webhooks
	d, err := webhook.New(webhook.Options{
		Log:         eventLog,
		Node:        cfg.NodeID,
		Endpoints:   func(tenant string) []webhook.Endpoint { return endpoints[tenant] },
		Secret:      func(tenant string) string { return secrets[tenant] },
		Calls:       calls,
		Timeout:     w.Timeout.Duration,
		RetryWindow: w.RetryWindow.Duration,
		MinBackoff:  w.MinBackoff.Duration,
		MaxBackoff:  w.MaxBackoff.Duration,
		Workers:     w.Workers,
		Logger:      log,
		Observer:    observer,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			log.Error("webhooks: dispatcher stopped", "err", err)
		}
	}()
	log.Info("webhooks", "tenants_with_endpoints", len(endpoints), "retry_window", w.RetryWindow.Duration.String())
	return &runningWebhooks{Dispatcher: d, stop: func(flush context.Context) {
		if err := d.Flush(flush); err != nil {
			log.Warn("webhooks: stopping with events not yet delivered; they stay in the event log", "err", err)
		}
		cancel()
		<-done
	}}, nil
}

// openAnnouncements loads the announcement store: the built-ins, the
// shared directory and the uploads written by earlier runs (or by other
// nodes sharing the directory).
func openAnnouncements(c AnnouncementsConfig, log *slog.Logger) (*announce.Store, error) {
	ann, err := announce.New(c.options())
	if err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	list, err := ann.List("")
	if err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	if c.Dir == "" {
		log.Warn("announcements: uploads are kept in memory and lost when the process stops; set announcements.dir to keep them")
	}
	log.Info("announcements", "dir", c.Dir, "shared_dir", c.SharedDir, "shared", len(list), "hold", ann.HoldID())
	return ann, nil
}

// defaultNodeID names the node after its host and its SIP port, or on
// Asterisk its Stasis application: stable across restarts (so a restarted
// node closes the calls it left live) and distinct for two nodes on one
// host (they cannot share a SIP port, nor an application).
func defaultNodeID(cfg *Config) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "switchboard"
	}
	if cfg.Backend == backendARI {
		return host + "-" + cfg.ARI.app()
	}
	_, port, _ := net.SplitHostPort(cfg.SIP.Listen)
	return host + "-" + port
}

func retention(d time.Duration) time.Duration {
	if d <= 0 {
		return -1 // keep forever
	}
	return d
}

// callerLookup asks apps' caller lookup URLs, signing each request with
// its tenant's webhook secret (unsigned when the tenant has none).
func callerLookup(cfg *Config) *webhook.CallerLookup {
	secrets := cfg.webhookSecrets()
	return &webhook.CallerLookup{Secret: func(tenant string) string { return secrets[tenant] }}
}

// addDemoSettings points a default trunk at the simulated phones and adds
// the demo tenant, unless the configuration already has them.
func addDemoSettings(cfg *Config, phones string) {
	host, port, _ := net.SplitHostPort(phones)
	p := 5070
	fmt.Sscanf(port, "%d", &p)
	if cfg.Recordings.Dir == "" {
		// The demo records when asked (record=yes), somewhere temporary.
		cfg.Recordings.Dir = filepath.Join(os.TempDir(), "switchboard-demo-recordings")
	}
	cfg.SIP.Trunks = append([]Trunk{{Name: "demo-phones", Host: host, Port: p, Transport: "udp", CallerID: "switchboard"}}, cfg.SIP.Trunks...)
	if cfg.Backend == backendARI && len(cfg.ARI.Trunks) == 0 {
		// Asterisk reaches the phones through its endpoint "phones"
		// (configs/asterisk/pjsip.conf).
		cfg.ARI.Trunks = []ARITrunk{{Name: "demo-phones", Endpoint: "PJSIP/{number}@phones"}}
	}
	for _, t := range cfg.Tenants {
		if t.UserID == "1" {
			return
		}
	}
	cfg.Tenants = append(cfg.Tenants, Tenant{UserID: "1", Token: "demo"})
	// Demo agents on the simulated phones (the last digit decides how each
	// behaves) and a round-robin group of them.
	cfg.Agents = append(cfg.Agents,
		AgentConfig{Tenant: "1", ID: "101", Name: "Asha", Numbers: []string{"9000000101"}, CLI: "8000000101", WebLogin: true, CallLogin: true},
		AgentConfig{Tenant: "1", ID: "102", Name: "Ben", Numbers: []string{"9000000102"}, CLI: "8000000102", WebLogin: true, CallLogin: true},
		AgentConfig{Tenant: "1", ID: "103", Name: "Chen (always busy)", Numbers: []string{"9000000107"}, CLI: "8000000103", WebLogin: true, CallLogin: true},
		AgentConfig{Tenant: "1", ID: "104", Name: "Dana (never answers)", Numbers: []string{"9000000108"}, CLI: "8000000104", WebLogin: true, CallLogin: false},
	)
	cfg.Groups = append(cfg.Groups, GroupConfig{
		Tenant: "1", ID: "sales", Name: "Sales", Distribution: "round_robin", RingTime: 10,
		Members: []MemberConfig{{AgentID: "101"}, {AgentID: "102"}, {AgentID: "103"}, {AgentID: "104"}},
	})
}

// printDemoHelp shows how to place a first call as tenant 1, with its
// token (the demo's, or the configuration's own).
func printDemoHelp(httpAddr, token string) {
	fmt.Printf(`
Switchboard demo is running. Simulated phones answer by the last digit of the number:
  0-6 answer after 1 s and echo audio   7 busy (486)   8 rings, never answers   9 rejects (603)

Place a click-to-call (from 9000000001, then to 9000000002):
  curl -s -X POST 'http://%[1]s/v2/clickToCall/para?user_id=1&token=%[2]s&from=9000000001&to=9000000002&timeLimit=5'

Then look at it (use the callid from the answer):
  curl -s -u 1:%[2]s http://%[1]s/v1/calls/CALLID

Or place and follow one in a second terminal:
  switchboard call --server http://%[1]s --token %[3]s from=9000000007,9000000001 to=9000000002 timeLimit=5

Announcements (built-in ringback.wav, beep.wav, hold.wav; upload 8 kHz mono WAVs):
  curl -s -u 1:%[2]s http://%[1]s/v1/announcements
  curl -s -u 1:%[2]s -X POST -H 'Content-Type: audio/wav' --data-binary @welcome.wav 'http://%[1]s/v1/announcements?id=welcome.wav'

Stop with Ctrl-C.
`, httpAddr, url.QueryEscape(token), token)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// redactURL hides a password in a URL before it is logged.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "***" + u[at:]
}

// logEventsOf says whose calls' events go to the event log: those of a
// tenant with webhooks, and calls with a statusCallback. Nobody would be
// sent the others', and logging them costs Redis work on every call.
func logEventsOf(cfg Config) func(string, engine.CallRequest) bool {
	hooked := cfg.webhookEndpoints()
	return func(tenant string, req engine.CallRequest) bool {
		return len(hooked[tenant]) > 0 || req.StatusCallback != ""
	}
}

// nodeLeases is the store's node leases, when it keeps them.
func nodeLeases(store any) engine.NodeLeases {
	if nl, ok := store.(engine.NodeLeases); ok {
		return nl
	}
	return nil
}
