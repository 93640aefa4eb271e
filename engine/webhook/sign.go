package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The request headers of a delivery, as Standard Webhooks names them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret: "whsec_" and the base64 of
// the key.
const SecretPrefix = "whsec_"

// MinSecretBytes is the shortest key a secret may carry.
const MinSecretBytes = 24

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of ParseSecret and Verify.
var (
	ErrBadSecret           = errors.New("webhook: secret must be \"whsec_\" followed by the base64 of a key of at least 24 bytes")
	ErrMissingHeaders      = errors.New("webhook: webhook-id, webhook-timestamp or webhook-signature is missing")
	ErrBadTimestamp        = errors.New("webhook: webhook-timestamp is not unix seconds")
	ErrTimestampTooOld     = errors.New("webhook: webhook-timestamp is too old")
	ErrTimestampTooNew     = errors.New("webhook: webhook-timestamp is in the future")
	ErrNoMatchingSignature = errors.New("webhook: no signature matches")
)

// ParseSecret returns the key of a secret "whsec_<base64 key>". The key
// must have at least MinSecretBytes bytes.
func ParseSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Accept the key without its padding too.
		if key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "=")); err != nil {
			return nil, ErrBadSecret
		}
	}
	if len(key) < MinSecretBytes {
		return nil, ErrBadSecret
	}
	return key, nil
}

// NewSecret returns a new random secret with a 32-byte key.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value of a message:
// "v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>",
// timestamp being unix seconds.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, timestamp, body)), nil
}

func mac(key []byte, id string, timestamp int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, timestamp, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery as its receiver gets it: the headers
// webhook-id, webhook-timestamp and webhook-signature, and the raw body.
// The timestamp must be within tolerance of now (0: DefaultTolerance),
// and one of the space-separated signatures of the header must be a "v1,"
// signature made with secret. A nil error means Switchboard sent exactly
// this body; de-duplicate by webhook-id (the event id), which stays the
// same across retries.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, h, body, tolerance, time.Now())
}

func verifyAt(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	switch at := time.Unix(sec, 0); {
	case now.Sub(at) > tolerance:
		return ErrTimestampTooOld
	case at.Sub(now) > tolerance:
		return ErrTimestampTooNew
	}
	want := mac(key, id, sec, body)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// signedHeaders sets the headers of one attempt; without a secret the
// request goes unsigned (id and timestamp only).
func signedHeaders(h http.Header, key []byte, id string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if key != nil {
		h.Set(HeaderSignature, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, ts, body)))
	}
}
