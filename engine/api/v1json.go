package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// jsonError is a refusal of a /v1 request body.
type jsonError struct {
	status    int
	code, msg string
}

func malformed(msg string) *jsonError {
	return &jsonError{http.StatusBadRequest, "malformed_json", msg}
}

// listParams may be given as JSON arrays.
var listParams = map[string]bool{"from": true, "to": true, "timeLimitAlert": true, "timeLimtAlert": true, "alertAudio": true}

var knownParams = func() map[string]bool {
	m := make(map[string]bool, len(paramNames))
	for _, n := range paramNames {
		m[n] = true
	}
	return m
}()

// decodeCallJSON turns a JSON object whose keys are click-to-call
// parameter names into url.Values, so the JSON API runs the very same
// validation. Values may be strings, numbers (kept exactly as written),
// booleans or null (absent); from, to, timeLimitAlert and alertAudio may
// also be arrays of strings and numbers. Unknown keys (user_id and token
// included: credentials are HTTP Basic), repeated keys, nested objects and
// trailing data are refused.
func decodeCallJSON(body io.Reader) (url.Values, *jsonError) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	v := url.Values{}
	seen := map[string]bool{}
	tok, err := dec.Token()
	if err != nil {
		return nil, readFailure(err)
	}
	if tok != json.Delim('{') {
		return nil, malformed("the body must be a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, readFailure(err)
		}
		key, _ := tok.(string)
		if !knownParams[key] {
			return nil, &jsonError{http.StatusBadRequest, "unknown_parameter", "unknown parameter " + quoteKey(key)}
		}
		if seen[key] {
			return nil, malformed("parameter " + key + " is given twice")
		}
		seen[key] = true
		if len(seen) > maxFormValues {
			return nil, malformed("too many parameters")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, readFailure(err)
		}
		val, present, jerr := jsonValue(key, raw)
		if jerr != nil {
			return nil, jerr
		}
		if present {
			v.Set(key, val)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, readFailure(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, readFailure(err)
		}
		return nil, malformed("data after the JSON object")
	}
	return v, nil
}

func readFailure(err error) *jsonError {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return &jsonError{http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large"}
	}
	if errors.Is(err, io.EOF) {
		return malformed("the body ends before the JSON object does")
	}
	return malformed("the body is not valid JSON: " + err.Error())
}

// jsonValue renders one parameter's JSON value as its form value.
func jsonValue(key string, raw json.RawMessage) (string, bool, *jsonError) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", false, malformed("no value for " + key)
	case raw[0] == '[':
		if !listParams[key] {
			return "", false, badType(key, "a string or a number")
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return "", false, malformed("the body is not valid JSON: " + err.Error())
		}
		parts := make([]string, 0, len(elems))
		for _, e := range elems {
			s, ok := scalar(e)
			if !ok || strings.Contains(s, ",") {
				return "", false, badType(key, "an array of strings or numbers without commas")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true, nil
	case string(raw) == "null":
		return "", false, nil
	}
	s, ok := scalar(raw)
	if !ok {
		if listParams[key] {
			return "", false, badType(key, "a string, a number or an array of them")
		}
		return "", false, badType(key, "a string or a number")
	}
	return s, true, nil
}

// scalar renders a JSON string, number or boolean.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw), true
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), true
	}
	return "", false
}

func badType(key, want string) *jsonError {
	return &jsonError{http.StatusBadRequest, "invalid_value", key + " must be " + want}
}

// quoteKey renders a key for a message, shortened.
func quoteKey(k string) string {
	if len(k) > 60 {
		k = k[:60] + "…"
	}
	return quote(k)
}
