package webhook_test

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine/store/memory"
	redisstore "github.com/switchboard/switchboard/engine/store/redis"
	"github.com/switchboard/switchboard/test/redistest"
)

// eachStore runs test against every store; open returns a handle on the
// subtest's one store (for Redis a store of its own on the same keys, as
// another node has).
func eachStore(t *testing.T, test func(t *testing.T, open func() backend)) {
	t.Run("memory", func(t *testing.T) {
		s := memory.New(memory.Options{})
		t.Cleanup(func() { _ = s.Close() })
		test(t, func() backend { return s })
	})
	t.Run("redis", func(t *testing.T) {
		url := redistest.URL(t)
		prefix := redistest.Prefix(t)
		t.Cleanup(func() { deleteKeys(t, url, prefix) })
		test(t, func() backend {
			s, err := redisstore.New(context.Background(), url, redisstore.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
}

// deleteKeys removes a test's keys, so that a shared server stays clean.
func deleteKeys(t *testing.T, url, prefix string) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Error(err)
		return
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 500).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}
