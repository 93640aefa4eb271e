package announce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/media"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 10 << 20
	DefaultMaxPerTenant = 500
	// MaxNameLen bounds an announcement's name, in characters.
	MaxNameLen = 100
)

// Options configure a Store. The zero value is a store of the built-in
// announcements with uploads kept in memory.
type Options struct {
	// Dir is where uploads are written, one directory per tenant
	// (Dir/<tenant>/<id>); it is created if missing. Empty: uploads live
	// in memory only and are lost when the process stops.
	Dir string
	// SharedDir holds read-only announcements shared by every tenant: the
	// *.wav files at its top level, each named by its id. Loaded once, by
	// New; empty means none beyond the built-ins.
	SharedDir string
	// Hold is the id of the default hold announcement, a shared one;
	// empty means HoldID (the built-in hold music).
	Hold string
	// MaxBytes bounds an uploaded file; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxDuration bounds an uploaded announcement's length; 0 (or more
	// than media.MaxAudioDuration) means media.MaxAudioDuration.
	MaxDuration time.Duration
	// MaxPerTenant bounds each tenant's uploads; 0 means
	// DefaultMaxPerTenant, negative no bound.
	MaxPerTenant int
	// Now is the clock of creation times and generated ids; nil means
	// time.Now.
	Now func() time.Time
}

// Announcement is one playable announcement. It is immutable: the Store
// replaces it rather than changing it, so a caller may keep and share it
// (and its payloads) for as long as it plays.
type Announcement struct {
	ID string
	// Tenant owns an upload; empty for a shared announcement.
	Tenant string
	Name   string
	// Duration is how long it plays.
	Duration time.Duration
	// Size is the length in bytes of its WAV file as uploaded or as found
	// in a directory; for a built-in, of the WAV file Store.WAV serves.
	Size    int64
	Created time.Time
	// Builtin marks a generated announcement (RingbackID, BeepID, HoldID).
	Builtin bool

	pcmu, pcma []byte
	// path is the file, "" for a built-in and for an upload kept in
	// memory; modTime is the file's when it was read.
	path    string
	modTime time.Time
}

// Shared reports whether a is shared by every tenant (a built-in or a
// file of the shared directory).
func (a *Announcement) Shared() bool { return a.Tenant == "" }

// Payload returns a's audio in codec c, G.711 codes ready for
// media.NewPlayer; nil for an invalid codec. It was encoded when a was
// loaded: playback never transcodes. The slice is shared and must not be
// modified.
func (a *Announcement) Payload(c media.Codec) []byte {
	switch c {
	case media.PCMU:
		return a.pcmu
	case media.PCMA:
		return a.pcma
	}
	return nil
}

// newAnnouncement encodes audio for both laws. Keeping the two G.711
// encodings costs two bytes a sample, as much as the 16-bit linear audio
// they come from would, so nothing is gained by keeping linear audio and
// encoding on demand; the linear samples are dropped.
func newAnnouncement(id, tenant string, audio *media.Audio) *Announcement {
	return &Announcement{
		ID: id, Tenant: tenant, Duration: audio.Duration(),
		pcmu: audio.Encode(media.PCMU), pcma: audio.Encode(media.PCMA),
	}
}

// Upload names a new announcement.
type Upload struct {
	// ID is the id to store it under; empty: one is generated in the
	// style of the click-to-call spec, unix seconds and a counter
	// ("1610448601_84.wav").
	ID string
	// Name is a free label of at most MaxNameLen characters.
	Name string
}

// Store keeps announcements: the built-ins and the shared directory's,
// which every tenant sees, and each tenant's uploads, which only that
// tenant sees. A tenant's own announcement of an id hides a shared one of
// the same id (an upload cannot take a shared id, but a file put in a
// tenant's directory by hand can).
//
// With Dir set the directory is the truth and memory its cache: a look-up
// checks the file (one stat) and follows what another node sharing the
// directory did — an announcement it added is loaded on first use, one it
// deleted is forgotten, one it replaced is reloaded. The shared directory
// is read once, by New.
//
// A Store is safe for concurrent use.
type Store struct {
	dir, sharedDir string
	hold           string
	maxBytes       int64
	maxDuration    time.Duration
	maxPerTenant   int
	now            func() time.Time
	seq            atomic.Uint64

	// shared is written only by New.
	shared map[string]*Announcement

	mu      sync.RWMutex
	tenants map[string]map[string]*Announcement
}

