package sipptest

import (
	"strings"
	"testing"
)

const sampleLog = `----------------------------------------------- 2026-11-22 05:43:19.191961
UDP message received [511] bytes :

INVITE sip:service@127.0.0.1:25060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:25070;branch=z9hG4bK-1
Call-ID: 1@127.0.0.1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.192133
UDP message sent (309 bytes):

SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:25070;branch=z9hG4bK-1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.193220
UDP message sent (469 bytes):

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:25070;branch=z9hG4bK-1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.693220
UDP message sent (469 bytes):

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:25070;branch=z9hG4bK-1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.793246
UDP message received [360] bytes :

ACK sip:service@127.0.0.1:25060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:25070;branch=z9hG4bK-5
CSeq: 1 ACK
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.893246
UDP message sent (360 bytes):

BYE sip:caller@127.0.0.1:25070 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:25060;branch=z9hG4bK-9
CSeq: 1 BYE
Content-Length: 0


----------------------------------------------- 2026-11-22 05:43:19.993246
TCP message received [360] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:25060;branch=z9hG4bK-9
CSeq: 1 BYE
Content-Length: 0

`

func TestParseLog(t *testing.T) {
	c := ParseLog(strings.NewReader(sampleLog))
	if c.Requests["INVITE"] != 1 || c.Requests["ACK"] != 1 || len(c.Requests) != 2 {
		t.Errorf("requests %v", c.Requests)
	}
	// The retransmitted 200 counts once.
	if c.Responses[180] != 1 || c.Responses[200] != 1 || len(c.Responses) != 2 {
		t.Errorf("responses %v", c.Responses)
	}
	if c.SentRequests["BYE"] != 1 || c.ReceivedResponses[200] != 1 {
		t.Errorf("sent requests %v, received responses %v", c.SentRequests, c.ReceivedResponses)
	}
	empty := ParseLog(strings.NewReader(""))
	if len(empty.Requests)+len(empty.Responses) != 0 || empty.Requests == nil {
		t.Errorf("empty log: %+v", empty)
	}
}
