package sip

// ring is a bounded FIFO of samples or codes that drops its oldest
// entries when full: the mixer's queue of relayed audio and a recording
// channel's decoded audio. It never allocates after newRing.
type ring[T any] struct {
	buf     []T
	head, n int
	dropped uint64 // entries pushed out, or never in, for want of room
}

func newRing[T any](size int) ring[T] { return ring[T]{buf: make([]T, size)} }

func (q *ring[T]) reset() { q.head, q.n = 0, 0 }

// push appends s, dropping the oldest entries that do not fit.
func (q *ring[T]) push(s []T) {
	if extra := len(s) - len(q.buf); extra > 0 {
		q.dropped += uint64(extra)
		s = s[extra:]
	}
	if over := q.n + len(s) - len(q.buf); over > 0 {
		q.dropped += uint64(over)
		q.head = (q.head + over) % len(q.buf)
		q.n -= over
	}
	tail := (q.head + q.n) % len(q.buf)
	k := copy(q.buf[tail:], s)
	copy(q.buf, s[k:])
	q.n += len(s)
}

// pop moves up to len(dst) of the oldest entries to dst and says how
// many.
func (q *ring[T]) pop(dst []T) int {
	want := min(len(dst), q.n)
	k := copy(dst[:want], q.buf[q.head:])
	copy(dst[k:want], q.buf)
	q.head = (q.head + want) % len(q.buf)
	q.n -= want
	return want
}
