package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestStatusCallbackParameter: statusCallback is a URL of up to 512
// characters, free of the spec's 50-character limit, on both APIs.
func TestStatusCallbackParameter(t *testing.T) {
	long := "https://crm.example/switchboard/events?token=" + strings.Repeat("a", 512-45)
	if len(long) != 512 {
		t.Fatalf("fixture is %d characters", len(long))
	}
	for _, cb := range []string{"http://127.0.0.1:8081/hook", "HTTPS://crm.example/cb#frag", long} {
		req, err := ParseClickToCall(context.Background(), params("statusCallback= "+cb+" "), testDir{})
		if err != nil || req.StatusCallback != cb {
			t.Fatalf("%s: %+v, %v", cb, req.StatusCallback, err)
		}
	}
	if req := mustParse(t, params("statusCallback=")); req.StatusCallback != "" {
		t.Fatalf("empty statusCallback kept as %q", req.StatusCallback)
	}

	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	resp := postForm(t, srv.URL+"/v2/clickToCall/para", params("statusCallback="+long))
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("v2: %d %s", resp.StatusCode, b)
	}
	c := v1Client{t, srv.URL, "101", "tok101"}
	body := fmt.Sprintf(`{"from":"9876543210","to":"9123456789","statusCallback":%q}`, long)
	if resp, b := c.do("POST", "/v1/calls", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("v1: %d %s", resp.StatusCode, b)
	}
	if resp, b := c.do("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789","statusCallback":"nowhere"}`); resp.StatusCode != 400 || v1Code(t, b) != "1539" || !strings.Contains(string(b), "statusCallback") {
		t.Fatalf("v1 bad callback: %d %s", resp.StatusCode, b)
	}
	reqs := eng.requests()
	if len(reqs) != 2 || reqs[0].StatusCallback != long || reqs[1].StatusCallback != long {
		t.Fatalf("originated %+v", reqs)
	}
}
