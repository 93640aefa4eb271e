package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.CallerLookup = (*CallerLookup)(nil)

// CallerLookup sends an app's caller lookup URL the contact-centre spec's
// callerInformation webhook before an inbound call is routed:
//
//	{"event":"callerInformation","call_department":"<app department>",
//	 "caller_number":"<caller>","call_status":"routing"}
//
// signed as every webhook is (webhook-id, webhook-timestamp,
// webhook-signature with the tenant's secret), and reads the answer:
//
//	{"status":"success","caller_name":"…","caller_email":"…","customer_info":"…"}
//
// Anything else — another status, a non-2xx answer, a body that is not
// that JSON, no answer within the context's deadline — is an error, and
// the engine routes the call without a name. There are no retries: the
// caller is waiting.
type CallerLookup struct {
	// Client sends the requests; nil: a client of its own, which follows
	// no redirects.
	Client *http.Client
	// Secret returns the tenant's signing secret; nil or "": unsigned.
	Secret func(tenant string) string
}

// maxLookupAnswer bounds the answer read: a name, an email and a line of
// text.
const maxLookupAnswer = 16 << 10

// lookupRequest is the callerInformation body.
type lookupRequest struct {
	Event          string `json:"event"`
	CallDepartment string `json:"call_department"`
	CallerNumber   string `json:"caller_number"`
	CallStatus     string `json:"call_status"`
}

// lookupAnswer is what the lookup URL answers.
type lookupAnswer struct {
	Status       string `json:"status"`
	CallerName   string `json:"caller_name"`
	CallerEmail  string `json:"caller_email"`
	CustomerInfo string `json:"customer_info"`
}

// defaultLookupClient follows no redirects: a lookup is one short request.
var defaultLookupClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// LookupCaller asks app's lookup URL who caller is.
func (l *CallerLookup) LookupCaller(ctx context.Context, app *engine.App, caller string) (*engine.CallerInfo, error) {
	dept := app.Department
	if dept == "" {
		dept = app.ID
	}
	body, err := json.Marshal(lookupRequest{Event: "callerInformation", CallDepartment: dept, CallerNumber: caller, CallStatus: "routing"})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.CallerLookupURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("caller lookup: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	var key []byte
	if l.Secret != nil {
		if s := l.Secret(app.Tenant); s != "" {
			if key, err = ParseSecret(s); err != nil {
				return nil, fmt.Errorf("caller lookup: tenant %s: %w", app.Tenant, err)
			}
		}
	}
	signedHeaders(req.Header, key, "lookup_"+rand.Text(), time.Now(), body)
	client := l.Client
	if client == nil {
		client = defaultLookupClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("caller lookup: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("caller lookup: reading the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("caller lookup: answered %s", resp.Status)
	}
	if len(data) > maxLookupAnswer {
		return nil, fmt.Errorf("caller lookup: answer longer than %d bytes", maxLookupAnswer)
	}
	var a lookupAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("caller lookup: answer is not the expected JSON: %w", err)
	}
	if !strings.EqualFold(a.Status, "success") {
		return nil, errors.New("caller lookup: status is not success")
	}
	return &engine.CallerInfo{
		Name:  displayName(a.CallerName),
		Email: clip(a.CallerEmail, 254),
		Info:  clip(a.CustomerInfo, 1024),
	}, nil
}

// displayName keeps what a SIP display name can carry: printable
// characters, no quotes or backslashes, at most 64 of them.
func displayName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			continue
		}
		b.WriteRune(r)
	}
	return clip(strings.TrimSpace(b.String()), 64)
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
