// Package redis is the engine.Store, engine.AgentStore and engine.EventLog
// kept in Redis, so that every Switchboard node sees every call, agent,
// reservation and event, and a call's record outlives the node that ran
// it. It passes the same conformance suites as the memory store
// (engine/store/storetest: Run, RunAgents and RunEventLog).
//
// # Key layout
//
// P is Options.Prefix ("sb" by default; it must not contain '{' or '}').
//
//	P:{c:<callid>}          HASH  field "call": JSON of the call without legs
//	                              field "leg:<seq, %06d>": JSON of one leg
//	P:{t:<tenant>}:calls    ZSET  member call id, score CreatedAt in unix ms
//	P:live:{n:<node>}       SET   ids of the node's live calls
//	P:live:{n:<node>}:gone  HASH  field call id: Redis time (ms) when a
//	                              LiveCalls first found it in the set
//	                              without its record
//	P:live:nodes            SET   every node that ever had a live call
//	P:events:{n:<node>}     STREAM the node's event log: field "e", the JSON
//	                              of an engine.LoggedEvent (its ID empty:
//	                              the entry's id is the stream's); consumer
//	                              group "webhooks", one consumer "lease-holder"
//	P:events:{n:<node>}:lease STRING who reads the stream (PX lease)
//	P:events:nodes          SET   every node with an event stream
//	P:{t:<tenant>}:dead     STREAM the tenant's dead letters (field "e", the
//	                              JSON of an engine.DeadLetter; its id is the
//	                              entry's)
//
// The call's hash also has the field "eseq": the Seq of the last event
// appended for the call (single server and Sentinel only).
//
// # Event log
//
// A write that carries events appends them in the same script that
// writes the call's hash (putEventsScript, createEventsScript; their
// KEYS are the hash, the node's stream and the set of nodes with
// streams): on a single server or a Sentinel's master a script may touch
// keys of any slot, so the change, its events and the node's place in
// P:events:nodes are one atomic step, in the write's one round trip.
// Each event is appended only if its Seq is above the hash's "eseq",
// which the script then raises, so a write repeated after a lost reply
// (or sent again after NOSCRIPT) appends nothing twice, and a write that
// changes nothing (unknown call, id taken) appends nothing; a SaveCall
// with a leg of another call is refused before anything is sent.
//
// On a Redis Cluster the stream is in another slot than the call's hash,
// and no script may touch both, so the events go as plain XADDs (and the
// SADD) beside the write's script in the same pipeline: no round trip
// more (CreateCall's second round trip carries them), but not atomic with
// the change and not guarded by "eseq", which is not written there. A
// repeated write appends its events again, and so does a pipeline sent
// again after NOSCRIPT; a write that the script refuses has appended
// them all the same. Delivery is at least once in any case, and receivers
// de-duplicate by event id (webhook-id). Appending only after the
// script's reply would cost a round trip per write and lose the events of
// a write whose node dies in between: a change kept without its events,
// which is worse than a duplicate.
//
// Streams are bounded with XADD MAXLEN ~ 1,000,000 (approximate, so
// Redis trims whole nodes of the stream cheaply). Entries weigh about
// 0.7 KB (a leg event) to 3 KB (a call event, with the record and its
// legs), so a full stream holds one to a few GB. A dispatcher that keeps
// up leaves at most a few thousand entries, so in normal operation
// nothing unacknowledged is ever trimmed; only a backlog beyond the bound
// (webhooks down for days at full load) loses its oldest entries, which
// is chosen over Redis running out of memory and refusing the calls'
// own writes. Trimmed entries that were read and not acknowledged come
// back from the group without fields: ReadEvents acknowledges and skips
// them rather than stall.
//
// Reading goes through one consumer group, "webhooks" (made with
// MKSTREAM from id 0 by a store's first read of the stream, made again
// if the stream was deleted since), and a single consumer name,
// "lease-holder", whoever holds the stream's lease: the lease guarantees
// one reader, and a new holder (a restart, a takeover of a dead node's
// stream) is first given the entries its predecessor read and did not
// acknowledge. ReadEvents reads the consumer's pending entries after
// the id it is given ("0" for ""), with no wait, and then, to fill the
// batch, new entries (">"), waiting up to block only when the batch
// would be empty. Acknowledged entries are deleted (XACK and XDEL in one
// pipeline), so the stream holds only what is not finished. Leases are a
// key set with NX and a PX ttl by a script that also renews (PEXPIRE) the
// holder's own lease; ReleaseStream deletes the key only if it holds the
// reader (compare and delete).
//
// Dead letters are a stream per tenant: PutDeadLetter is one XADD whose
// entry id becomes the letter's id, so ListDeadLetters is XRANGE from
// the cursor (exclusive: the last id of the previous page), oldest first,
// and TakeDeadLetter is a script that reads the entry and deletes it
// atomically, so two takers never both get it. A tenant's letters are
// only in its own key: no other tenant can list or take them.
//
// Why this shape:
//
//   - One hash per call holds the whole record, so GetCall is one HGETALL
//     and a leg write touches one field: legs written concurrently by many
//     goroutines never overwrite each other, and no client reads before
//     it writes.
//   - The {c:<callid>} hash tag keeps a call's data in one cluster slot.
//     Every write to it is one Lua script on that single key: for
//     CreateCall, HSETNX of the call field, or when it is taken a byte
//     comparison with the JSON we meant to write (equal: our own write,
//     retried); otherwise a script that checks that the call exists and
//     then HSETs whole fields (the call's and, for SaveCall and EndCall,
//     those of any number of legs, in one run) and sets or clears the
//     TTL. Each is atomic, idempotent, and unable to resurrect an expired
//     call or leave a hash of orphan legs behind. (A write that carries
//     events on a single server also names the node's stream and the set
//     of nodes with streams: see Event log.) No MULTI is needed, so no call method
//     uses TxPipelined.
//   - Indexes live in other slots ({t:..}, {n:..}), so a method's index
//     updates go with its hash script in one plain (non-transactional)
//     pipeline: one round trip. Index entries are hints that readers verify
//     against the hash: ListCalls hides ids whose hash is gone or belongs
//     to another tenant, LiveCalls ids whose record is ended, gone or on
//     another node. An index write that was applied without its hash write
//     therefore never shows, and ended calls leave the tenant index lazily,
//     after their hash expires.
//   - Readers remove the stale entries they meet, but CreateCall writes
//     the indexes before the record (just before, in the same pipeline,
//     on a single server or a Sentinel's master, where other clients'
//     commands may still run in between; a round trip before on a
//     cluster), so an entry without its record may be a call being
//     created; removing it would lose the call from its listing, or from
//     the live set that Recover reads. Such an entry is therefore removed
//     only once it is older than a grace of a minute: ListCalls ZREMs it
//     when its score (CreatedAt) is that old by the lister's clock;
//     LiveCalls, which has no time for an id without a record, SREMs it
//     when a LiveCalls found it without a record at least a minute
//     earlier too, as noted in the set's :gone hash by the Redis clock (a
//     sighting of an id whose record came is forgotten). Entries
//     whose record is ended or on another node are removed at once: those
//     facts never change back. This is right as long as no CreateCall
//     takes a minute between its index writes and its record and the
//     nodes' clocks agree within much less than that.
//   - The node set lets LiveCalls("") find every live set without SCAN,
//     which a cluster would have to run on every master.
//
// Ordering and paging use the ZSET score (CreatedAt's unix millisecond)
// then the call id, both descending, as ZREVRANGEBYSCORE returns them. The
// cursor is the (score, id) of a page's last call; the next page re-reads
// the calls that share that score and keeps those with a smaller id, so
// calls created in the same millisecond are neither repeated nor skipped.
//
// # Agent side (engine.AgentStore)
//
// Every key of a tenant's agents, groups and routing memory carries the
// tenant's tag, so each script or MULTI touches keys of one cluster slot.
// Times are unix milliseconds, taken from the now the engine passes (never
// from the Redis clock), so all nodes judge leases by the same numbers.
//
//	P:{t:<tenant>}:agents                HASH    field agent id: JSON of engine.Agent
//	P:{t:<tenant>}:groups                HASH    field group id: JSON of engine.Group
//	P:{t:<tenant>}:state:<agent>         HASH    "call:<callid>": lease deadline
//	                                             "wrap_until", "last_end": times
//	                                             "taken": calls answered
//	P:{t:<tenant>}:rr:<group>            STRING  agent id last offered a call
//	P:{t:<tenant>}:sticky:<number>       STRING  agent id bound, PX = sticky period
//	P:{t:<tenant>}:queue:joined:<group>  ZSET    call id, score first join time
//	P:{t:<tenant>}:queue:lease:<group>   ZSET    call id, score lease deadline
//	P:{t:<tenant>}:dnd                   SET     do-not-disturb numbers
//
// Tenants therefore may not contain '{' or '}' (refused with an error).
// Why this shape:
//
//   - One hash per tenant holds its agents (and one its groups): Put, Get
//     and Delete are one command, List one HGETALL, and no index can go
//     stale. Reserve reads the agent's record from it in the same script.
//   - An agent's live state is a hash beside the record, so Reserve and
//     Release are Lua scripts over two keys of one slot: they read the
//     agent (paused, max_calls, wrap_up_seconds) and the leases, drop the
//     leases that ran out, and decide and write atomically. A renewal is
//     an HSET of the call's own field, so it is never counted twice.
//   - DeleteAgent removes the record and the statistics in one MULTI and
//     leaves the leases, which their calls release or which expire; a
//     state hash whose last field goes is deleted by Redis itself.
//   - A waiting line is two ZSETs over the same members: ZRANK in the
//     first-join set is the number of calls ahead (ties by call id, as
//     Redis orders equal scores), and ZRANGEBYSCORE on the lease set finds
//     the entries to drop. One script updates both.
//   - Sticky bindings are plain strings with a TTL: Redis forgets them at
//     the end of the period. A binding without period has no TTL.
//
// Every write may be retried after a lost reply: a repeated Reserve is a
// renewal, a repeated Release finds no lease and counts nothing twice, a
// repeated JoinQueue refreshes. Only DeleteAgent and DeleteGroup may then
// answer ErrNotFound for their own deletion.
//
// # Apps (engine.AppStore)
//
// Apps are few and read once per inbound call, by number, over every
// tenant; their keys share the one hash tag {apps}, so the script that
// claims a number and writes the app touches a single slot (apps.go has
// the details):
//
//	P:{apps}:t:<tenant>   HASH  field app id: JSON of engine.App
//	P:{apps}:numbers      HASH  field virtual number: the owning app's JSON
//
// # Scripts
//
// Every Lua script is sent as EVALSHA, by its digest, never with its whole
// text each time. A server that lacks it (script cache flushed, a restart,
// a failover to a replica that never ran it) answers NOSCRIPT. A script
// sent alone (SaveLeg, Reserve, Release, JoinQueue, the record of a
// CreateCall on a cluster when it carries no events, the leases,
// TakeDeadLetter) is then sent again with EVAL, which caches it. A script
// in a pipeline (SaveCall, EndCall, CreateCall, the record and events of
// a CreateCall on a cluster, the housekeeping of LiveCalls) is loaded
// with SCRIPT LOAD (on every master of a cluster) and the whole pipeline
// sent again, once; that is safe because every command in those
// pipelines may run twice with the effect of once, except on a cluster
// the plain XADDs of a write's events, which are then appended twice (see
// Event log).
//
// # Round trips
//
// SaveCall (with any number of legs), SaveLeg, EndCall, GetCall and Ping:
// 1. CreateCall: 1 on a single server or a Sentinel's master (one
// pipeline: the index writes, then the create script on the hash, which
// the server runs in that order); 2 on a cluster, which splits a pipeline
// by node and runs the parts concurrently, so the index writes go first
// in a pipeline of their own (the indexes are in other slots than the
// hash, so one script cannot do both). A click-to-call is thus 4 writes
// of 1 round trip each: CreateCall, SaveCall when the from side answers
// and when the call is bridged, each with the legs that changed, and
// EndCall.
// LiveCalls: 2 for one node, 3 for all (+1 to drop stale entries or note
// sightings of ids without a record). ListCalls: 2 per window of
// candidates, usually one window (+1 to drop expired entries).
//
// Events add no round trip to the writes that carry them, on a cluster
// too. Event log, once per method: 1 for EventStreams, LeaseStream,
// ReleaseStream, AckEvents, AppendEvents (one pipeline however many
// entries), PutDeadLetter, ListDeadLetters and TakeDeadLetter.
// ReadEvents: 1 when the pending entries fill the batch, else 2 (pending,
// then new); +1 on a store's first read of a stream (the group); more
// only when the stream was deleted under the store (NOGROUP: the group
// made again and the read repeated) or the read meets trimmed entries
// (their XACK, then the pending entries after them).
//
// Node leases, once per method: 1 for LeaseNode, ReleaseNode (a script
// each, the stream leases' own), LiveNodes and TakeCall (a compare and set
// of the call's owner in one script, with the new node's live index).
//
// Agent side, once per method: 1 for PutAgent, GetAgent, GetAgents
// (HMGET; 0 for no ids), ListAgents,
// DeleteAgent, PutGroup, GetGroup, ListGroups, DeleteGroup, AgentStates
// (one pipeline; 0 for no ids), Reserve, Release, RoundRobinLast,
// SetRoundRobinLast, Sticky, SetSticky, JoinQueue, LeaveQueue, AddDND,
// RemoveDND, IsDND (SMISMEMBER, Redis 6.2+) and ListDND.
//
// A script's first run on a server that does not hold it adds one round
// trip to a script sent alone (NOSCRIPT, then EVAL) and two to a pipeline
// (NOSCRIPT, SCRIPT LOAD, then the pipeline again).
//
// A CreateCall whose reply is lost and that go-redis retries finds its
// own record and succeeds; only another record under the same id is
// ErrExists.
package redis
