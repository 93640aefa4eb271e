package media

import (
	"errors"
	"sync"
)

// Link is the media of two streams joined by Bridge.
type Link struct {
	a, b   *Stream
	ab, ba *sinkRef
	once   sync.Once
}

// Bridge joins a and b: packets received on a are sent from b's socket to
// b's remote, and packets received on b from a's socket to a's remote, so
// each far end only ever talks to its own leg's socket. No transcoding
// happens; the signalling layer makes both legs agree on a codec.
//
// Bridging a stream that is already bridged re-points it to the new peer.
func Bridge(a, b *Stream) (*Link, error) {
	if a == nil || b == nil {
		return nil, errors.New("media: bridge of a nil stream")
	}
	if a == b {
		return nil, errors.New("media: bridge of a stream with itself")
	}
	l := &Link{a: a, b: b, ab: &sinkRef{s: b}, ba: &sinkRef{s: a}}
	a.sink.Store(l.ab)
	b.sink.Store(l.ba)
	return l, nil
}

// Close stops forwarding. It does not close the streams and is
// idempotent; a stream bridged again since is left alone.
func (l *Link) Close() error {
	l.once.Do(func() {
		l.a.sink.CompareAndSwap(l.ab, nil)
		l.b.sink.CompareAndSwap(l.ba, nil)
	})
	return nil
}
