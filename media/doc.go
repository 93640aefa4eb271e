// Package media relays RTP between the two legs of a Switchboard call.
//
// Each answered leg owns one Stream: a UDP socket on an even port taken from
// a PortPool. The far end of a leg only ever talks to its own leg's socket
// (B2BUA media anchoring); a Bridge joins two streams so packets received on
// one are sent from the other to that leg's remote address. The package
// knows nothing about SIP: the signalling layer tells a Stream where to send
// (SetRemote, from the SDP answer) and which codec it negotiated.
//
// The source rule: a stream accepts packets from the address its SDP
// named. Until one arrives from there, the first packet from another port
// of that IP (or, after SetRemoteNAT, of the far end's public IP) latches:
// that source is accepted from then on and is where the stream sends. Any
// other source is rejected, and so is everything before SetRemote.
//
// A Stream hands what it accepts to one Sink. A Bridge makes each stream
// the other's sink; a signalling layer may put a sink of its own in
// between (to rewrite, tap or mute the packets) and returns ErrDropped for
// a packet it had nowhere to send, which the stream counts like a packet
// without a sink.
//
// For Switchboard to speak on a leg rather than only relay, the package
// has pure building blocks, free of sockets and clocks of their own, whose
// per-packet paths do not allocate. G.711 (Codec, PCMU and PCMA) converts
// between 16-bit linear samples and μ-law or A-law. DecodeWAV reads an
// announcement (8 kHz mono, 16-bit PCM or G.711) into Audio, refusing
// anything else with an error that says why, and Audio.Encode converts it
// once into a leg's codec; a Player cuts that into 20 ms frames. A
// Packetizer sends those frames, the other party's relayed packets
// (Rewrite) and DTMF under one SSRC with sequence numbers and timestamps
// that continue across every switch, marking each restart, so the phone
// hears no clicks. Mix lays an announcement over the conversation.
// NewWAVWriter records the two parties into a two-channel WAV that stays
// playable if the process dies mid-call. DTMFDetector reports each RFC
// 4733 key press once however its packets are repeated, lost or reordered,
// and DTMFSender sends digits as RFC 4733 events.
package media
