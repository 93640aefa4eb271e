package api

import (
	"context"
	"net/url"
	"testing"

	"github.com/switchboard/switchboard/engine"
)

// FuzzParseClickToCall feeds arbitrary query strings to the validation:
// it must never panic, every refusal must carry a spec code and a status,
// and every accepted request must be within the spec's limits.
func FuzzParseClickToCall(f *testing.F) {
	for _, seed := range []string{
		"user_id=101&token=tok101&from=9876543210&to=9123456789",
		"from=9876543210,9876543211&to=9123456789&fromStrategy=TO_ALL&fromRingTime=50&fromRetryCount=3",
		"fromType=Agent&from=a1,a3&toType=Group&to=g1&fromCLI=AGENT_CLI&queueTimeout=0&fromWebLogin=yes",
		"from=9876543210&toType=agent&to=a1&sticky=yes&stickyTimeType=hour&stickyTimeValue=2&stickyAgentBusy=retryTemp",
		"from=9876543210&to=9123456789&timeLimit=300&timeLimtAlert=120,240&alertAudio=ann1,ann2&ringTone=ann1",
		"from=9876543210&to=9000000001&dndFilter=both&mode=developer",
		"from=,&to=,,,&fromType=&timeLimit=&mode=",
		"from=-1&to=%2B&fromRingTime=-0&toRetryCount=99999999999999999999&timeLimit=-",
		"from=9876543210&from=9876543211&to=9123456789&timeLimitAlert=1&timeLimtAlert=2",
		"fromType=Group&from=g1,g2&toType=Group&to=gcall0&toCallLogin=yes&toStrategy=to_all",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for _, dir := range []Directory{testDir{}, NoDirectory{}} {
			if _, cerr := CheckCredentials(v, testTenants); cerr != nil && (cerr.Code == "" || cerr.HTTPStatus == 0) {
				t.Fatalf("credential error without code: %+v", cerr)
			}
			req, perr := ParseClickToCall(context.Background(), v, dir)
			if perr != nil {
				status := 400
				if perr.Code == "1501" || perr.Code == "1575" {
					status = 503 // testDir's failing look-ups
				}
				if specMessages[perr.Code] == "" || perr.HTTPStatus != status || perr.Message == "" {
					t.Fatalf("refusal %+v", perr)
				}
				continue
			}
			for _, s := range []engine.SideRequest{req.From, req.To} {
				if len(s.Values) == 0 || len(s.Values) > 10 || s.RingTime < 1 || s.RingTime > 50 ||
					s.RetryCount < 0 || s.RetryCount > 3 || s.Strategy == "" {
					t.Fatalf("accepted out of limits: %+v", s)
				}
				for _, x := range s.Values {
					if x == "" || len([]rune(x)) > 50 {
						t.Fatalf("accepted value %q", x)
					}
				}
			}
			if req.TimeLimit < 0 || req.QueueTimeout < 0 || (req.Mode != ModeLive && req.Mode != ModeDeveloper) {
				t.Fatalf("accepted %+v", req)
			}
			for _, m := range req.TimeLimitAlert {
				if m <= 0 || m >= req.TimeLimit {
					t.Fatalf("accepted alert %d with timeLimit %d", m, req.TimeLimit)
				}
			}
		}
	})
}
