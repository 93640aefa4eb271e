package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

// runCall places a click-to-call through the public API and follows it:
// each event as the server announces it, then the final record.
//
// Parameters are the click-to-call API's own, as name=value arguments:
//
//	switchboard call from=9000000001 to=9000000002 toStrategy=TO_ALL
//
// The exit status is 0 when the call was bridged, 3 when it ended without
// a bridge, 1 on any error.
func runCall(args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "base URL of a running switchboard")
	userID := fs.String("user-id", "1", "tenant user_id")
	token := fs.String("token", "demo", "tenant token")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up following the call after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: switchboard call [flags] name=value ...  (click-to-call parameters, e.g. from=… to=…)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	params := url.Values{}
	for _, a := range fs.Args() {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("argument %q is not name=value", a)
		}
		params.Add(k, v)
	}
	params.Set("user_id", *userID)
	params.Set("token", *token)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	base := strings.TrimRight(*server, "/")

	// Subscribe before executing is not possible across HTTP for a call
	// that has no id yet; the events stream replays the current record
	// first, so nothing that happened before it connected is lost.
	resp, err := http.PostForm(base+"/v2/clickToCall/para", params)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	var placed struct {
		CallID  string `json:"callid"`
		Status  string `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &placed); err != nil {
		return fmt.Errorf("unexpected answer (HTTP %d): %s", resp.StatusCode, body)
	}
	if placed.Status != "success" {
		return fmt.Errorf("refused: code %s: %s", placed.Code, placed.Message)
	}
	if placed.CallID == "" {
		fmt.Println("valid (developer mode: nothing dialed)")
		return nil
	}
	fmt.Println("call", placed.CallID)

	if err := followEvents(ctx, base, *userID, *token, placed.CallID); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
	}
	rec, err := getRecord(ctx, base, *userID, *token, placed.CallID)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(rec, "", "  ")
	fmt.Println(string(out))
	if rec["outcome"] != "completed" {
		return exitCode(3)
	}
	return nil
}

func followEvents(ctx context.Context, base, user, token, id string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/calls/"+url.PathEscape(id)+"/events", nil)
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data := strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			if event == "call" {
				// The stream opens with the record as it is now.
				var rec struct {
					State string            `json:"state"`
					Legs  []json.RawMessage `json:"legs"`
				}
				_ = json.Unmarshal([]byte(data), &rec)
				fmt.Printf("%s %-13s %s\n", time.Now().Format("15:04:05.000"), "following", rec.State)
				for _, l := range rec.Legs {
					printEvent("leg", fmt.Sprintf(`{"time":%q,"leg":%s}`, time.Now().Format(time.RFC3339Nano), l))
				}
				if rec.State == "ended" {
					return nil
				}
				continue
			}
			printEvent(event, data)
			if event == "call.ended" {
				return nil
			}
		}
	}
	return sc.Err()
}

// printEvent prints one line per event, the way an operator reads a call.
func printEvent(event, data string) {
	var ev struct {
		Time time.Time `json:"time"`
		Leg  *struct {
			Seq         int    `json:"seq"`
			Side        string `json:"side"`
			Number      string `json:"number"`
			AgentID     string `json:"agent_id"`
			AgentName   string `json:"agent_name"`
			Routing     string `json:"routing"`
			Round       int    `json:"round"`
			State       string `json:"state"`
			Disposition string `json:"disposition"`
			SIPCode     int    `json:"sip_code"`
			Reason      string `json:"reason"`
		} `json:"leg"`
		Call *struct {
			State    string `json:"state"`
			Outcome  string `json:"outcome"`
			HangupBy string `json:"hangup_by"`
			Reason   string `json:"reason"`
		} `json:"call"`
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil || (ev.Leg == nil && ev.Call == nil) {
		fmt.Printf("%-14s %s\n", event, data)
		return
	}
	ts := ev.Time.Local().Format("15:04:05.000")
	if ev.Leg != nil {
		l := ev.Leg
		line := fmt.Sprintf("%s %-13s leg %d %-4s %s round %d", ts, event, l.Seq, l.Side, l.Number, l.Round)
		if l.AgentID != "" {
			line += fmt.Sprintf(" agent %s (%s)", l.AgentID, l.AgentName)
			if l.Routing != "" && event == "leg.dialing" {
				line += " by " + l.Routing
			}
		}
		if l.Disposition != "" {
			line += " " + l.Disposition
		}
		if l.SIPCode != 0 {
			line += fmt.Sprintf(" (%d)", l.SIPCode)
		}
		if l.Reason != "" && (event == "leg.ended" || l.Disposition == "skipped") {
			line += ": " + l.Reason
		}
		fmt.Println(line)
		return
	}
	c := ev.Call
	line := fmt.Sprintf("%s %-13s %s", ts, event, c.State)
	if c.Outcome != "" {
		line += fmt.Sprintf(" outcome=%s hangup_by=%s: %s", c.Outcome, c.HangupBy, c.Reason)
	}
	fmt.Println(line)
}

func getRecord(ctx context.Context, base, user, token, id string) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/calls/"+url.PathEscape(id), nil)
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rec map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&rec); err != nil {
		return nil, fmt.Errorf("call record: HTTP %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("call record: HTTP %d: %v", resp.StatusCode, rec)
	}
	return rec, nil
}
