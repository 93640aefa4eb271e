package sip

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// maxSipgoAttr is the longest attribute value of a sipgo record passed on;
// longer ones (the raw bytes of a message it could not parse) are cut.
const maxSipgoAttr = 256

// sipgoHandler carries sipgo's log records into the backend's logger at
// Debug level at most. sipgo logs at ERROR whatever a peer gets wrong
// (unparsable packets, with their raw bytes; responses to nothing), so
// anyone able to send a UDP packet could otherwise flood the error log.
// The backend logs the outcomes that matter (a dial that failed, a
// listener that stopped) itself. The original level is kept in the
// sipgo_level attribute, and long attribute values are cut.
type sipgoHandler struct{ h slog.Handler }

func newSipgoLogger(base *slog.Logger) *slog.Logger {
	return slog.New(sipgoHandler{h: base.Handler()}).With("component", "sipgo")
}

func demote(l slog.Level) slog.Level { return min(l, slog.LevelDebug) }

func (s sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return s.h.Enabled(ctx, demote(l))
}

func (s sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, demote(r.Level), r.Message, r.PC)
	if r.Level > slog.LevelDebug {
		out.AddAttrs(slog.String("sipgo_level", r.Level.String()))
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s sipgoHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clipped[i] = clipAttr(a)
	}
	return sipgoHandler{h: s.h.WithAttrs(clipped)}
}

func (s sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{h: s.h.WithGroup(name)}
}

func clipAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	var str string
	switch v.Kind() {
	case slog.KindString:
		str = v.String()
	case slog.KindAny:
		if e, ok := v.Any().(error); ok {
			str = e.Error()
		} else {
			return a
		}
	default:
		return a
	}
	if len(str) <= maxSipgoAttr {
		return a
	}
	return slog.String(a.Key, fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(str[:maxSipgoAttr], ""), len(str)))
}
