package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engine/webhook"
)

// A receiver checks a delivery with Verify before it trusts the body.
// (The example's timestamp is years old, hence the tolerance.)
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the tenant's webhook_secret
	body := []byte(`{"test": 2432232314}`)             // the raw body, as received
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	fmt.Println(webhook.Verify(secret, h, body, 100*365*24*time.Hour))
	fmt.Println(webhook.Verify(secret, h, []byte(`{"test": 0}`), 100*365*24*time.Hour))
	// Output:
	// <nil>
	// webhook: no signature matches
}

// Without the package: HMAC-SHA256 over id.timestamp.body, keyed with the
// base64-decoded secret, compared with each "v1," signature of the header.
func Example_standardLibrary() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id, ts, sigs := "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	body := []byte(`{"test": 2432232314}`)

	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, sig := range strings.Fields(sigs) {
		ok = ok || hmac.Equal([]byte(sig), []byte(want))
	}
	fmt.Println(ok)
	// Output: true
}
