package webhook

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification: a receiver's own
// Standard Webhooks library accepts what Switchboard signs.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignReproducesTheStandardWebhooksExample(t *testing.T) {
	got, err := Sign(specSecret, specID, specTimestamp, []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("signature %s, want %s", got, specSignature)
	}
}

func specHeaders(sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, specID)
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	at := time.Unix(specTimestamp, 0)
	other := NewSecret()
	otherSig, _ := Sign(other, specID, specTimestamp, []byte(specBody))
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"the example", specSecret, specHeaders(specSignature), specBody, at, nil},
		{"one of several signatures", specSecret, specHeaders("v1,bm9wZQ== " + specSignature + " v2,xyz"), specBody, at, nil},
		{"within tolerance", specSecret, specHeaders(specSignature), specBody, at.Add(4 * time.Minute), nil},
		{"too old", specSecret, specHeaders(specSignature), specBody, at.Add(6 * time.Minute), ErrTimestampTooOld},
		{"from the future", specSecret, specHeaders(specSignature), specBody, at.Add(-6 * time.Minute), ErrTimestampTooNew},
		{"body changed", specSecret, specHeaders(specSignature), `{"test": 2432232315}`, at, ErrNoMatchingSignature},
		{"another secret", specSecret, specHeaders(otherSig), specBody, at, ErrNoMatchingSignature},
		{"not v1", specSecret, specHeaders("v2," + specSignature[3:]), specBody, at, ErrNoMatchingSignature},
		{"no signature", specSecret, specHeaders(""), specBody, at, ErrMissingHeaders},
		{"bad timestamp", specSecret, func() http.Header { h := specHeaders(specSignature); h.Set(HeaderTimestamp, "1614265330.5"); return h }(), specBody, at, ErrBadTimestamp},
		{"bad secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", specHeaders(specSignature), specBody, at, ErrBadSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyAt(tc.secret, tc.h, []byte(tc.body), 0, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	if k, err := ParseSecret(NewSecret()); err != nil || len(k) != 32 {
		t.Fatalf("new secret: %d bytes, %v", len(k), err)
	}
	for _, s := range []string{"", "whsec_", "whsec_c2hvcnQ=", "whsec_not base64!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if _, err := ParseSecret(s); !errors.Is(err, ErrBadSecret) {
			t.Errorf("ParseSecret(%q): %v, want ErrBadSecret", s, err)
		}
	}
}
