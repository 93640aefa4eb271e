// Package phone is a test phone for Switchboard's end-to-end tests: a SIP
// UAS on 127.0.0.1 that answers calls the way each test asks, plays a tone
// of its own on every answered call, and records what it hears, so a test
// can prove what each party of a call heard rather than only that RTP
// flowed.
//
// It is test support code, not part of the product.
//
// # Calls
//
// Start (or New, inside a test) listens for SIP over UDP on a loopback
// port. Each dialed number (the user part of the INVITE's Request-URI)
// behaves as its Behaviour says: answer after a delay, ring for ever, busy
// (486), reject (603); ring with 180 or with 183 and early media; hang up
// by itself after a while. The phone answers the offer's first G.711 codec
// (PCMU or PCMA; Behaviour.Codec picks one when both are offered) and the
// offer's RFC 4733 telephone-event payload type. It handles ACK, BYE,
// CANCEL and re-INVITE (answered with its SDP; a re-INVITE may move the
// remote RTP address or hold the call), and answers OPTIONS.
//
// Every INVITE becomes a Call: its state (Ringing, Answered, Ended), SIP
// Call-ID, final response, the reason it ended, and what was heard. A Call
// can hang up (BYE, or 603 while ringing) and send DTMF as RFC 4733 events.
//
// # Media
//
// Each call has its own RTP socket on 127.0.0.1. From the 183 (early media)
// or the 200 on, the phone sends 20 ms G.711 packets paced by a ticker: a
// sine tone of the Behaviour's frequency (Tone; EarlyTone during early
// media), or silence. Everything received is recorded: the decoded samples
// of each audio packet with its arrival time and RTP header (sequence
// number, timestamp, SSRC, marker), and the DTMF key presses, detected with
// media.DTMFDetector.
//
// # What was heard
//
// A Recording (Call.Heard) answers questions about content, not timing.
// Level is the RMS of what was heard in a window. HeardTone is the share of
// that energy at one frequency (Goertzel per packet, Hann-windowed): a
// 1000 Hz tone gives about 1 at 1000 Hz and about 0 at 440 Hz. Measured on
// 20 ms packets, tones must be 200 Hz or more apart to be told apart (425
// Hz and 440 Hz are one tone to it). ToneSpans, ToneStart and ToneStop say
// when a tone started and stopped being heard; Windows cuts the call into
// windows of one width; Continuity checks the RTP stream for sequence
// gaps, reordering, timestamp jumps and SSRC changes, each with its marker
// bit. Offsets count from the call's INVITE; Recording.Offset turns a
// moment seen elsewhere (the other party's answer) into one. A Recorder
// builds a Recording from any RTP packets, so a test's own RTP socket can
// use the same analysis.
//
// In an end-to-end test:
//
//	ph := phone.New(t, phone.Options{Numbers: map[string]phone.Behaviour{
//		"1000001": {Tone: 440},
//		"1000002": {Tone: 1000, AnswerAfter: time.Second},
//	}})
//	// … route the numbers to ph.Addr(), place the call, hang it up …
//	from, _ := ph.WaitCall(ctx, "1000001")
//	_ = from.WaitState(ctx, phone.Ended)
//	to, _ := ph.WaitCall(ctx, "1000002")
//	heard := from.Heard()
//	bridged := heard.Offset(to.Info().Answered)
//	if heard.HeardTone(1000, bridged, phone.End) < 0.8 { … }
//
// # Lifetime
//
// Everything is bounded: Close (or the end of the context given to Start)
// ends live calls (BYE, or 480 while ringing, each bounded), stops every
// goroutine and closes every socket before it returns.
package phone
