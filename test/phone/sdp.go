package phone

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/switchboard/switchboard/media"
)

// Direction is an SDP media direction attribute.
type Direction string

// The four directions (RFC 3264 §5.1).
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// answer is the direction that answers an offer of d.
func (d Direction) answer() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// sends reports whether a party with direction d sends media.
func (d Direction) sends() bool { return d == SendRecv || d == SendOnly }

// offer is what the phone takes from an SDP offer.
type offer struct {
	remote    netip.AddrPort
	codecs    []media.Codec // G.711 codecs offered, in the offer's order
	eventPT   int           // telephone-event payload type, -1 if none
	direction Direction
}

var errNoSDP = errors.New("no SDP")

// parseOffer reads the first audio stream of an SDP offer.
func parseOffer(body []byte) (offer, error) {
	o := offer{eventPT: -1, direction: SendRecv}
	if len(body) == 0 {
		return o, errNoSDP
	}
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return o, fmt.Errorf("sdp: %w", err)
	}
	if dir, ok := direction(d.Attributes); ok {
		o.direction = dir
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = d.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return o, errors.New("sdp: no connection address")
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return o, fmt.Errorf("sdp: connection address: %w", err)
		}
		port := m.MediaName.Port.Value
		if port <= 0 || port > 65535 {
			return o, fmt.Errorf("sdp: audio port %d", port)
		}
		o.remote = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if dir, ok := direction(m.Attributes); ok {
			o.direction = dir
		}
		rtpmap := map[string]string{}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" {
				if pt, enc, ok := strings.Cut(a.Value, " "); ok {
					rtpmap[pt] = strings.ToLower(strings.TrimSpace(enc))
				}
			}
		}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err != nil || pt < 0 || pt > 127 {
				continue
			}
			switch {
			case pt == 0 || pt == 8:
				o.codecs = append(o.codecs, media.Codec(pt))
			case strings.HasPrefix(rtpmap[f], "telephone-event/8000") && o.eventPT < 0:
				o.eventPT = pt
			}
		}
		if len(o.codecs) == 0 {
			return o, errors.New("sdp: no G.711 codec (PCMU or PCMA) offered")
		}
		return o, nil
	}
	return o, errors.New("sdp: no audio stream")
}

func direction(attrs []sdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		switch d := Direction(a.Key); d {
		case SendRecv, SendOnly, RecvOnly, Inactive:
			return d, true
		}
	}
	return "", false
}

// choose picks the codec to answer: want when offered, else the offer's
// first.
func (o offer) choose(want media.Codec) media.Codec {
	for _, c := range o.codecs {
		if c == want {
			return c
		}
	}
	return o.codecs[0]
}

// answerSDP is the phone's SDP: one audio stream on local, the codec and
// (when offered) telephone-event, in direction dir.
func answerSDP(local netip.AddrPort, session, version uint64, codec media.Codec, eventPT int, dir Direction) []byte {
	ip := local.Addr().String()
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=phone %d %d IN IP4 %s\r\ns=switchboard test phone\r\nc=IN IP4 %s\r\nt=0 0\r\n", session, version, ip, ip)
	if eventPT >= 0 {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d\r\n", local.Port(), codec.PayloadType(), eventPT)
	} else {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %d\r\n", local.Port(), codec.PayloadType())
	}
	fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", codec.PayloadType(), codec)
	if eventPT >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", eventPT, eventPT)
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return []byte(b.String())
}