// New builds a Store: it generates the built-ins, loads every file of the
// shared directory and of the upload directory, and checks that the hold
// announcement is a shared one. A file that cannot be read or is not an
// accepted WAV stops it with an error naming the file.
func New(opts Options) (*Store, error) {
	s := &Store{
		dir: opts.Dir, sharedDir: opts.SharedDir, hold: opts.Hold,
		maxBytes: opts.MaxBytes, maxDuration: opts.MaxDuration, maxPerTenant: opts.MaxPerTenant,
		now:     opts.Now,
		shared:  map[string]*Announcement{},
		tenants: map[string]map[string]*Announcement{},
	}
	if s.hold == "" {
		s.hold = HoldID
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxDuration <= 0 || s.maxDuration > media.MaxAudioDuration {
		s.maxDuration = media.MaxAudioDuration
	}
	if s.maxPerTenant == 0 {
		s.maxPerTenant = DefaultMaxPerTenant
	}
	if s.now == nil {
		s.now = time.Now
	}
	started := s.now().UTC()
	for id, b := range builtinAudio() {
		a := *b
		a.Builtin, a.Created = true, started
		a.Size = wavSize(len(a.pcmu))
		s.shared[id] = &a
	}
	if s.sharedDir != "" {
		if err := s.loadShared(); err != nil {
			return nil, err
		}
	}
	if s.dir != "" {
		if err := s.loadUploads(); err != nil {
			return nil, err
		}
	}
	if s.shared[s.hold] == nil {
		return nil, fmt.Errorf("announce: hold announcement %q is not a shared announcement (built-in %s, %s, %s, or a file of the shared directory)",
			s.hold, RingbackID, BeepID, HoldID)
	}
	return s, nil
}

// loadShared reads the top-level *.wav files of the shared directory.
func (s *Store) loadShared() error {
	entries, err := os.ReadDir(s.sharedDir)
	if err != nil {
		return fmt.Errorf("announce: shared directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(strings.ToLower(name), ".wav") {
			continue
		}
		path := filepath.Join(s.sharedDir, name)
		if !ValidID(name) {
			return fmt.Errorf("announce: %s: a file name is the announcement's id, which must be %s", path, IDRule)
		}
		if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		a, err := loadFile(path, name, "")
		if err != nil {
			return err
		}
		s.shared[name] = a
	}
	return nil
}

// loadUploads reads every tenant directory of the upload directory.
func (s *Store) loadUploads() error {
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("announce: upload directory: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("announce: upload directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validTenant(e.Name()) {
			continue
		}
		tenant := e.Name()
		files, err := os.ReadDir(filepath.Join(s.dir, tenant))
		if err != nil {
			return fmt.Errorf("announce: upload directory: %w", err)
		}
		for _, f := range files {
			if !ValidID(f.Name()) || !f.Type().IsRegular() {
				continue
			}
			a, err := loadFile(s.path(tenant, f.Name()), f.Name(), tenant)
			if err != nil {
				return err
			}
			s.put(a, nil)
		}
	}
	return nil
}

// HoldID returns the id of the default hold announcement.
func (s *Store) HoldID() string { return s.hold }

// Hold returns the default hold announcement.
func (s *Store) Hold() *Announcement { return s.shared[s.hold] }

// MaxBytes is the largest file Add accepts.
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// Lookup returns tenant's announcement id: its own, else a shared one.
// An id that breaks the rules (ValidID) is ErrNotFound like any unknown
// id. Another error is the store's failure: the upload directory cannot
// be read, or a file another node put there is not an accepted WAV.
func (s *Store) Lookup(tenant, id string) (*Announcement, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	a, err := s.own(tenant, id)
	if a != nil || err != nil {
		return a, err
	}
	if a := s.shared[id]; a != nil {
		return a, nil
	}
	return nil, ErrNotFound
}

// Payload returns tenant's announcement id in codec c, for a leg that
// negotiated c (see Announcement.Payload).
func (s *Store) Payload(tenant, id string, c media.Codec) ([]byte, error) {
	a, err := s.Lookup(tenant, id)
	if err != nil {
		return nil, err
	}
	if !c.Valid() {
		return nil, fmt.Errorf("announce: codec %v is not G.711", c)
	}
	return a.Payload(c), nil
}

// own returns tenant's upload id, nil when there is none. With an upload
// directory it checks the file: gone, it is forgotten; new or changed
// (another node), it is loaded.
func (s *Store) own(tenant, id string) (*Announcement, error) {
	if !validTenant(tenant) {
		return nil, nil
	}
	s.mu.RLock()
	a := s.tenants[tenant][id]
	s.mu.RUnlock()
	if s.dir == "" {
		return a, nil
	}
	path := s.path(tenant, id)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if a != nil {
			s.forget(a)
		}
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("announce: %w", err)
	case !fi.Mode().IsRegular():
		return nil, nil
	case a != nil && a.Size == fi.Size() && a.modTime.Equal(fi.ModTime()):
		return a, nil
	}
	fresh, err := loadFile(path, id, tenant)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, err
	}
	return s.put(fresh, a), nil
}

