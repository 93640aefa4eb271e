// Command load is Switchboard's load harness. It builds and starts the
// engine with a YAML configuration whose trunks point at sipp far ends on
// 127.0.0.1, drives the real HTTP API open-loop at fixed arrival rates
// (calls per second), stepping the rate up, and reports per step the
// offered and completed calls, failures, retransmissions, latencies, CPU,
// memory and Redis commands per call, then checks that the engine returns
// to the state it started from. See test/load/README.md.
//
//	go run ./test/load -rates 50,100,200 -step 20s -redis auto -out results.csv
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		cfg      Config
		rates    = flag.String("rates", "10,50,100,200", "arrival rates in calls per second, one step each, comma-separated")
		out      = flag.String("out", "", "write one CSV row per step to this file")
		extra    = flag.String("extra-config", "", "YAML file appended to the engine's configuration")
		failover = flag.Bool("failover", false, "every call hunts: from is busy-then-answer ONE_BY_ONE, to is no-answer+answer TO_ALL (a third UAS)")
	)
	flag.DurationVar(&cfg.Step, "step", 30*time.Second, "how long each rate is offered")
	flag.DurationVar(&cfg.Hold, "hold", time.Second, "talk time of every call, whole seconds (the engine's timeLimit ends it)")
	flag.DurationVar(&cfg.Ring, "ring", 0, "how long the far ends ring before they answer")
	flag.StringVar(&cfg.Redis, "redis", "", `store: empty for memory, "auto" for a private redis-server, or a redis:// URL`)
	flag.BoolVar(&cfg.Media, "media", false, "carry RTP: the from side plays audio, the to side echoes it")
	flag.BoolVar(&cfg.Inbound, "inbound", false, "inbound calls: a sipp caller per step dials an app whose route rings the to far end, instead of click-to-calls")
	flag.StringVar(&cfg.InboundRoute, "inbound-route", "group", "with -inbound, the app's route: group (round-robin over -agents agents) or number (one 2… number)")
	flag.IntVar(&cfg.Agents, "agents", defaultAgents, "with -inbound and route group, how many agents the group has")
	flag.StringVar(&cfg.Binary, "binary", "", "switchboard binary to run (default: go build ./cmd/switchboard)")
	flag.StringVar(&cfg.Root, "root", "", "Switchboard module root (default: found from the source or working directory)")
	flag.StringVar(&cfg.Sipp, "sipp", "sipp", "sipp executable")
	flag.StringVar(&cfg.Perf, "perf", "", "record a CPU profile of the engine with perf(1) during the last step into this file")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the work directory (engine configuration and log, sipp CSV and error files)")
	flag.DurationVar(&cfg.Settle, "settle", sipStateLifetime, "return-to-baseline check: how long after the last step drained to wait before reading the live heap (the SIP backend remembers calls that long); negative skips the check")
	flag.DurationVar(&cfg.SettleWait, "settle-wait", time.Minute, "return-to-baseline check: how much longer to wait for goroutines and live heap to come back")
	flag.Parse()
	cfg.Failover = *failover

	var err error
	if cfg.Rates, err = parseRates(*rates); err != nil {
		fmt.Fprintln(os.Stderr, "-rates:", err)
		os.Exit(2)
	}
	if *extra != "" {
		b, err := os.ReadFile(*extra)
		if err != nil {
			fmt.Fprintln(os.Stderr, "-extra-config:", err)
			os.Exit(2)
		}
		cfg.ExtraYAML = string(b)
	}
	cfg.Log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if len(rep.Steps)+len(rep.Notes) > 0 {
		fmt.Println()
		writeTable(os.Stdout, rep)
		if *out != "" {
			if werr := writeFile(*out, rep); werr != nil {
				fmt.Fprintln(os.Stderr, "-out:", werr)
			}
		}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "interrupted; every process started was stopped")
		} else {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		if rep.WorkDir != "" {
			fmt.Fprintln(os.Stderr, "logs and sipp statistics kept in", rep.WorkDir)
		}
		os.Exit(1)
	}
	if cfg.Keep {
		fmt.Fprintln(os.Stderr, "work directory:", rep.WorkDir)
	}
	if rep.Failed() > 0 {
		os.Exit(3)
	}
	if rep.BaselineFailed() {
		os.Exit(4)
	}
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number of calls per second", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no rate given")
	}
	return out, nil
}

func writeFile(path string, rep Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeCSV(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
