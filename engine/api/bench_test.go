package api

import (
	"context"
	"net/url"
	"testing"
)

// BenchmarkParseClickToCall is the validation of a typical request with
// every common parameter (Number sides, no directory look-ups).
func BenchmarkParseClickToCall(b *testing.B) {
	v, _ := url.ParseQuery("user_id=1&token=demo&from=9000000001,9000000002,9000000003&to=9000000004&fromStrategy=TO_ALL" +
		"&fromRingTime=25&toRingTime=30&fromRetryCount=1&timeLimit=300&timeLimitHangup=true&mode=live")
	ctx := context.Background()
	tenants := map[string]string{"1": "demo"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := CheckCredentials(v, tenants); err != nil {
			b.Fatal(err)
		}
		if _, err := ParseClickToCall(ctx, v, NoDirectory{}); err != nil {
			b.Fatal(err)
		}
	}
}
