// Package aritest is an Asterisk REST Interface (ARI) server for tests: it
// speaks Asterisk 20's wire protocol (REST paths and parameters, JSON
// models, status codes and error bodies, the event WebSocket and the order
// of its events) and simulates the far ends of the channels it "dials". It
// listens on 127.0.0.1 only and never places a real call. Switchboard's ARI
// backend runs against it wherever a real Asterisk cannot run.
//
//	s := aritest.Start(t, aritest.Options{Far: func(ep string) aritest.Far {
//		return aritest.Far{Ring: 20 * time.Millisecond, Answer: true}
//	}})
//	// REST base s.URL(), events at s.URL()+"/events?app=switchboard",
//	// user "switchboard", password "secret".
//
// # What it covers
//
// Authentication by HTTP Basic or api_key (401 with Asterisk's
// WWW-Authenticate otherwise); /asterisk/info and /ping; /applications;
// channels: list, get, originate (with or without an id, JSON bodies whose
// keys are parameters), create + dial, hangup with reason or reason_code,
// answer, ring, progress, moh, hold, silence, mute, dtmf, play, record,
// snoop, channel variables; bridges: create, get, list, destroy,
// addChannel, removeChannel, play, record, moh; playbacks: get, stop,
// control; live and stored recordings (a stored recording's file is a valid
// WAV of silence). Events: Dial, ChannelStateChange, ChannelDialplan,
// ChannelVarset, StasisStart, StasisEnd, ChannelHangupRequest,
// ChannelDestroyed (cause, cause_txt, tech_cause), ChannelDtmfReceived,
// ChannelHold/Unhold, ChannelEnteredBridge, ChannelLeftBridge,
// BridgeCreated (subscribeAll only), BridgeDestroyed, PlaybackStarted,
// PlaybackContinuing, PlaybackFinished, RecordingStarted, RecordingFinished.
// Every event carries type, timestamp ("2006-01-02T15:04:05.000-0700"),
// application and asterisk_id, and decodes with ari/v5's DecodeEvent.
//
// Not covered: dialplan execution (originate to an extension answers and
// sits Up), continue/redirect/move (501), externalMedia (501), Local
// channel pairs, endpoints, device states, sounds, mailboxes, modules,
// logging, user events, REST over the WebSocket, ApplicationReplaced, the
// Announcer/Recorder channels Asterisk puts into bridges, BRIDGEPEER
// variables, and with subscribeAll the ChannelCreated, DeviceStateChanged
// and other events of channels outside Stasis.
//
// # Behaviour checked against a real Asterisk 20.20.1
//
// These follow captured traffic of Asterisk 20.20.1 with chan_sip
// endpoints ("SIP/peer/number"):
//   - originate: the 200 response shows the channel Down at AppDial2
//     "(Outgoing Line)"; the originating application is subscribed at once
//     and receives Dial (dialstatus "", forward "", dialstring), on 180
//     ChannelStateChange Ringing and Dial RINGING, on 200 ChannelStateChange
//     Up and Dial ANSWER, then ChannelVarset STASISSTATUS="" and
//     StasisStart (no ChannelDialplan: AppDial2 -> Stasis is not a location
//     change);
//   - refusals: 486 and 603 are a BUSY indication (Dial BUSY, then
//     ChannelDestroyed 17 "User busy" or 21 "Call Rejected", no hang-up
//     request); the originate timeout gives ChannelDestroyed 19 with no Dial
//     status; a SIP timeout gives ChannelHangupRequest 18, Dial NOANSWER,
//     ChannelDestroyed 18; an unknown peer is a 500 {"error":"Allocation
//     failed"};
//   - hang-up by the client: five RTPAUDIOQOS* ChannelVarset,
//     ChannelHangupRequest {"cause": 32, "soft": true} (32 is the soft
//     hang-up flag, not a Q.850 cause), StasisEnd, STASISSTATUS=SUCCESS,
//     [RTPAUDIOQOS when answered], ChannelDestroyed 16 with the dialplan
//     location Stasis replaced; by the far end (BYE): the RTP variables,
//     ChannelHangupRequest {"cause": 16}, StasisEnd, STASISSTATUS,
//     ChannelDestroyed 16;
//   - create + dial: ChannelDialplan Stasis, STASISSTATUS, StasisStart in
//     state Down; dial gives Dial with the dialstring, then Dial events with
//     an empty dialstring; a BUSY indication leaves the channel in Stasis
//     until the application or the dial timeout (soft hang-up, cause 19)
//     ends it; it can be dialled again;
//   - bridges: no BridgeCreated for the creating application;
//     ChannelEnteredBridge per channel; ChannelLeftBridge before StasisEnd
//     on hang-up; BridgeDestroyed only while the application is still
//     subscribed (removeChannel and destruction take back the subscription
//     an addChannel gave); video_mode "talker"; technology simple_bridge,
//     native_rtp with two members (unless the type has dtmf_events or
//     proxy_media), holding_bridge; in a native_rtp bridge the RFC 4733
//     packets a party sends are forwarded to the other party and no
//     ChannelDtmfReceived is raised;
//   - playbacks: 201 with state "queued"; Started/Finished "done"; a missing
//     sound file Finished "failed"; an unsupported scheme or unknown
//     recording Started and never Finished; a repeated media query
//     parameter keeps only its last value; stop gives Finished "done"; a
//     hang-up gives Finished "failed" between the hang-up request and
//     StasisEnd; a media list gives Started, Continuing, Started, Finished;
//     a destroyed bridge cuts its playback without PlaybackFinished;
//   - error bodies and messages for unknown channels, bridges, variables.
//
// # chan_pjsip, checked against Asterisk 20.20.1 with pjproject 2.17
//
// chan_pjsip endpoints ("PJSIP/number@trunk"): every refusal queues a
// hang-up, so ChannelHangupRequest {cause, tech_cause} comes before the
// Dial with the final status, and ChannelDestroyed carries tech_cause, the
// SIP status received: a 486 gives ChannelHangupRequest 17/486, Dial BUSY,
// ChannelDestroyed 17 "User busy" 486; a 603 gives ChannelHangupRequest
// 21/603, Dial NOANSWER, ChannelDestroyed 21 "Call Rejected" 603. The first
// Dial (empty dialstatus) may come before or after that hang-up request
// on a real Asterisk (two threads race); here it comes before.
//
// # Behaviour inferred from Asterisk's source, not captured
//
// chan_sip 404/410/500/502/503 are a
// CONGESTION indication. Inbound calls enter Stasis in state Ring with
// their dialplan location at Stasis and only a StasisStart. Snoop channels
// enter Stasis like created channels and end (cause 16) with the channel
// they snoop on. Recordings: RecordingStarted "recording",
// RecordingFinished "done" with duration or "canceled". DTMF from the far
// end is one ChannelDtmfReceived per key with duration_ms 100. Events meant
// for an application while it has no WebSocket are lost; channels stay in
// Stasis across a reconnect.
package aritest
