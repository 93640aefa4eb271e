package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"
)

// Every Lua script of the store is sent as EVALSHA, its SHA-1 digest, not
// as EVAL with its whole text each time. A server that does not hold the
// script answers NOSCRIPT: its script cache was flushed (SCRIPT FLUSH, a
// restart), or a failover promoted a replica that never ran the script.
// Outside pipelines Script.Run then sends the script with EVAL, which also
// caches it. Inside a pipeline, where the reply comes only after the whole
// pipeline has run, pipeline loads the scripts and sends the pipeline
// again.

// scripts holds every script of the package by digest, so that a NOSCRIPT
// reply in a pipeline can name what to load.
var scripts = map[string]*goredis.Script{}

// newScript returns the script of src and registers it in scripts. Call
// it only to initialise package variables.
func newScript(src string) *goredis.Script {
	s := goredis.NewScript(src)
	scripts[s.Hash()] = s
	return s
}

// pipeline sends the commands queue adds in one pipeline: one round trip.
// Scripts in it go as EVALSHA (Script.EvalSha on the pipeliner). When any
// reply is NOSCRIPT, pipeline loads the scripts those commands named and
// sends the whole pipeline again, once: two round trips more, only on the
// first use of a script on a server that lacks it. Sending it again is
// safe because everything the store pipelines may run twice with the
// effect of once: its writes are whole-record puts of fields, adds to and
// removals from sets, and scripts that take a repeated write for the
// write itself (createScript) or that change nothing more when repeated
// (sweepScript). The one exception is on a cluster, where the events of
// a write go as plain XADDs beside its script (events.go): they ran the
// first time and are appended again, as after any repeated write there;
// receivers de-duplicate by event id. queue runs again for the second
// attempt, so the commands it keeps are those whose replies the caller
// reads.
func (s *Store) pipeline(ctx context.Context, queue func(p goredis.Pipeliner)) error {
	run := func() ([]goredis.Cmder, error) {
		return s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			queue(p)
			return nil
		})
	}
	cmds, err := run()
	missing := missingScripts(cmds)
	if len(missing) == 0 {
		return err
	}
	for _, sc := range missing {
		// On a cluster client SCRIPT LOAD goes to every master.
		if err := sc.Load(ctx, s.c).Err(); err != nil {
			return fmt.Errorf("load script: %w", err)
		}
	}
	_, err = run()
	return err
}

// missingScripts returns the scripts that commands of a pipeline that
// came back NOSCRIPT asked for.
func missingScripts(cmds []goredis.Cmder) []*goredis.Script {
	var out []*goredis.Script
	for _, cmd := range cmds {
		if !isNoScript(cmd.Err()) {
			continue
		}
		args := cmd.Args()
		if len(args) < 2 {
			continue
		}
		sha, _ := args[1].(string)
		if sc := scripts[sha]; sc != nil && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// isNoScript reports whether err says the server lacks a script: the
// client turns the reply into ErrNoScript when it can, and leaves the
// server's text as it is in a pipeline.
func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}
