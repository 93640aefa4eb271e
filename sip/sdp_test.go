package sip

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
)

func TestBuildOffer(t *testing.T) {
	b, err := buildOffer(netip.MustParseAddr("192.0.2.10"), 10002, defaultCodecs, 42)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"v=0\r\n",
		"o=switchboard 42 42 IN IP4 192.0.2.10\r\n",
		"c=IN IP4 192.0.2.10\r\n",
		"m=audio 10002 RTP/AVP 0 8 101\r\n",
		"a=rtpmap:0 PCMU/8000\r\n",
		"a=rtpmap:8 PCMA/8000\r\n",
		"a=rtpmap:101 telephone-event/8000\r\n",
		"a=fmtp:101 0-16\r\n",
		"a=sendrecv\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("offer lacks %q:\n%s", want, s)
		}
	}

	b, err = buildOffer(netip.MustParseAddr("2001:db8::1"), 10004, []Codec{PCMA}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, "m=audio 10004 RTP/AVP 8 101\r\n") || !strings.Contains(s, "c=IN IP6 2001:db8::1") || strings.Contains(s, "PCMU") {
		t.Errorf("peer-codec offer:\n%s", s)
	}
}

func TestParseAnswer(t *testing.T) {
	const head = "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\n"
	tests := []struct {
		name   string
		body   string
		offer  []Codec
		remote string
		codec  Codec
	}{
		{"session c=, first offered codec", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n", defaultCodecs, "198.51.100.7:4000", PCMA},
		{"media c= wins", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\nc=IN IP4 198.51.100.8\r\n", defaultCodecs, "198.51.100.8:4002", PCMU},
		{"static types without rtpmap", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4004 RTP/AVP 101 0\r\n", defaultCodecs, "198.51.100.7:4004", PCMU},
		{"skips codecs not offered", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4006 RTP/AVP 18 0 8\r\n", []Codec{PCMA}, "198.51.100.7:4006", PCMA},
		{"video first", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\nm=audio 4008 RTP/AVP 0\r\n", defaultCodecs, "198.51.100.7:4008", PCMU},
		{"ipv6", "v=0\r\no=x 1 1 IN IP6 2001:db8::2\r\ns=-\r\nc=IN IP6 2001:db8::2\r\nt=0 0\r\nm=audio 4010 RTP/AVP 0\r\n", defaultCodecs, "[2001:db8::2]:4010", PCMU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote, codec, err := parseAnswer([]byte(tt.body), tt.offer)
			if err != nil {
				t.Fatal(err)
			}
			if remote.String() != tt.remote || codec != tt.codec {
				t.Fatalf("got %v %v, want %s %v", remote, codec, tt.remote, tt.codec)
			}
		})
	}

	bad := map[string]string{
		"empty":           "",
		"not SDP":         "hello",
		"no audio":        head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n",
		"rejected audio":  head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
		"no c=":           head + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"hold address":    head + "c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"hostname c=":     head + "c=IN IP4 media.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"no common codec": head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 9\r\n",
	}
	for name, body := range bad {
		if _, _, err := parseAnswer([]byte(body), defaultCodecs); !errors.Is(err, errNoUsableSDP) {
			t.Errorf("%s: got %v, want errNoUsableSDP", name, err)
		}
	}
}

func TestSetRemoteNATHint(t *testing.T) {
	pool, err := media.NewPortPool(media.PoolConfig{MinPort: 43000, MaxPort: 43098})
	if err != nil {
		t.Fatal(err)
	}
	st, err := pool.Listen(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	phone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	// A phone behind NAT: private SDP address, SIP from 127.0.0.1.
	private := netip.MustParseAddrPort("192.168.7.9:4000")
	setRemote(st, private, "127.0.0.1:5060")
	phone.WriteToUDPAddrPort([]byte("\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"), st.LocalAddr())
	deadline := time.Now().Add(testBound)
	for st.SendAddr() == private {
		if time.Now().After(deadline) {
			t.Fatalf("never latched; stats %+v", st.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := st.SendAddr(); got != phone.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("latched to %v", got)
	}
	for ip, want := range map[string]bool{"10.1.2.3": true, "100.64.0.1": true, "169.254.1.1": true, "198.51.100.7": false, "2001:db8::1": false, "fd00::1": true} {
		if behindNAT(netip.MustParseAddr(ip)) != want {
			t.Errorf("behindNAT(%s) != %v", ip, want)
		}
	}
}

func TestTelephoneEvent(t *testing.T) {
	const head = "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	for _, tt := range []struct {
		name string
		body string
		want int
	}{
		{"ours", head + "m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n", 101},
		{"another number", head + "m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 TELEPHONE-EVENT/8000\r\n", 96},
		{"rtpmap without the format", head + "m=audio 4000 RTP/AVP 0\r\na=rtpmap:101 telephone-event/8000\r\n", noTelephoneEvent},
		{"format without rtpmap", head + "m=audio 4000 RTP/AVP 0 101\r\n", noTelephoneEvent},
		{"other clock", head + "m=audio 4000 RTP/AVP 0 102\r\na=rtpmap:102 telephone-event/48000\r\n", noTelephoneEvent},
		{"first audio stream only", head + "m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", noTelephoneEvent},
		{"garbage", "nope", noTelephoneEvent},
	} {
		if got := telephoneEvent([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
