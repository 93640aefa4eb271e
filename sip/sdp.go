package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/switchboard/switchboard/media"
)

// Codec is an audio codec of a leg.
type Codec struct {
	PayloadType uint8
	Name        string
	ClockRate   int
}

func (c Codec) String() string { return fmt.Sprintf("%s/%d (%d)", c.Name, c.ClockRate, c.PayloadType) }

// The codecs Switchboard offers. The relay never transcodes, so both legs
// of a call must agree: a leg dialed with a Peer offers only the peer's.
var (
	PCMU = Codec{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	PCMA = Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
)

// telephoneEventPT is the payload type offered for RFC 4733 DTMF.
const telephoneEventPT = 101

var defaultCodecs = []Codec{PCMU, PCMA}

// buildOffer returns the SDP of our side: one audio stream on ip:port with
// codecs and telephone-event, sendrecv.
func buildOffer(ip netip.Addr, port int, codecs []Codec, sessionID uint64) ([]byte, error) {
	return buildSDP(ip, port, codecs, telephoneEventPT, sessionID)
}

// buildSDP is buildOffer with telephone-event as payload type te, or
// without it when te is noTelephoneEvent (an answer to an offer that had
// none).
func buildSDP(ip netip.Addr, port int, codecs []Codec, te int, sessionID uint64) ([]byte, error) {
	addrType := "IP4"
	if ip.Is6() {
		addrType = "IP6"
	}
	formats := make([]string, 0, len(codecs)+1)
	attrs := make([]sdp.Attribute, 0, 2*len(codecs)+3)
	for _, c := range codecs {
		formats = append(formats, strconv.Itoa(int(c.PayloadType)))
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.PayloadType, c.Name, c.ClockRate)))
	}
	if te != noTelephoneEvent {
		formats = append(formats, strconv.Itoa(te))
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", te)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", te)),
		)
	}
	attrs = append(attrs,
		sdp.NewAttribute("ptime", "20"),
		sdp.NewPropertyAttribute("sendrecv"),
	)
	d := sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{
			Username:       "switchboard",
			SessionID:      sessionID,
			SessionVersion: sessionID,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: ip.String(),
		},
		SessionName: "switchboard",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: ip.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{
				Media:   "audio",
				Port:    sdp.RangedPort{Value: port},
				Protos:  []string{"RTP", "AVP"},
				Formats: formats,
			},
			Attributes: attrs,
		}},
	}
	return d.Marshal()
}

var errNoUsableSDP = errors.New("no usable SDP")

// parseAnswer reads the far end's SDP answer: where to send RTP and the
// codec it chose among those offered (the first of its m= line that we
// offered).
func parseAnswer(body []byte, offered []Codec) (netip.AddrPort, Codec, error) {
	fail := func(format string, args ...any) (netip.AddrPort, Codec, error) {
		return netip.AddrPort{}, Codec{}, fmt.Errorf("%w: %s", errNoUsableSDP, fmt.Sprintf(format, args...))
	}
	if len(body) == 0 {
		return fail("no SDP body")
	}
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return fail("%v", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if m.MediaName.Port.Value <= 0 || m.MediaName.Port.Value > 65535 {
			return fail("audio stream rejected (port %d)", m.MediaName.Port.Value)
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = d.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return fail("no connection address")
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil || ip.IsUnspecified() {
			return fail("connection address %q is not a usable IP", ci.Address.Address)
		}
		codec, ok := chooseCodec(m, offered)
		if !ok {
			return fail("none of the offered codecs answered (m=%s)", m.MediaName.String())
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(m.MediaName.Port.Value)), codec, nil
	}
	return fail("no audio stream")
}

// chooseCodec returns the first format of m that matches an offered codec,
// by payload type or, for a dynamic type, by rtpmap name and rate.
func chooseCodec(m *sdp.MediaDescription, offered []Codec) (Codec, bool) {
	rtpmap := map[string]string{}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if ok {
			rtpmap[pt] = strings.ToUpper(strings.TrimSpace(enc))
		}
	}
	for _, f := range m.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		for _, c := range offered {
			enc, mapped := rtpmap[f]
			want := strings.ToUpper(fmt.Sprintf("%s/%d", c.Name, c.ClockRate))
			if pt == int(c.PayloadType) && (!mapped || strings.HasPrefix(enc, want)) {
				return c, true
			}
			if pt >= 96 && mapped && strings.HasPrefix(enc, want) {
				return Codec{PayloadType: uint8(pt), Name: c.Name, ClockRate: c.ClockRate}, true
			}
		}
	}
	return Codec{}, false
}

// noTelephoneEvent is the telephone-event payload type of a leg whose far
// end did not answer one: it neither sends nor receives RFC 4733 DTMF.
const noTelephoneEvent = -1

// telephoneEvent is the payload type of telephone-event/8000 in the far
// end's SDP (its first audio stream: one of its formats with an rtpmap of
// that name), or noTelephoneEvent. We offer 101; an answer may choose
// another number, which is then what the far end sends and expects.
func telephoneEvent(body []byte) int {
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return noTelephoneEvent
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if !ok || !strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
				continue
			}
			n, err := strconv.Atoi(pt)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			for _, f := range m.MediaName.Formats {
				if f == pt {
					return n
				}
			}
		}
		break
	}
	return noTelephoneEvent
}

// farEndSends reports whether the far end's SDP says it sends audio: its
// first audio stream is not a=recvonly or a=inactive (the media level
// wins over the session level; no attribute means sendrecv). A far end
// that holds the call this way sends no RTP, which is no media timeout.
func farEndSends(body []byte) bool {
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return true
	}
	dir := func(attrs []sdp.Attribute) string {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				return a.Key
			}
		}
		return ""
	}
	direction := dir(d.Attributes)
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if md := dir(m.Attributes); md != "" {
			direction = md
		}
		break
	}
	return direction != "recvonly" && direction != "inactive"
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// behindNAT reports whether an SDP address cannot be reached from
// outside its own network: private, shared (CGNAT), link-local or
// loopback.
func behindNAT(ip netip.Addr) bool {
	return ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLoopback() || cgnat.Contains(ip)
}

// setRemote points a leg's stream at the far end's SDP address. When that
// address is behind NAT and the SIP message came from another IP, the
// stream may also latch to that IP (see package media): a phone behind
// NAT sends its RTP from its public address.
func setRemote(st *media.Stream, remote netip.AddrPort, signalSource string) {
	src, err := netip.ParseAddrPort(signalSource)
	if err == nil && behindNAT(remote.Addr()) && src.Addr().Unmap() != remote.Addr() {
		st.SetRemoteNAT(remote, src.Addr().Unmap())
		return
	}
	st.SetRemote(remote)
}
