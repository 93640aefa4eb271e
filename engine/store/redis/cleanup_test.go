package redis

import (
	"context"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/redistest"
)

// holdHook holds every command on the hash key until release is closed,
// after telling held that it has one: a CreateCall in two steps is then
// caught between its index pipeline and the write of its record.
type holdHook struct {
	key     string
	held    chan struct{}
	release chan struct{}
}

func (h *holdHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *holdHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if slices.Contains(cmd.Args(), any(h.key)) {
			select {
			case h.held <- struct{}{}:
			default:
			}
			<-h.release
		}
		return next(ctx, cmd)
	}
}

func (h *holdHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestCleanupSparesCallBeingCreated checks that listings that run while a
// CreateCall has indexed its call but not yet written the record leave
// the index entries in place: the new call is listed and live once its
// record is there. (They used to ZREM and SREM it: the call was then
// missing from its tenant's listing and from the live set that Recover
// reads.)
//
// The store takes the two steps of a cluster here, where the window is a
// round trip. On a single server CreateCall sends indexes and record in
// one pipeline, but other clients' commands may still run between them.
func TestCleanupSparesCallBeingCreated(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	s.createInTwoSteps = true
	ctx := t.Context()
	c := call("fresh")
	h := &holdHook{key: s.callKey(c.ID), held: make(chan struct{}, 1), release: make(chan struct{})}
	s.c.AddHook(h)
	created := make(chan error, 1)
	go func() { created <- s.CreateCall(ctx, c) }()
	select {
	case <-h.held:
	case err := <-created:
		t.Fatalf("CreateCall returned %v without writing its record", err)
	case <-time.After(10 * time.Second):
		t.Fatal("CreateCall never wrote its record")
	}

	// Indexed, no record yet: hidden, but not removed.
	for range 2 {
		if page, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"}); err != nil || len(page.Calls) != 0 {
			t.Fatalf("ListCalls before the record: %v, %v; want none", ids(page.Calls), err)
		}
		if got, err := s.LiveCalls(ctx, ""); err != nil || len(got) != 0 {
			t.Fatalf("LiveCalls before the record: %v, %v; want none", got, err)
		}
	}
	close(h.release)
	if err := <-created; err != nil {
		t.Fatalf("CreateCall: %v", err)
	}

	if page, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"}); err != nil || !slices.Equal(ids(page.Calls), []string{"fresh"}) {
		t.Fatalf("ListCalls after the record: %v, %v; want [fresh]", ids(page.Calls), err)
	}
	for _, node := range []string{"n1", ""} {
		if got, err := s.LiveCalls(ctx, node); err != nil || !slices.Equal(got, []string{"fresh"}) {
			t.Fatalf("LiveCalls(%q) after the record: %v, %v; want [fresh]", node, got, err)
		}
	}
}

func ids(calls []*engine.Call) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}
