// Package asterisk is Switchboard's Asterisk backend: it drives calls on
// an Asterisk through the Asterisk REST Interface (ARI) and behaves, from
// the engine's point of view, like the native SIP backend (package sip).
// It uses the ARI models and event decoding of
// github.com/CyCoreSystems/ari/v5, but neither its event bus (which drops
// events when a subscriber falls behind) nor its calls without contexts:
// a small REST client of its own bounds every request by its context and
// Config.RequestTimeout, and one reader of the event WebSocket routes
// every event.
//
// # Events
//
// One goroutine reads the WebSocket (URL+"/events?app=<App>"), decodes
// each event and delivers it, by the ids it names (channel, bridge,
// playback, live recording), to the queue of whoever registered that id.
// Queues are unbounded: no event is ever dropped; events for no
// registered id are counted (Stats.Unrouted). Each channel the backend
// holds has one goroutine consuming its queue, so its events are applied
// in Asterisk's order. Every id is chosen by the backend and registered
// BEFORE the request that creates the resource (subscribe, then execute):
// POST /channels/{channelId} for a dial, /channels/{id}/snoop with
// snoopId, /channels/{id}/play/{playbackId}, /bridges/{bridgeId}.
//
// # How calls map to ARI
//
//   - Dial: the trunk is chosen as in package sip (longest prefix, else
//     the trunk without prefixes), its Endpoint template filled with the
//     number, and the channel originated into the Stasis application
//     (app=<App>, appArgs "sb:dial", callerId `"name" <number>`, an
//     originate timeout of 300 s: the engine's ring time, which is
//     shorter, ends the attempt). ProgressSent once Asterisk accepted
//     the originate; ProgressRinging at ChannelStateChange to Ringing (or
//     a Dial event RINGING/PROGRESS); the answer is the channel's
//     StasisStart. An attempt that ends unanswered is classified in one
//     place, classifyDial (causes.go has the table): by the SIP status
//     of its final response when Asterisk reports it (tech_cause), with
//     the native backend's own table, else by its ChannelDestroyed cause
//     (Q.850), else its Dial event's dialstatus. Cancelling the context
//     hangs the channel up with a reason following the cause
//     (ErrRingTimeout: no_answer; ErrLostRace: answered_elsewhere, so
//     the phone shows "call completed elsewhere"; otherwise normal) and
//     returns canceled, or noanswer for a ring timeout. An originate
//     whose answer was lost (timeout, network error, 5xx) may have
//     created the channel: it is hung up by id, never dialed again. A
//     channel answered just as it was cancelled is hung up.
//   - Session: Context ends at the far end's ChannelHangupRequest,
//     StasisEnd or ChannelDestroyed (engine.ErrRemoteHangup), or when we
//     hang up (DELETE /channels/{id}?reason=normal, idempotent, bounded
//     even under a cancelled context). A channel that leaves the
//     application without a hang-up is hung up: nothing may stay up
//     that the engine thinks ended.
//   - Bridge: a mixing bridge (POST /bridges/{id}?type=mixing,dtmf_events,
//     then addChannel with both channels; dtmf_events keeps it off
//     native_rtp, where key presses would not be reported); Close destroys it, the sessions
//     stay up; it is closed when either session ends.
//   - Play: a channel playback of Config.Media's URI (default
//     "sound:<id without extension>", so announcements are files in
//     Asterisk's sounds directory; Config.Media may return
//     "recording:…" or an http URI that Asterisk fetches), waiting for
//     PlaybackFinished; a cancelled Play stops its playback (DELETE
//     /playbacks/{id}); a later Play preempts an earlier one
//     (ErrPlayPreempted), as on the native backend. Loop plays again until
//     the context ends. A playback Asterisk reports as failed (no such
//     file) is engine.ErrUnknownAnnouncement.
//   - Play with Mix (time-limit alerts, heard by both parties while they
//     keep hearing each other): a snoop channel on the session's channel
//     with whisper=out (spy=none) is created, the announcement is played
//     on it, and it is hung up afterwards. Whispering "out" mixes the
//     announcement into what that party hears, and only that party: the
//     engine calls Play on each session, so each hears it once. Playing
//     on the bridge instead would reach both parties from one call, so
//     the engine's two calls would play it twice, and a bridge playback
//     cannot be aimed at one party.
//   - DTMF: ChannelDtmfReceived events (one per key press) call the OnDTMF
//     function; SendDTMF posts /channels/{id}/dtmf (100 ms per digit,
//     50 ms between) and returns once that time passed, since Asterisk
//     queues the digits and answers at once.
//   - Recording: POST /bridges/{id}/record (Config.RecordingFormat,
//     ifExists=overwrite); StopRecording posts
//     /recordings/live/{name}/stop, and Close stops it first. The engine's
//     names are paths ("<tenant>/<callid>"), but a stored recording is
//     addressed by one URL segment, so Asterisk's name is the engine's
//     with '/' written '~' (a character engine names cannot hold: the
//     mapping is one to one, needs no table and survives restarts).
//     Recordings() serves them by the engine's names
//     ("<tenant>/<callid>.wav") from GET /recordings/stored/{name}/file.
//   - Inbound: a StasisStart of a channel the backend did not create (its
//     first Stasis argument is not one of the markers above) is an
//     inbound call, offered to the OnInbound handler: Caller and
//     CallerName from the channel's caller ID, Called the first Stasis
//     argument when the dialplan gives one (Stasis(switchboard,${EXTEN})
//     is recommended, since the extension may have been rewritten), else
//     the channel's dialplan extension. Ringing posts /ring, Answer
//     /answer, Reject hangs up with the reason rejectReason maps the
//     SIP code to (404 unallocated, 486 busy, 480 no_answer, 403
//     rejected, 503 congestion, …; causes.go), which chan_pjsip turns
//     back into that status. Without a handler the channel is hung up
//     (403). An offer neither answered nor rejected within
//     DefaultOfferTimeout is rejected 480; Close rejects offers 503.
//
// # Connection life
//
// Start connects the WebSocket; when it drops, it is reconnected with
// exponential backoff and full jitter (Config.ReconnectMin to
// ReconnectMax) until Close. Ready is an error while it is down (Dial
// then fails at once, nothing sent). Events sent meanwhile are lost, so
// after each reconnect the backend lists channels, bridges and its
// playbacks and reconciles (see reconcile): channels gone end their
// sessions with ErrChannelGone (counted in Stats.ReconciledEnds),
// channels still up keep going and their events resume.
//
// Credentials travel only in the Authorization header: they are refused
// in Config.URL, errors name requests by method and path below the ARI
// base, and logged URLs carry neither credentials nor query.
//
// # Adoption by another node
//
// A dialed channel's id is "sb-" and the engine's leg id, and sessions
// and bridges report their ids as handles (engine.Handled), which the
// engine keeps in the record. When an engine node dies its channels stay
// up in Asterisk, in its Stasis application, which any application may
// drive; the node that takes over the dead node's calls (engine.Adopter)
// registers each channel, subscribes its own application to it
// (POST /applications/{app}/subscription?eventSource=channel:{id}) and
// only then looks it up, so no event in between is lost; the bridge
// likewise, its live recording going on (a bridge gone is replaced by a
// new one of both channels, recording appended). A channel not there is
// ErrChannelGone. Checked on Asterisk 20.20.1: a subscribed application
// receives the hang-up events of a channel that sits in another
// application's Stasis.
//
// # Not supported
//
//   - Recordings are Asterisk's mix of the bridge in one channel, not the
//     native backend's two-channel file (ARI cannot split the parties);
//     whether a recording cut short by a crash is playable depends on
//     Asterisk's format module.
//   - DialError.SIPCode is the SIP status only where Asterisk reports it
//     (chan_pjsip's tech_cause on ChannelDestroyed, Asterisk 20); with
//     chan_sip it is 0 and the Q.850 cause decides. Reason carries the
//     cause and Asterisk's text for it.
//   - No MediaCounter (Asterisk relays the media), no early-media relay
//     to the peer (DialRequest.Peer and NoEarlyMedia are ignored; the
//     engine's own ringtone plays), no media timeout of our own (set
//     rtp_timeout in Asterisk's pjsip.conf).
//   - One WebSocket per Stasis application: Asterisk sends an
//     application's events to one connection only, so several
//     Switchboard nodes must use different applications (and inbound
//     calls reach the node whose application the dialplan names).
//   - A half-open TCP connection is noticed only when the operating
//     system gives up on it; nothing pings Asterisk.
package asterisk
