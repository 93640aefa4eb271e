// Package announce keeps Switchboard's announcements: the audio a call
// plays to a party — a ringTone while the other side rings, an alertAudio
// before a time limit, hold music — named by ids like "1610448601_84.wav",
// as the click-to-call spec's requests name them.
//
// # What there is
//
//   - Built-ins, generated at start (nothing binary ships with
//     Switchboard): RingbackID (a ringback cadence), BeepID (an alert) and
//     HoldID (hold music, the default hold announcement).
//   - The shared directory (Options.SharedDir): the *.wav files at its
//     top level, each named by its id, read once at start and read-only.
//     A file named like a built-in replaces it.
//   - Uploads, per tenant (Store.Add, the /v1/announcements API): written
//     to Options.Dir/<tenant>/<id>, with the name and creation time in
//     <id>.json beside it, and read back at start. Without Dir they live
//     in memory and are lost when the process stops.
//
// A tenant sees its own uploads and every shared announcement; another
// tenant's uploads do not exist for it. Two tenants may upload the same
// id. An upload cannot take a shared id.
//
// # Audio
//
// A file must be a WAV of 8000 Hz mono audio as 16-bit PCM, μ-law or
// A-law (media.DecodeWAV); anything else is refused with a message that
// says what is wrong and what is accepted. An upload is also bounded by
// Options.MaxBytes (default 10 MiB) and Options.MaxDuration (default and
// at most media.MaxAudioDuration, 10 minutes). It is decoded once, when
// it arrives or is loaded, and encoded at once for both G.711 laws:
// Announcement.Payload hands a leg the codes of its codec, ready for
// media.NewPlayer, and playback never transcodes. The two encodings cost
// two bytes a sample, what the 16-bit linear audio would cost, so linear
// audio is not kept (a 10-minute announcement holds 9.6 MB). The uploaded
// file is stored as it was sent; Store.WAV serves it back.
//
// # Files
//
// Ids are 1 to 50 characters (a click-to-call value's limit) of A-Z, a-z,
// 0-9, '_', '.' and '-', end in ".wav" and do not start with '.' (ValidID):
// an id is a safe file name, never a path. An upload is written, as it is
// read, to a temporary file in the tenant's directory (.upload-*),
// synced, and published under its id only once accepted, by a hard link
// that fails when the id exists; meta files are written to a temporary
// file and renamed. A crash leaves at worst a temporary file, which
// loading ignores.
//
// # Several nodes
//
// Announcements live on each node's disk. Nodes that share the upload
// directory (a network file system, or one disk on one host) share the
// uploads: a look-up checks the file (one stat) and loads what another
// node added, forgets what it deleted and reloads what it replaced, and a
// listing reads the tenant's directory; of two uploads of one id on two
// nodes exactly one wins. The per-tenant bound counts what the node has
// seen. Nodes with separate upload directories each know only their own
// uploads, so a request naming one fails validation (1535/1546) on the
// others: give every node the same directory. The shared directory and
// the built-ins are read at start; give every node the same files.
package announce