// put stores a unless the entry changed from old meanwhile (another
// look-up or an Add got there first), and returns what is stored.
func (s *Store) put(a, old *Announcement) *Announcement {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.tenants[a.Tenant]
	if m == nil {
		m = map[string]*Announcement{}
		s.tenants[a.Tenant] = m
	}
	if cur := m[a.ID]; cur != old && cur != nil {
		return cur
	}
	m[a.ID] = a
	return a
}

// forget drops a, if it is still the entry for its id.
func (s *Store) forget(a *Announcement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.tenants[a.Tenant]; m[a.ID] == a {
		delete(m, a.ID)
		if len(m) == 0 {
			delete(s.tenants, a.Tenant)
		}
	}
}

// List returns tenant's announcements, its own and the shared ones, by
// id. With an upload directory it reads the tenant's directory, so what
// other nodes added or deleted shows.
func (s *Store) List(tenant string) ([]*Announcement, error) {
	ids := map[string]bool{}
	if validTenant(tenant) {
		s.mu.RLock()
		for id := range s.tenants[tenant] {
			ids[id] = true
		}
		s.mu.RUnlock()
		if s.dir != "" {
			files, err := os.ReadDir(filepath.Join(s.dir, tenant))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("announce: %w", err)
			}
			for _, f := range files {
				if ValidID(f.Name()) {
					ids[f.Name()] = true
				}
			}
		}
	}
	out := make([]*Announcement, 0, len(ids)+len(s.shared))
	for id := range ids {
		a, err := s.own(tenant, id)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
	for id, a := range s.shared {
		if !ids[id] {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Announcement) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// count is how many uploads tenant has in memory.
func (s *Store) count(tenant string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.tenants[tenant])
}

// Add stores audio, a WAV file, as tenant's announcement. The file must
// be 8000 Hz mono 16-bit PCM, μ-law or A-law (media.DecodeWAV), at most
// MaxBytes long and play at most MaxDuration. It is decoded and encoded
// for both G.711 laws once, here; with an upload directory it is written
// as received to a temporary file of the tenant's directory while it is
// read, synced, and published under its id only when it was accepted (a
// hard link, so of two uploads of one id on nodes sharing the directory
// exactly one wins; a rename where links are not supported).
//
// Refusals match ErrInvalidID, ErrInvalidName, ErrExists (the tenant's own id or a
// shared one), ErrLimit, ErrTooLarge, ErrBadAudio or ErrRead (the reader
// failed); another error is the store's own failure.
func (s *Store) Add(tenant string, up Upload, audio io.Reader) (*Announcement, error) {
	if !validTenant(tenant) {
		return nil, fmt.Errorf("announce: tenant id %q cannot name a directory", tenant)
	}
	if up.ID != "" {
		if !ValidID(up.ID) {
			return nil, refuse(ErrInvalidID, "id %q is not valid: use %s", up.ID, IDRule)
		}
		if err := s.available(tenant, up.ID); err != nil {
			return nil, err
		}
	}
	if !utf8.ValidString(up.Name) || utf8.RuneCountInString(up.Name) > MaxNameLen || strings.ContainsFunc(up.Name, isControl) {
		return nil, refuse(ErrInvalidName, "name must be at most %d characters of UTF-8 text without control characters", MaxNameLen)
	}
	if s.maxPerTenant > 0 && s.count(tenant) >= s.maxPerTenant {
		return nil, refuse(ErrLimit, "a tenant may keep at most %d announcements; delete one first", s.maxPerTenant)
	}
	var tmp *os.File
	if s.dir != "" {
		tdir := filepath.Join(s.dir, tenant)
		if err := os.MkdirAll(tdir, dirMode); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
		var err error
		if tmp, err = os.CreateTemp(tdir, ".upload-*"); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
		defer os.Remove(tmp.Name()) // after the link, or on failure
		defer tmp.Close()
		if err := tmp.Chmod(fileMode); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
	}
	a, err := s.decode(tenant, audio, tmp)
	if err != nil {
		return nil, err
	}
	a.Name = up.Name
	a.Created = s.now().UTC()
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
	}
	return s.publish(a, up.ID, tmp)
}

