// Package api is Switchboard's HTTP surface: the click-to-call API of
// specs/click-to-call-api.txt (POST /v2/clickToCall/para), a JSON API for
// the same calls (/v1), management of agents, groups and the DND list
// (/v1/agents, /v1/groups, /v1/dnd) and of announcements
// (/v1/announcements), webhook dead letters (/v1/webhooks), and health
// probes (/healthz, /readyz).
//
// # Click-to-call
//
// POST /v2/clickToCall/para takes its parameters from the query string
// and/or an application/x-www-form-urlencoded or multipart/form-data body
// (file parts are ignored; other bodies are not read). Success is HTTP 200
// {"callid":…,"status":"success","code":"200"}; a refusal is
// {"message":…,"status":"error","code":"1506"}. Any other method is 405
// with Allow: POST and code 1539. Bodies are bounded by MaxBodyBytes
// (default 64 KiB; beyond: 413, code 1539) and a request by 100 parameters
// (query and body together, repeats counted; beyond: 400, code 1539).
//
// Parameter names are case-sensitive, as the spec spells them; unknown
// parameters are ignored. Values are trimmed of surrounding spaces; the
// enumerated values (types, strategies, yes/no/na, mode, sticky options,
// dndFilter, AGENT_CLI) are matched in any case. A parameter given more
// than once (in the query and the body, say) must repeat one value, else
// 1539. An optional parameter with an empty value is treated as absent,
// except where the spec has an "empty" code (fromType 1502, toType 1504,
// timeLimit 1532). Integers are plain decimal ("-" allowed so negatives
// get their own codes, no "+", no fraction, no exponent).
//
// # Order of checks
//
// One error is returned, the first found, in this order:
//
//  1. credentials (CheckCredentials): 1002 user_id missing, 1013 user_id
//     not an integer, 1014 token missing, 1013 user_id unknown, 1020 token
//     wrong. 1013 and 1020 are HTTP 401, 1002 and 1014 HTTP 400.
//  2. mode: live (default) or developer; anything else 1539 (Invalid
//     format), as the spec has no mode code.
//  3. fromType then toType: 1502/1504 present but empty, 1503/1505 invalid.
//  4. presence: 1521 when neither from nor to has a value (absent or
//     empty), else 1506 / 1507 for the side without one.
//  5. from values, then to values: more than 10 values 1552/1553 (counted
//     before anything else), any value over 50 characters 1569, then by
//     type — Number: every value valid (dialer.ValidNumber) 1508/1509,
//     then no duplicates 1510/1511; Agent: every id known 1512/1513, then
//     no duplicates 1514/1515; Group: one id only 1516/1517, known
//     1518/1519. An empty element ("1,,2") is an invalid value.
//  6. 1520: from and to of the same type share a value.
//  7. from settings, then to settings: strategy 1522/1523; ring time
//     (default 20, 1 to 50) not an integer 1524/1526, negative 1525/1527,
//     over 50 1550/1551; retry count (default 0, 0 to 3) not an integer
//     1528/1530, negative 1529/1531, over 3 1548/1549. A ring time of 0 is
//     refused with 1524/1526: a leg that cannot ring cannot be answered.
//  8. timeLimit (0 or absent: unlimited; over 999999999 is 1534), then
//     timeLimitHangup (true/false/1/0/yes/no, default true; else 1539).
//  9. timeLimitAlert (or the spec's spelling timeLimtAlert; both spellings
//     given must agree): at most 10 distinct positive integers (1545), each
//     below timeLimit, which must be set (1547). alertAudio: at most 10
//     announcement ids, each known (1546; see Announcements below for
//     what is known); it goes with timeLimitAlert —
//     either one id played at every mark or one id per mark — and marks
//     without audio or audio without marks are refused with 1546, since
//     nothing could be played.
//  10. ringTone: a known announcement (1535). alertAudio is checked first
//     because the spec's list of parameters has it first.
//  11. login filters, from then to: fromWebLogin/fromCallLogin/toWebLogin/
//     toCallLogin are yes/no/na (default na; invalid 1564/1565/1566/1567 —
//     the spec prints 1566 as "invalid fromWebLogin value", it is used for
//     toWebLogin). A value other than na on a Number side is refused with
//     the same code (the spec allows the filters for agents and groups
//     only). A CallLogin filter with TO_ALL is 1556/1557. Then the agents
//     the side may ring are narrowed by WebLogin (none left: 1536, or 1537
//     for a group; 1541/1542 on the to side), then by CallLogin
//     (1538/1540, 1543/1544), and on an Agent side at least one agent left
//     must be available (1578/1579). Group availability is not checked: a
//     group call waits for a free member (queueTimeout).
//  12. fromCLI, then toCLI: a valid number or AGENT_CLI (1554/1555).
//     AGENT_CLI needs an Agent or Group side (1580/1581); fromCLI=AGENT_CLI
//     a to side that is not a Group (1585); and every agent the side may
//     ring (named agents, or all group members) must have a CLI
//     (1582/1583), so the caller ID is never undefined.
//  13. sticky: yes/no/na (default na; else 1539). A value for
//     stickyTimeType, stickyTimeValue or stickyAgentBusy without sticky=yes
//     is 1561. With sticky=yes exactly one of fromType/toType must be Number
//     (1558), and that Number side must hold a single number (1576/1577).
//     Then stickyTimeType min/hour/day/month/permanent (default day; 1559),
//     stickyTimeValue an integer ≥ 1 (default 1, the spec giving none;
//     1560), stickyAgentBusy retrySame/retryNewSticky/retryTemp (default
//     retrySame; 1562). The defaults are filled in whatever sticky is.
//  14. queueTimeout (default 60): given while neither side is a Group
//     1568, else an integer ≥ 0 (1563).
//  15. dndFilter: from/to/both (1570); a checked side must be of type
//     Number (1571/1572, from first), then none of its numbers may be on
//     the tenant's DND list (1573/1574).
//  16. record (beyond the spec): yes/no/true/false/1/0, default no; any
//     other value 1539. With yes the bridged conversation is recorded
//     (a group with recording on records its calls whatever record says).
//  17. statusCallback (beyond the spec): an absolute http:// or https://
//     URL (scheme in any case, a host required) of at most 512
//     characters, printable ASCII only (spaces and the rest
//     percent-encoded); anything else 1539, with what is wrong. The
//     call's events are POSTed to it as webhooks (package
//     engine/webhook), besides the tenant's configured endpoints.
//
// Where a condition depends only on other parameters (1561, 1568) it is
// checked before the value itself; where it depends on the value (1556,
// 1580, 1585), after. Every value is checked against 50 characters (1569)
// before anything else is done with it, except statusCallback: the limit
// is the spec's for its own parameters, and a URL rarely fits in 50, so
// statusCallback has its own of 512 (1539 beyond it). Credentials are not
// checked either (they are compared, never stored or echoed).
//
// # Directory look-ups that fail
//
// Agents, groups, announcements and the DND list come from a Directory:
// StoreDirectory reads the agent store (Config.Agents), NoDirectory is an
// empty account. With Config.Announcements, announcement ids are looked
// up in the announcement store instead, whatever the Directory. Look-ups
// get the request's context, bounded to 5 s, and can fail (store
// unreachable, timeout, an announcement directory that cannot be read). A
// failed look-up is never taken for "no such agent": the request is
// refused with 503, Retry-After: 5, the cause logged and not shown —
//
//   - 1501 Connection Issue for an agent, group or announcement look-up
//     (steps 5, 9, 10);
//   - 1575 connection Error in DND Api for a DND look-up (step 15): the
//     call is not placed unchecked.
//
// StoreDirectory: an agent is available when it is not paused, not in
// wrap-up (now before its WrapUpUntil) and holds fewer unexpired
// reservations than its capacity (MaxCalls, 0 meaning 1). Its CLI is the
// agent's. A group's members are its members' agents; a member whose
// agent was deleted is left out. An agent costs two store round trips
// (GetAgent, AgentStates), a group three whatever its size (GetGroup,
// ListAgents, AgentStates of all members at once). StoreDirectory knows no
// announcements: without Config.Announcements every id is unknown
// (1535/1546).
//
// # Codes not produced by validation
//
//   - 1501 Connection Issue is also the engine's refusal:
//     engine.ErrDraining → 503 with Retry-After: 5, engine.ErrTooManyCalls
//     → 429 with Retry-After: 1, any other Originate failure (the store) →
//     503, logged. Never a 500 for a client's mistake; a panic in a handler
//     is recovered into a logged 500 with the surface's JSON error body
//     (code 1501 on /v2, "internal" on /v1).
//   - 1576/1577 are produced only for sticky=yes (step 13): ONE_BY_ONE and
//     TO_ALL both admit several values, and Group sides take one id with
//     their own codes 1516/1517, so sticky's one customer number is the
//     only place where several values are not allowed.
//   - 1584 (at least one agent in from or to) is never produced: a
//     Number-to-Number call is the spec's own example and default.
//   - 105 appears only in the spec's sample error body; 1503 is the code
//     for an invalid fromType.
//
// # Developer mode
//
// mode=developer runs every check and answers success without dialing:
// HTTP 200 {"callid":"","status":"success","code":"200"} — the empty call
// id can never be mistaken for a call to look up. Directory look-ups still
// happen, so developer mode reports what live mode would.
//
// # JSON API
//
// /v1 is authenticated by HTTP Basic (user name user_id, password token);
// missing or wrong credentials are 401 with WWW-Authenticate and
// {"error":{"code":"unauthorized","message":…}}. Errors are
// {"error":{"code":…,"message":…}}: the spec's numbered codes with their
// HTTP statuses for validation, and malformed_json, unknown_parameter,
// invalid_value (400), body_too_large (413), not_found (404), call_ended
// and not_owner (409), 1501 (503, engine or store unavailable), and for
// announcements invalid_audio, read_failed (400), read_only (403), exists
// and limit_reached (409), unsupported_media_type (415).
//
//   - POST /v1/calls takes a JSON object whose keys are the click-to-call
//     parameter names (user_id and token excepted: credentials are Basic)
//     and runs the same validation. Values are strings, numbers (kept as
//     written), booleans or null (absent); from, to, timeLimitAlert and
//     alertAudio may also be arrays of strings and numbers (without commas
//     in an element). Unknown or repeated keys, nested objects and data
//     after the object are 400. 201 with the call record and a Location;
//     developer mode is 200 {"mode":"developer","valid":true}.
//   - GET /v1/calls/{callid}: the record in the call log's view (below);
//     404 for an unknown call and for another tenant's.
//   - GET /v1/calls: the call log (below), newest first:
//     {"calls":[…],"next_cursor":…}, or the spec's page envelope with pg
//     or format=spec.
//   - DELETE /v1/calls/{callid}: 202 when the hang-up was requested, 409
//     call_ended, 409 not_owner when the call is live on another node (only
//     that node can hang it up), 404 unknown or another tenant's.
//   - GET /v1/calls/{callid}/events: Server-Sent Events — event "call" with
//     the current record, then each engine.Event as "event: <type>" and
//     "data: <json>", ending after call.ended (at once for an ended call).
//     Idle streams get a comment every SSEHeartbeat, and a look at the
//     stored record: a call that ended unseen by this node (another node,
//     a lost event) ends the stream with a call.ended built from it.
//
// # Call log
//
// GET /v1/calls and GET /v1/calls/{callid} show a call as its record plus
// direction (outbound for a record without one), call_direction (the
// specs' Incoming or Outgoing) and attempts: its legs by Seq, the caller's
// own leg of an inbound call left out (answered, not dialed) and skipped
// agents kept (disposition skipped, with their reason), each with the
// keys of the spec's transfer attempts — attemptId (leg id), seq, side,
// to (the number dialed, else the agent id, else the target), name (agent
// name), agent_id, group, time (the leg's CreatedAt), du and disposition
// (the leg's, or while live its state), and reason. du is the ring time
// in whole seconds, rounded, as a JSON number (the spec prints strings;
// /v1 prints numbers): from the attempt to its answer, else to its end;
// absent while it rings. recording_url is the record's.
//
// Filters (engine.CallQuery, applied alike by every store), and-ed; a
// parameter given twice must repeat one value; every bad value is 400
// invalid_value with a message naming the parameter, checked before any
// store is read:
//
//   - state: live (every state but ended), ivr, dialing_from, dialing_to,
//     bridged, ended.
//   - status, any case: live; answered (alias completed): outcome
//     completed; missed (alias unanswered): from_unanswered,
//     to_unanswered or from_hungup — nobody answered, or the from side
//     (an inbound caller, IVR included) gave up first; or one outcome
//     exactly (engine.CallStatuses). A live call has status live only.
//   - direction, any case: inbound or Incoming, outbound or Outgoing.
//   - group, app: ids (validID). group matches a leg offered through the
//     group or a request side of type Group naming it; app the app that
//     answered an inbound call.
//   - caller: 1 to 64 printable characters without spaces, compared
//     exactly: an inbound call's Caller; of an outbound call a value of a
//     Number side or a number a leg dialed.
//   - since: an RFC 3339 time (created at or after), or else a call id
//     (the incremental log, below); a value that starts like a date
//     (YYYY-) must be a time. until: an RFC 3339 time (created before).
//     since before until.
//   - datetime, the contact-centre spec's period: YYYY-MM is that month,
//     YYYY-MM-DD that day, YYYY-MM-DD HH:MM:SS (or with a T) from that
//     second on — the exact second would hold almost nothing. It is read
//     in UTC, or in tz: an IANA zone name (built into the binary) or an
//     offset ±HH:MM, ±HHMM or ±HH of at most 14 hours; Local is refused.
//     It is and-ed with since and until: the later start, the earlier end
//     (an empty intersection lists nothing; it is no error).
//
// The incremental log: since=<callid> lists the calls created after that
// call — listed before it: a later CreatedAt millisecond, or the same and
// a greater id. The call must be the tenant's and still kept: else 400,
// found by a look-up before the listing (Engine.Get) and again by the
// store (engine.ErrUnknownAfter). A client passes the id of the first
// call of its last listing. Incremental is by creation: a call seen live
// is not listed again when it ends; it is fetched again by id. Calls
// created at the same moment on two nodes may be stored in the other
// order, so a client that must miss nothing polls by time with a margin
// and drops ids it has.
//
// Paging. Without pg or format=spec the answer is {"calls":[…],
// "next_cursor":…} as before; limit 0 (50) to 500; a cursor that is not a
// next_cursor this API issued is 400. With pg (1 to 10⁹) or format=spec
// (pg 1), the answer is {"page":{…},"data":[…],"next_cursor":…}: page
// holds totalItems, totalItemsCapped (only when true), pageItems,
// pageNumber, pageSize, totalPages (at least 1), startIndex and endIndex
// (1-based, 0 for an empty page), and links cur, first, last, next (while
// a next page exists), prev (after page 1): relative URLs /v1/calls?…
// with the request's parameters, cursor dropped and pg set, keys sorted.
// pg with cursor is 400. A page past the end is empty with 200.
//
// totalItems comes from the store (CallQuery.Count). Skipping to a page
// and counting read the records, so a listing examines at most
// engine.DefaultScanLimit (10 000) calls of its range, matching or not,
// for them: a count cut short with calls left is a lower bound
// (totalItemsCapped true, totalPages from it), and a pg that starts beyond
// is 400 invalid_value (engine.ErrPageTooDeep) — unless no call is left,
// when the page is simply empty. Filling the page and finding whether a
// next one exists are unbounded, as with cursors.
//
// # Webhook dead letters
//
// Events that could not be delivered to a webhook within its retry window
// (or that a receiver refused with 410 Gone) are kept as dead letters,
// per tenant, by Config.DeadLetters (webhook.Dispatcher). Without it (the
// store keeps no event log) both routes answer 501 not_configured, after
// authentication.
//
//   - GET /v1/webhooks/dead-letters?limit=&cursor=: {"dead_letters":[…],
//     "next_cursor":…}, oldest first; each is {"id","user_id","target",
//     "event","attempts","last_error","failed_at"}. limit is 0 (50) to
//     500; a cursor that is not a next_cursor this API issued is 400.
//   - POST /v1/webhooks/dead-letters/{id}/redrive: takes the dead letter
//     and queues its event again on this node's event stream, for its
//     target alone, with a new retry window: 202 {"id","event_id",
//     "target","status":"redriven"}; 404 for an unknown id or another
//     tenant's. Should queueing fail (503), the dead letter is put back.
//
// A store that fails is 503, code 1501, Retry-After: 5, logged.
//
// # Management API
//
// Agents, groups and the DND list of the authenticated tenant, kept in
// Config.Agents (an engine.AgentStore shared by every node). Everything
// is scoped to the tenant of the Basic credentials: another tenant's
// records answer 404, and two tenants may use the same ids. Without an
// agent store every route below answers 501 not_configured (after
// authentication).
//
// Bodies are one JSON object, bounded by MaxBodyBytes (413
// body_too_large), whose keys are spelt exactly as below: unknown keys
// (unknown_parameter), keys the server sets (read_only: user_id,
// created_at, updated_at, the live-state fields, maxPriority), repeated
// keys and trailing data (malformed_json) are 400, as is a value of the
// wrong type (invalid_value). null is the same as an absent key. Errors
// are {"error":{"code","message"}}; a store that fails is 503, code 1501,
// Retry-After: 5, logged — never a 500 for a client's mistake.
//
// Ids of agents and groups are 1 to 50 characters of A-Z, a-z, 0-9, '_',
// '.' and '-' (a click-to-call value as it is; case matters); POST
// generates 16 hex digits when none is given. An id in a path that breaks
// the rule is simply unknown (404).
//
// Agents:
//
//   - POST /v1/agents: 201 with the agent and a Location; 409 exists when
//     the id is taken. Keys: id, name (at most 100 characters), numbers (1
//     to 10, each a valid number — an optional + and 3 to 15 digits — or a
//     sip:/sips: URI of at most 200 characters, no repeats; tried in
//     order), cli (empty or a valid number; the AGENT_CLI), web_login,
//     call_login, paused, max_calls (0 to 100; 0 means one call),
//     wrap_up_seconds (0 to 3600).
//   - GET /v1/agents ({"agents":[…]}, by id) and GET /v1/agents/{id}: each
//     agent with its live state — active_calls (unexpired reservations),
//     wrap_up_until and last_call_end (absent when never set), calls_taken
//     — and status, the first that applies: busy (active_calls at
//     capacity), wrap_up, paused, logged_out (neither web nor call login),
//     available. After a write that succeeded, a live state that cannot be
//     read gives status "unknown" rather than a 503 (a retried POST would
//     meet its own 409).
//   - PUT /v1/agents/{id}: replaces the agent (absent keys take their zero
//     value; created_at is kept); 404 when it does not exist — POST
//     creates. PATCH /v1/agents/{id}: changes only the keys given; this is
//     how login and pause state are set, e.g.
//     {"web_login":true,"call_login":false,"paused":true}. The merged
//     record is validated as a whole. An id in the body must match the
//     path.
//   - DELETE /v1/agents/{id}: 204. The agent first leaves every group of
//     the tenant, then is deleted; its reservations stay until their calls
//     release them. If a step fails (503), repeating the DELETE finishes.
//
// Groups:
//
//   - POST /v1/groups, GET /v1/groups ({"groups":[…]}, by id), GET, PUT,
//     PATCH, DELETE /v1/groups/{id}, as for agents. Keys: id, name (at
//     most 100), ring_time (0 to 50 s; 0: the request's), distribution
//     (round_robin — the default, also spelt RR as the spec does —
//     ring_all, linear, least_recent, fewest_calls, random; any case,
//     stored as named), sticky, sticky_days (0 to 3650), recording,
//     queue_timeout (0 to 3600 s; 0: 60), max_wait (0 to 10000; 0: no
//     bound), members (at most 500 of {"agent_id","priority"}). The
//     spec's own names (ringtime, recording "enabled") are not accepted.
//   - members replace the member list when given, on POST, PUT and PATCH:
//     every agent must exist, none twice; a priority of 1 to 1000000, or
//     0/absent for one above the highest before it (as if added one by
//     one). PUT without members keeps them: they are the group's content,
//     managed through /members, not one of its settings.
//   - GET /v1/groups/{id}/members: {"group_id","maxPriority","members":[…]}
//     in the order added, each with its agent's name and numbers;
//     maxPriority is the highest priority (0 for none), as in the spec. A
//     member whose agent no longer exists is marked "deleted": true (calls
//     skip it; remove it with DELETE).
//   - POST /v1/groups/{id}/members {"agent_id","priority"}: 201 with the
//     member; 404 for an unknown group or agent, 409 exists when it is a
//     member already, 409 group_full at 500 members. priority defaults to
//     maxPriority+1.
//   - DELETE /v1/groups/{id}/members/{agent_id}: 204, 404 when not a
//     member.
//
// DND (do not disturb; numbers match exactly as dialed, so 9876543210 and
// +919876543210 are different entries):
//
//   - GET /v1/dnd: {"numbers":[…]}, sorted.
//   - POST /v1/dnd {"numbers":[…]}: 1 to 1000 valid numbers; 204.
//   - GET /v1/dnd/{number}: {"number":…,"dnd":true|false}.
//   - DELETE /v1/dnd/{number}: 204, 404 when not listed. An invalid
//     number in the path is 400.
//
// Concurrency: a write is a read-modify-write of the whole record (agent
// or group) in the store, so of two writes racing on different nodes (two
// PATCHes, two member additions to one group) the last one stored wins
// whole; the other's change is lost, not merged. Likewise POST's 409 is a
// check then a put: two creations of one id racing each other both
// succeed, the later one standing. Reservations, wrap-up and the other
// live state are the store's atomic operations and are never written
// here.
//
// # Announcements
//
// The audio of ringTone and alertAudio, and the default hold music, kept
// by Config.Announcements (*announce.Store; see package media/announce for
// storage, formats and several nodes). Without one every route below
// answers 501 not_configured (after authentication), and every
// announcement id in a click-to-call is unknown.
//
// A tenant sees its own uploads and the shared announcements: the
// built-ins (ringback.wav, beep.wav, hold.wav — generated, nothing binary
// ships) and the WAV files of the configured shared directory. Another
// tenant's uploads answer 404, and two tenants may upload the same id.
// So ringTone and alertAudio are known when they name the request's
// tenant's upload or a shared announcement; anything else, including an
// id that could not name one (no ".wav", a path), is 1535 / 1546.
//
// Ids are 1 to 50 characters (a click-to-call value's limit) of A-Z, a-z,
// 0-9, '_', '.' and '-', ending in ".wav", not starting with '.'. An id
// in a path that breaks the rule is unknown (404).
//
//   - POST /v1/announcements?id=&name=: upload. The body is the WAV file
//     (Content-Type audio/wav, audio/x-wav, audio/wave, audio/vnd.wave,
//     application/octet-stream, or none), or multipart/form-data with
//     the file in a part named "file" (or any part with a file name) and
//     optional "id" and "name" fields (given in both places, they must
//     agree; the name defaults to the part's file name). Other types are
//     415. id is optional: without it one is generated in the spec's
//     style, unix seconds and a counter ("1761300000_3.wav"); name is at
//     most 100 characters. The file must be a WAV of 8000 Hz mono 16-bit
//     PCM, μ-law or A-law: anything else is 400 invalid_audio with what
//     is wrong (sample rate, channels, sample size, format, truncated,
//     not a WAV, empty). At most the store's MaxBytes (default 10 MiB;
//     beyond: 413 body_too_large, refused from Content-Length before
//     anything is read when it says so) and MaxDuration (default and at
//     most 10 minutes; 400 invalid_audio). An id the tenant has, or a
//     shared one, is 409 exists (delete first to replace); a tenant at
//     its limit of uploads (default 500) is 409 limit_reached. 201 with
//     the announcement and a Location. The file is decoded and encoded
//     for both G.711 laws once, here.
//   - GET /v1/announcements: {"announcements":[…]}, by id, the tenant's
//     own and the shared ones. Each is {"id","user_id" (own only),
//     "name","shared","builtin" (generated ones),"hold" (the default hold
//     announcement),"duration_ms","size" (bytes of the WAV file),
//     "created_at"}.
//   - GET /v1/announcements/{id}: the announcement; 404 when unknown.
//   - GET /v1/announcements/{id}/audio: the WAV file (audio/wav) as
//     uploaded or found; a built-in is rendered as 16-bit PCM. Range and
//     conditional requests work as for any file net/http serves.
//   - DELETE /v1/announcements/{id}: 204; 404 when unknown, 403 read_only
//     for a shared one. Calls already playing it go on playing it.
//
// A store that fails (a disk that cannot be read or written) is 503, code
// 1501, Retry-After: 5, logged — never a 500.
//
// GET /healthz is 200 {"status":"ok"} while the process serves; GET
// /readyz is 200 {"status":"ready"}, or 503 with the reason from
// Engine.Draining or Engine.Ready.
package api
