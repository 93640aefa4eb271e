// Package sip is Switchboard's native SIP backend: it places calls over
// SIP trunks with sipgo, anchors their media on its own RTP relay (package
// media) and bridges two answered legs by relaying RTP between them
// (a B2BUA: each far end only talks to Switchboard). It also answers the
// calls its trunks send (see Inbound calls), speaks on a leg
// (announcements, DTMF) and records bridges.
//
// # Early media
//
// While a leg dialed with a DialRequest.Peer (an answered Session of this
// backend) rings, its carrier may play ringback or an announcement: a 180
// or 183 with SDP. The leg's stream is then pointed at that SDP and what
// it receives is relayed one way to the peer's party (through the peer's
// output, below), so the caller hears the carrier's ringback instead of
// silence. The relay ends when the leg answers (the engine's Bridge takes
// over), fails or is cancelled. Several legs may ring for the same peer
// (TO_ALL): the first whose early media packet arrives is relayed, the
// others are dropped; if that leg ends without answering, the next leg
// that sends early media is heard. From a leg's answer until it ends (or
// from a Bridge until it is closed) no leg's early media reaches the
// peer, so nothing is forwarded twice. An early SDP without the peer's
// codec is ignored (the relay never transcodes). A leg dialed with
// DialRequest.NoEarlyMedia never relays its early media (the engine plays
// the peer a ringtone of its own instead); its answer still seals the
// peer as above.
//
// # One output stream per leg
//
// Every packet a leg's party receives goes out through the leg's one
// output: the other party's packets while bridged, a ringing leg's early
// media, announcements (Play) and DTMF (SendDTMF). A media.Packetizer
// under a mutex gives them one SSRC, of our own, and one sequence-number
// and timestamp space: relayed packets are rewritten in place
// (Packetizer.Rewrite), our own frames are packetized. Whenever the source
// changes (announcement → other party → announcement, early media →
// bridged party, or the other party's SSRC changes) the stream continues
// with the next sequence number and a timestamp just past the last packet
// (or later by the pause when there was one) and the marker bit set, so
// the phone's jitter buffer re-syncs instead of clicking. A relayed
// packet's payload type is mapped to the one this leg negotiated, so legs
// may number a codec or telephone-event differently. The plain relay path
// (bridged, nothing playing) costs a mutex and the rewrite of twelve
// header bytes per packet, and does not allocate.
//
// # Announcements
//
// Session.Play (engine.Player) plays audio that Config.Announcements
// returns pre-encoded in the leg's G.711 law: 20 ms packets, the first at
// once, then one per tick of a 20 ms ticker. Without Mix, the party hears
// only the announcement: packets relayed to it (bridge or early media)
// meanwhile are discarded, not delayed, and when the announcement ends the
// relay resumes on the same stream (marker bit, continuous numbering).
//
// With Mix (a time-limit alert: both parties hear it and keep hearing each
// other) the ticker paces the output alone: relayed audio is not sent as
// it comes but its payload is queued, and each tick mixes the next 20 ms
// of the queue (silence where it is short) into the next announcement
// frame with media.Mix, and sends the result as our own frame. The queue
// holds at most 80 ms and drops its oldest audio beyond that, so the
// relayed audio is delayed by at most that much and the clocks of the far
// end and of our ticker can drift without the queue growing. Why not mix
// on the relay's goroutine, packet by packet: the announcement would then
// stall whenever the other party is silent (VAD, hold) and pause with
// every lost packet, and the output would carry two interleaved timings.
// With one clock the announcement always plays at its pace, and what is
// mixed in is only as late as the queue. Relayed telephone-events are not
// forwarded while an announcement plays, mixed or not (they are still
// detected and reported on the leg that sent them); what remains queued
// when a mixed announcement ends is dropped.
//
// Play calls on one leg do not queue: the latest one plays, and one it
// takes over from returns ErrPlayPreempted. Play returns when the
// announcement has been played (never, with Loop), or when its context,
// or the leg, ends; the relay is heard again before it returns.
//
// # DTMF
//
// The telephone-event payload type of a leg is the one its SDP answer (or,
// for early media, its early SDP) names for telephone-event/8000; we offer
// 101. Received events are fed to a media.DTMFDetector on the leg's read
// goroutine, and each key press is reported once to the OnDTMF callback
// (engine.DTMFSession), however often its packets are repeated. While
// bridged, the events are relayed to the other party like any packet:
// rewritten into its output with its own telephone-event payload type, or
// dropped when the other party negotiated none (its phone could not tell
// them from audio). SendDTMF sends RFC 4733 events (media.DTMFSender) on
// the leg's output: 100 ms per digit, an update every 50 ms and the end
// three times, 50 ms between digits. While a digit is sent nothing else
// goes out: an announcement pauses and resumes where it was, relayed
// packets are discarded.
//
// # Recording
//
// The Bridge that Backend.Bridge returns implements engine.RecordingBridge.
// StartRecording(name) writes <Config.RecordingDir>/<name>.wav, creating
// the directories (0750; the file 0640, never overwriting one): name is a
// relative slash-separated path of letters, digits, '.', '_' and '-', with
// no empty segment, none starting with a dot, and no "..". The file is a
// two-channel 8 kHz 16-bit PCM WAV: the first session given to Bridge on
// the left channel, the second on the right, each what that party SAID
// (the RTP received from it, decoded; announcements and DTMF are not in
// it). A tap on each leg's read goroutine copies each audio packet into a
// pooled buffer of a small per-party queue and never blocks: when the
// recorder is behind, the packet is dropped and counted. One goroutine per
// recording writes, every 20 ms of wall-clock time, one frame per channel
// from what its party sent (silence where it sent nothing), so the two
// channels stay aligned within at most 160 ms and the recording lasts as
// long as the call. The header is brought up to date every 500 ms, so the
// file is playable at every moment, even if the process dies. The
// recording ends, and the file gets its final sizes, with StopRecording,
// Close or the end of either leg (Backend.Close returns only once its
// recordings are finished); Bridge.Recording reports its path and
// duration.
//
// # Media timeout
//
// A phone can vanish without a BYE (crash, network loss, a NAT binding
// that expired). An answered leg whose far end sent no RTP for
// Config.MediaTimeout (default 60 s; negative turns it off) is therefore
// ended: its Context is cancelled with cause engine.ErrMediaTimeout and a
// BYE is sent. Silence is counted from the later of the last RTP packet
// accepted (package media's source rule; strangers' packets do not keep a
// leg alive) and the answer; what we send to the leg (relay, announcements,
// DTMF) does not count. While the far end's SDP says it sends nothing
// (a=recvonly or a=inactive: it holds the call) the leg is not timed out;
// when it resumes, the count starts over. One ticker per backend checks
// the sessions, at a quarter of the timeout, so a silent leg ends between
// 1 and 1.25 times MediaTimeout after its last packet.
//
// # Inbound calls
//
// An out-of-dialog INVITE is a call offered to the handler set with
// Backend.OnInbound (the engine's Inbound), but only from a trunk: the IP
// its packet came from (the transport's source address; never Via or
// Contact, which the sender writes as it likes) must be in some trunk's
// Sources, IPs or CIDRs, IPv4 or IPv6. A trunk without Sources takes its
// Host as its source: the IP, or the addresses its DNS name resolves to
// at Start (a name that does not resolve leaves the trunk without
// sources, with a warning). The checks, in order, and their answers:
//
//   - not from a trunk source: 403 Forbidden, counted as not_trunk and
//     logged at Debug only (whoever can send a packet must not flood the
//     log);
//   - no handler set: 403 Forbidden (no_handler);
//   - no user part in From, or no Contact: 400 Bad Request; no number
//     called (user part of the Request-URI, else of To): 404 Not Found;
//     no SDP offer, SDP that does not parse, or no PCMU/PCMA in it: 488
//     Not Acceptable Here (all bad_request). A delayed offer (INVITE
//     without SDP, offer in the ACK) is not supported.
//
// Each is a final response at once; Stats().Inbound counts them, and the
// calls offered (Accepted). An offered call gets 100 Trying at once and
// is handed to the handler on a goroutine of its own; the INVITE's
// transaction is held until the call is answered or rejected. Ringing
// sends 180 (once, however often it is called); Reject sends the final
// response given. A CANCEL is answered 200 and the INVITE 487 (sipgo's
// transaction does both); the call's Context then ends with
// ErrCallerCancelled. A call neither answered nor rejected within
// DefaultOfferTimeout (60 s) is rejected 480 (cause ErrNotAnswered); on
// Close, the calls still offered are rejected 503 (cause ErrClosed).
//
// Answer takes an RTP port from the pool and answers 200 OK with SDP
// pinned to the caller's first codec that is PCMU or PCMA (under the
// caller's payload type), with telephone-event under the caller's payload
// type when it offered one and none otherwise. The 200 is retransmitted
// (T1 doubling to T2) until the ACK comes; without an ACK within Timer H
// (32 s), or when Answer's context ends or the backend closes meanwhile,
// Answer fails and the call is hung up with a BYE. (sipgo's
// DialogServerSession.WriteResponse is not used for the 200: its wait for
// the ACK cannot be cancelled.) The Session returned is the same as a
// dialed leg's: Context (ErrRemoteHangup on the caller's BYE), Hangup
// (BYE, idempotent), Play, DTMF, MediaStats, the media timeout, a party
// of Bridge and of a recording; a re-INVITE (hold) is answered as on a
// dialed leg. Answer fails without answering, leaving the call to be
// rejected, when the call or ctx already ended or no RTP port is free.
//
// # Logging
//
// sipgo's own records (it logs unparsable packets at ERROR, with their
// raw bytes) reach the backend's logger at Debug level, with their
// original level in sipgo_level and long values cut, so whoever can send
// a UDP packet cannot flood the error log. A few sipgo messages about its
// connection reference counts go to slog's default logger; sipgo offers
// no per-instance option for them.
package sip
