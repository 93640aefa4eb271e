package main

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine/store/memory"
)

func TestSeedCreatesOnceAndLeavesTheAPIsChangesAlone(t *testing.T) {
	cfg := defaultConfig()
	addDemoSettings(&cfg, "127.0.0.1:5070")
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	defer st.Close()
	ctx := context.Background()
	n, err := seed(ctx, st, &cfg, time.Now())
	if err != nil || n != 5 { // four demo agents and the sales group
		t.Fatalf("seed = %d, %v", n, err)
	}
	a, _ := st.GetAgent(ctx, "1", "101")
	a.WebLogin = false // as if changed through the API
	st.PutAgent(ctx, a)
	if n, err := seed(ctx, st, &cfg, time.Now()); err != nil || n != 0 {
		t.Fatalf("second seed = %d, %v", n, err)
	}
	if a, _ := st.GetAgent(ctx, "1", "101"); a.WebLogin {
		t.Fatal("seeding overwrote the agent's login state")
	}
	g, err := st.GetGroup(ctx, "1", "sales")
	if err != nil || len(g.Members) != 4 || g.Members[2].Priority != 3 || g.Distribution != "round_robin" {
		t.Fatalf("group %+v, %v", g, err)
	}
}
