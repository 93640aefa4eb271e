// Package webhook delivers the events of Switchboard's calls to HTTP
// receivers: each tenant's configured endpoints, and a call's
// statusCallback (a click-to-call parameter beyond the spec).
//
// # Source and guarantees
//
// The engine writes every event to the store's durable event log
// (engine.EventLog) in the same step as the change it announces, on the
// stream of the node that runs the call. A Dispatcher reads that log:
//
//   - At least once: an entry is acknowledged only when every target has
//     answered 2xx or the event was kept as a dead letter for it. A
//     dispatcher that stops or dies leaves the rest pending; the next
//     reader of the stream (the node again, or another) reads it again.
//     Receivers de-duplicate by webhook-id, the event id.
//   - In order per call and target: a call's later event waits until its
//     earlier ones have been delivered to (or dead-lettered for) that
//     target. Other calls, and other targets of the same call, go on
//     meanwhile; at most Options.Workers requests are in flight.
//   - Several nodes: each holds a lease on its own stream (renewed every
//     third of LeaseTTL). A node whose lease expired — it stopped or died
//     — has its stream taken over by another node's dispatcher, which
//     gives it back once drained, so the node reads its own again when it
//     returns. In the normal case every event is delivered once; after a
//     take-over an event that was delivered but not yet acknowledged is
//     delivered again. A call that moves to another node (ARI takeover)
//     continues on that node's stream, and its events on the two streams
//     are not ordered with each other.
//
// # Requests
//
// POST, Content-Type application/json, User-Agent Switchboard, a body of
// Payload (below) and the headers of Standard Webhooks:
//
//	webhook-id:        the event id ("<callid>-e<seq>"), the same on every attempt
//	webhook-timestamp: unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// key being the bytes of the tenant's secret "whsec_<base64 key>". Verify
// (or any Standard Webhooks library) checks a request. A status callback
// is signed with its tenant's secret; a tenant without one gets its
// callbacks unsigned (webhook-signature absent).
//
// # Answers and retries
//
//   - 2xx: delivered.
//   - 410 Gone: the receiver wants no more of this; the event is
//     dead-lettered for it at once, without retries (the next event of
//     the call is tried, and dead-lettered too if it also gets 410).
//   - Any other status, a timeout (Options.Timeout per attempt), a
//     network error: retried after a wait drawn uniformly from [0,
//     min(MaxBackoff, MinBackoff × 2^(n-1))) after the n-th failure
//     ("full jitter"), until RetryWindow has passed since the event's
//     time (or since it was re-driven); then it is kept as a dead letter
//     with the number of attempts and the last error, and the call's next
//     event goes to that target. The last attempt is made at the end of
//     the window; an event older than the window gets one attempt.
//   - Redirects: only 307 and 308 to the same scheme and host are
//     followed (they keep the method and body), at most 3; any other
//     redirect is a failed attempt.
//
// Dead letters are listed per tenant (ListDeadLetters, and GET
// /v1/webhooks/dead-letters) and re-driven one by one (Redrive, and POST
// /v1/webhooks/dead-letters/{id}/redrive): the event goes back on the
// stream for its target alone, with a fresh retry window.
//
// # Payload
//
// The body is the engine.Event — id, seq (a call's events are numbered
// from 1), type, callid, user_id, time, and a snapshot of the leg (leg
// events) or of the call (call events), digit for DTMF — plus:
//
//   - ivr: the event in the vocabulary of the IVR call events, for the
//     types that have a counterpart: call.created → IN, leg.dialing → TA,
//     leg.answered → TC, leg.ended → TE (with result and duration),
//     call.ended → H (with duration). See IVREvent.
//   - summary: on call.ended, the call in the style of the contact-centre
//     callSummary webhook. See Summary.
//
// Event types: call.created, leg.dialing, leg.ringing, leg.answered,
// leg.ended, call.bridged, leg.dtmf, leg.dtmf_sent, call.alert,
// call.recording_ready, call.ended.
package webhook
