// Package ivr holds Switchboard's IVR: flows of menus that play prompts,
// collect the caller's keys and decide where the call goes. A flow is data
// — written in the configuration or sent to the API — validated when it is
// loaded, and run for each call by a pure state machine. The package plays,
// times and dials nothing: the engine does, as the machine tells it.
//
// # The model
//
// A Flow has menus and a Start menu. A Menu plays its Prompt (an
// announcement id). A menu with Options then collects digits: it waits up
// to the first-digit timeout for a key, then up to the inter-digit timeout
// for each further key, until the terminator ("#" by default), MaxDigits
// keys (by default as many as the longest option has), or a pause ends
// the input, or the input is an option no longer option starts with. The
// input picks the option with exactly that key ("1", "10", "*"). No input, or an input no option names, is
// retried: the no-input or invalid-input notice (if set) plays, then the
// menu's prompt again, up to Retries times; then the menu's Fallback is
// taken (a hang-up when it has none). A menu without options plays its
// prompt and takes Next (a hang-up when it has none): a welcome, an
// announcement before a route.
//
// An Action routes to a group, an agent or a number (optionally after a
// prompt), plays a prompt and hangs up, hangs up, enters a menu, repeats
// the current menu, or goes back to the menu the caller came from. Routes
// and hang-ups end the flow; the engine carries them out.
//
// # Validation
//
// Flow.Validate reports every problem at once, each with its menu and
// field (a *ValidationError): ids, the start menu, prompts unknown to the
// caller's Known.Prompt, option keys (0-9 * #, no longer than max_digits,
// free of the terminator), ranges (max_digits 1-20, first-digit timeout
// 1-60 s, inter-digit 1-30 s, retries 0-10), action types and their
// targets (route targets required, and checked by Known.Group, .Agent and
// .Number when given), settings a menu would ignore, menus referred to but
// missing, menus no path from the start reaches, and loops without exit:
// menus from which no path is sure to route or hang up. A menu that comes
// back to itself on bad input is fine as long as some option or its
// fallback leads out.
//
// # The machine and its caller
//
// A Machine runs one call. It has no goroutine, timer or clock; its caller
// (the call's goroutine in the engine) does what each Step says and
// reports what happens, with the time it happened:
//
//   - Play: stop whatever prompt plays, play Step.Prompt, and report its
//     end with PromptDone(Step.PlayID, now). When Step.BargeIn is set, keys
//     go to Digit meanwhile; a key that barges in comes back with
//     StopPrompt set, and the end of the stopped prompt is then ignored
//     (its PlayID is stale), as is any other stale report.
//   - Wait: arm the one IVR timer of the call for Step.Until (replacing
//     any earlier one) and call Timeout when it fires; report keys with
//     Digit. An early Timeout returns the Wait step again.
//   - Done: the call leaves the IVR with Step.Action (play its Prompt
//     first, if any) for Step.Reason.
//   - Continue: the event changed nothing.
//
// Report a caller who hangs up with Hangup, so the log says so. Every step
// carries the log entries it added (menu entered, input, invalid input, no
// input, retry, retries exhausted, exit), to be written to the call's
// record as they happen; Machine.Log has them all. Times passed in that go
// back are taken as the latest time seen, so deadlines never move back.
//
// # Decisions where the issue is silent
//
// Copied from Asterisk (Background, WaitExten, the TIMEOUT function and
// its i and t extensions):
//   - two timeouts: the wait for the first key starts when the prompt has
//     finished (Asterisk's response timeout); each later key restarts the
//     inter-digit wait (its digit timeout);
//   - an option is taken as soon as no longer option starts with the
//     input: "2" at once, while "1" waits for a second key, the
//     terminator or the inter-digit timeout when "10" exists too;
//   - invalid input and no input are told apart (i and t) and each has
//     its notice; a retry plays the notice and then the menu's prompt,
//     as a dialplan's i extension plays its message and goes back to the
//     menu;
//   - keys pressed during a prompt that collects nothing (Playback, not
//     Background) are dropped, not kept for the next menu.
//
// Copied from Twilio's <Gather>:
//   - "#" ends the input by default (finishOnKey), "none" disables it,
//     and the terminator is not part of the input; pressed alone, it is
//     no input;
//   - keys pressed during the menu's prompt interrupt it (a <Say> nested
//     in <Gather>), the notices of a retry included;
//   - max_digits (numDigits) ends the input when reached; an input that
//     can match no option is not cut short but judged invalid once it
//     ends, so a caller who types "35" in a menu of 1 to 9 hears one
//     invalid-input notice, not a second key barging into it;
//   - the first-digit timeout defaults to 5 s (Gather's timeout).
//
// Switchboard's own:
//   - one retry budget for no input and invalid input together;
//   - entering a menu, repeat and back included, starts its retries
//     afresh;
//   - back returns to the menu the caller came from; going to a menu the
//     caller already came through drops the history after it (so "back"
//     means up, never round a loop); back in the start menu repeats it;
//   - keys other than 0-9 * # (RFC 4733's A-D, flash) are dropped;
//   - MaxSteps (100) prompts played or menus entered end the call with a
//     hang-up (ReasonStepLimit): a flow may loop back to its main menu,
//     but no caller stays in it for ever.
package ivr