// available refuses an id tenant already has, or a shared one.
func (s *Store) available(tenant, id string) error {
	if s.shared[id] != nil {
		return refuse(ErrExists, "%s is a shared announcement; choose another id", id)
	}
	a, err := s.own(tenant, id)
	if err != nil {
		return err
	}
	if a != nil {
		return refuse(ErrExists, "announcement %s exists; delete it first to replace it", id)
	}
	return nil
}

// decode reads the upload, copying it to file as it goes (when file is
// not nil), and returns it decoded and encoded, without id and name.
func (s *Store) decode(tenant string, audio io.Reader, file *os.File) (*Announcement, error) {
	r := &uploadReader{r: audio, max: s.maxBytes}
	if file != nil {
		r.w = file
	}
	pcm, err := media.DecodeWAV(r)
	if err == nil {
		// Keep what follows the data chunk (LIST, ...): the file is
		// stored as it was sent.
		_, err = io.Copy(io.Discard, r)
	}
	switch {
	case r.werr != nil:
		return nil, fmt.Errorf("announce: writing the upload: %w", r.werr)
	case r.n > s.maxBytes:
		return nil, refuse(ErrTooLarge, "the file is larger than %d bytes", s.maxBytes)
	case r.rerr != nil:
		e := refuse(ErrRead, "reading the upload: %v", r.rerr)
		e.cause = r.rerr
		return nil, e
	case r.n == 0:
		return nil, refuse(ErrBadAudio, "the file is empty: send a WAV file (8000 Hz mono, 16-bit PCM, μ-law or A-law)")
	case errors.Is(err, media.ErrBadWAV):
		return nil, refuse(ErrBadAudio, "%s; accepted: WAV, 8000 Hz mono, 16-bit PCM, μ-law or A-law",
			strings.TrimPrefix(err.Error(), "media: wav: "))
	case err != nil:
		return nil, fmt.Errorf("announce: %w", err)
	}
	if d := pcm.Duration(); d > s.maxDuration {
		return nil, refuse(ErrBadAudio, "the audio is %v long, the limit is %v", d.Round(time.Millisecond), s.maxDuration)
	}
	a := newAnnouncement("", tenant, pcm)
	a.Size = r.n
	return a, nil
}

// publish gives a its id (up, or a generated one) and stores it: for an
// upload directory, by linking tmp to its final name, then writing the
// name and creation time beside it.
func (s *Store) publish(a *Announcement, id string, tmp *os.File) (*Announcement, error) {
	for range 1000 {
		a.ID = id
		if id == "" {
			a.ID = generatedID(a.Created.Unix(), s.seq.Add(1))
			if s.shared[a.ID] != nil {
				continue
			}
		}
		var err error
		if tmp == nil {
			err = s.putNew(a)
		} else {
			err = s.link(a, tmp.Name())
		}
		if errors.Is(err, ErrExists) && id == "" {
			continue
		}
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, errors.New("announce: no free id after 1000 tries")
}

// putNew stores an upload kept in memory, unless its id is taken.
func (s *Store) putNew(a *Announcement) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.tenants[a.Tenant]
	if m == nil {
		m = map[string]*Announcement{}
		s.tenants[a.Tenant] = m
	}
	if m[a.ID] != nil {
		return refuse(ErrExists, "announcement %s exists; delete it first to replace it", a.ID)
	}
	m[a.ID] = a
	return nil
}

