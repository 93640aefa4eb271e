package sipptest

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Counts is what a sipp UAS received and sent, from its message log.
// Retransmissions (byte-identical repeats of a message) count once.
type Counts struct {
	// Requests received, by method ("INVITE", "ACK", "CANCEL", "BYE").
	Requests map[string]int
	// Responses sent, by status code.
	Responses map[int]int
	// SentRequests are requests sipp itself sent (the BYE of
	// uas_answer_bye.xml), by method.
	SentRequests map[string]int
	// ReceivedResponses are responses to those, by status code.
	ReceivedResponses map[int]int
}

// Counts parses the message log as it is now.
func (u *UAS) Counts() Counts {
	f, err := os.Open(u.LogFile)
	if err != nil {
		return newCounts()
	}
	defer f.Close()
	return ParseLog(f)
}

// WaitCounts polls the log until cond holds and returns the counts. The
// deadline only bounds a broken test; nothing measures how fast sipp is.
func (u *UAS) WaitCounts(t testing.TB, what string, cond func(Counts) bool) Counts {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		c := u.Counts()
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp never saw %s; counts: %+v", what, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newCounts() Counts {
	return Counts{
		Requests:          map[string]int{},
		Responses:         map[int]int{},
		SentRequests:      map[string]int{},
		ReceivedResponses: map[int]int{},
	}
}

// ParseLog parses a sipp -trace_msg log. Each message there follows a
// "-----… date" line and a "UDP message received [n] bytes :" or
// "UDP message sent (n bytes):" line.
func ParseLog(r io.Reader) Counts {
	c := newCounts()
	seen := map[string]bool{}
	var (
		dir   string // "received" or "sent", "" outside a message
		lines []string
	)
	flush := func() {
		defer func() { dir, lines = "", nil }()
		start := -1
		for i, l := range lines {
			if strings.TrimSpace(l) != "" {
				start = i
				break
			}
		}
		if dir == "" || start < 0 {
			return
		}
		msg := strings.Join(lines[start:], "\n")
		key := dir + "\n" + strings.TrimRight(msg, "\r\n ")
		if seen[key] {
			return
		}
		seen[key] = true
		first := strings.Fields(lines[start])
		if len(first) < 2 {
			return
		}
		if strings.HasPrefix(first[0], "SIP/") {
			code, err := strconv.Atoi(first[1])
			if err != nil {
				return
			}
			if dir == "sent" {
				c.Responses[code]++
			} else {
				c.ReceivedResponses[code]++
			}
			return
		}
		if dir == "received" {
			c.Requests[first[0]]++
		} else {
			c.SentRequests[first[0]]++
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(l, "-----------"):
			flush()
		case dir == "" && lines == nil && strings.Contains(l, " message received "):
			dir = "received"
			lines = []string{}
		case dir == "" && lines == nil && strings.Contains(l, " message sent "):
			dir = "sent"
			lines = []string{}
		case dir != "":
			lines = append(lines, l)
		}
	}
	flush()
	return c
}
