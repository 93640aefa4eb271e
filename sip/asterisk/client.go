package asterisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of ARI's answers. An *APIError matches them with errors.Is.
var (
	// ErrNotFound: the resource (channel, bridge, playback, recording)
	// does not exist (404).
	ErrNotFound = errors.New("asterisk: not found")
	// ErrConflict: 409, such as a channel not in a Stasis application or
	// an id already taken.
	ErrConflict = errors.New("asterisk: conflict")
	// ErrUnauthorized: the ARI user or password was refused (401, 403).
	ErrUnauthorized = errors.New("asterisk: unauthorized")
)

// APIError is an error status from ARI with the message of its
// {"message": "…"} body. It names the request by method and path below
// the ARI base, never by its full URL.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("asterisk: %s %s: %d %s", e.Method, e.Path, e.StatusCode, msg)
}

// Is matches ErrNotFound, ErrConflict and ErrUnauthorized by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// client speaks ARI's REST interface: every call bounded by its context
// and the request timeout, HTTP Basic authentication, errors without the
// URL (so without anything secret).
type client struct {
	base     *url.URL // no credentials, no trailing slash
	user     string
	password string
	timeout  time.Duration
	hc       *http.Client
}

func newClient(base *url.URL, user, password string, timeout time.Duration) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &client{base: base, user: user, password: password, timeout: timeout, hc: &http.Client{
		Transport: tr,
		// ARI does not redirect; following one could send the
		// credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// esc joins path segments, each escaped.
func esc(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends method path?q with the JSON body in (when not nil) and decodes
// the JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("asterisk: %s %s: decoding the answer: %w", method, path, requestErr(err))
	}
	return nil
}

// send sends the request and returns the response of a 2xx status; any
// other status is an *APIError.
func (c *client) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = c.base.EscapedPath() + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("asterisk: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("asterisk: %s %s: %w", method, path, requestErr(err))
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asterisk: %s %s: %w", method, path, requestErr(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	apiErr := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var msg struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(raw, &msg) == nil {
		apiErr.Message = msg.Message
		if apiErr.Message == "" {
			apiErr.Message = msg.Error
		}
	}
	if len(apiErr.Message) > 200 {
		apiErr.Message = apiErr.Message[:200]
	}
	return nil, apiErr
}

// requestErr drops the URL a *url.Error quotes (keeping what it wraps, so
// errors.Is still finds context.DeadlineExceeded and the like).
func requestErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Operations used by the backend.

// ariChannel is what the backend reads of ARI's Channel model.
type ariChannel struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Caller struct {
		Name   string `json:"name"`
		Number string `json:"number"`
	} `json:"caller"`
}

type ariBridge struct {
	ID       string   `json:"id"`
	Channels []string `json:"channels"`
}

type ariPlayback struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// hangup deletes a channel with a named reason (ARI's "reason": normal,
// busy, no_answer, …). A channel already gone is not an error. An Asterisk
// that does not know the reason (older versions lack answered_elsewhere)
// is asked again with "normal".
func (c *client) hangup(ctx context.Context, id, reason string) error {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	err := c.do(ctx, http.MethodDelete, esc("channels", id), q, nil, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest && reason != "normal" {
		err = c.do(ctx, http.MethodDelete, esc("channels", id), url.Values{"reason": {"normal"}}, nil, nil)
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (c *client) channels(ctx context.Context) ([]ariChannel, error) {
	var out []ariChannel
	err := c.do(ctx, http.MethodGet, "/channels", nil, nil, &out)
	return out, err
}

func (c *client) bridges(ctx context.Context) ([]ariBridge, error) {
	var out []ariBridge
	err := c.do(ctx, http.MethodGet, "/bridges", nil, nil, &out)
	return out, err
}