// link publishes the temporary file under a's id and records a.
func (s *Store) link(a *Announcement, tmp string) error {
	path := s.path(a.Tenant, a.ID)
	if err := linkNew(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return refuse(ErrExists, "announcement %s exists; delete it first to replace it", a.ID)
		}
		return fmt.Errorf("announce: %w", err)
	}
	syncDir(filepath.Dir(path))
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	a.path, a.modTime = path, fi.ModTime()
	if err := writeMeta(path, meta{Name: a.Name, Created: a.Created}); err != nil {
		os.Remove(path)
		return fmt.Errorf("announce: %w", err)
	}
	s.mu.Lock()
	m := s.tenants[a.Tenant]
	if m == nil {
		m = map[string]*Announcement{}
		s.tenants[a.Tenant] = m
	}
	m[a.ID] = a
	s.mu.Unlock()
	return nil
}

// Delete removes tenant's announcement id. A shared one is ErrReadOnly,
// an unknown one ErrNotFound. The audio of calls playing it is not
// affected: they hold its payload.
func (s *Store) Delete(tenant, id string) error {
	if !ValidID(id) || !validTenant(tenant) {
		return ErrNotFound
	}
	s.mu.RLock()
	a := s.tenants[tenant][id]
	s.mu.RUnlock()
	if s.dir != "" {
		path := s.path(tenant, id)
		err := os.Remove(path)
		switch {
		case err == nil:
			os.Remove(metaPath(path))
			syncDir(filepath.Dir(path))
			if a != nil {
				s.forget(a)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("announce: %w", err)
		}
		if a != nil {
			s.forget(a) // deleted by another node
		}
	} else if a != nil {
		s.forget(a)
		return nil
	}
	if s.shared[id] != nil {
		return refuse(ErrReadOnly, "%s is a shared announcement and cannot be deleted", id)
	}
	return ErrNotFound
}

// WAV returns tenant's announcement id as a WAV file: the file as it was
// uploaded or found, or, for a built-in or an upload kept in memory, 8 kHz
// 16-bit PCM rendered from its μ-law audio (what a PCMU leg hears). The
// caller closes it.
func (s *Store) WAV(tenant, id string) (io.ReadSeekCloser, *Announcement, error) {
	a, err := s.Lookup(tenant, id)
	if err != nil {
		return nil, nil, err
	}
	if a.path != "" {
		f, err := os.Open(a.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, ErrNotFound
		}
		if err != nil {
			return nil, nil, fmt.Errorf("announce: %w", err)
		}
		return f, a, nil
	}
	pcm := make([]int16, len(a.pcmu))
	media.PCMU.Decode(pcm, a.pcmu)
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, 1, pcm); err != nil {
		return nil, nil, fmt.Errorf("announce: %w", err)
	}
	return nopCloser{bytes.NewReader(b.Bytes())}, a, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (s *Store) path(tenant, id string) string { return filepath.Join(s.dir, tenant, id) }

// wavSize is the size of a canonical 16-bit PCM WAV of n samples.
func wavSize(n int) int64 { return 44 + 2*int64(n) }

func isControl(r rune) bool { return r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) }

// uploadReader counts what it reads, refuses more than max bytes, copies
// to w, and keeps the reader's and the writer's errors apart.
type uploadReader struct {
	r          io.Reader
	w          io.Writer
	n, max     int64
	rerr, werr error
}

var errTooLarge = errors.New("upload too large")

func (u *uploadReader) Read(p []byte) (int, error) {
	if u.rerr != nil {
		return 0, u.rerr
	}
	if u.n > u.max {
		return 0, errTooLarge
	}
	if rest := u.max + 1 - u.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.w != nil && n > 0 {
		if _, werr := u.w.Write(p[:n]); werr != nil {
			u.werr = werr
			return n, werr
		}
	}
	if err != nil && err != io.EOF {
		u.rerr = err
	}
	if u.n > u.max {
		return n, errTooLarge
	}
	return n, err
}
