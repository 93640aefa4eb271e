package announce

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/switchboard/switchboard/media"
)

// The directories of an Export that are not a tenant's: no tenant may
// take these names.
const (
	ExportBuiltinDir = "builtin"
	ExportSharedDir  = "shared"
)

// Modes of what an Export creates: whatever plays the files (another
// user, such as Asterisk's) must read them.
const (
	exportDirMode  = 0o755
	exportFileMode = 0o644
)

// Export keeps a copy of a Store's announcements in a directory, each as
// an 8000 Hz mono 16-bit PCM WAV (the one WAV format every player reads,
// whatever the file it comes from): Dir/builtin/<id>, Dir/shared/<id> and
// Dir/<tenant>/<id>. It is for a media server that plays files it reads
// itself, such as Asterisk. Every file is written to a temporary file of
// its directory (.export-*) and renamed, so a reader sees a whole file or
// none.
//
// Sync writes everything at start; Put and Remove follow the uploads and
// deletes of this process; Ensure writes, before a play, an announcement
// this Export has not written yet (an upload another node sharing the
// upload directory made). A delete made by another node leaves its file
// until the next Sync, as does an upload deleted while it was being
// written here; neither is played, since the Store no longer has it.
//
// An Export is safe for concurrent use.
type Export struct {
	store *Store
	dir   string

	mu      sync.Mutex
	written map[string]*Announcement // by relative path: what the file holds
}

// NewExport exports s's announcements into dir, an absolute path, created
// if missing. dir must be empty or an export directory already (see
// claim). Nothing is written until Sync, Put or Ensure.
func NewExport(s *Store, dir string) (*Export, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("announce: export directory %q is not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, exportDirMode); err != nil {
		return nil, fmt.Errorf("announce: export directory: %w", err)
	}
	if err := claim(dir); err != nil {
		return nil, err
	}
	return &Export{store: s, dir: dir, written: map[string]*Announcement{}}, nil
}

// exportMarker marks a directory as an Export's, so that Sync, which
// removes the files it does not know, never removes anything from a
// directory that holds something else (such as a media server's own
// sounds).
const exportMarker = ".switchboard-export"

// claim makes dir an export directory: one with the marker, or an empty
// one, which gets the marker.
func claim(dir string) error {
	marker := filepath.Join(dir, exportMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("announce: export directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("announce: export directory %s is not empty and was not made by Switchboard: give the exported announcements a directory of their own", dir)
	}
	if err := os.WriteFile(marker, []byte("Switchboard writes the announcements here and removes what it does not know.\n"), exportFileMode); err != nil {
		return fmt.Errorf("announce: export directory: %w", err)
	}
	return nil
}

// Dir is the export directory.
func (e *Export) Dir() string { return e.dir }

// rel is where a goes below the export directory; ok=false for an
// announcement whose tenant or id cannot name a file there.
func rel(tenant, id string, builtin bool) (string, bool) {
	if !ValidID(id) {
		return "", false
	}
	switch {
	case tenant != "":
		if !validTenant(tenant) || tenant == ExportBuiltinDir || tenant == ExportSharedDir {
			return "", false
		}
		return tenant + "/" + id, true
	case builtin:
		return ExportBuiltinDir + "/" + id, true
	}
	return ExportSharedDir + "/" + id, true
}

// Path is the file a is exported to (whether written yet or not), and
// false when a cannot be exported (a tenant named like ExportBuiltinDir
// or ExportSharedDir).
func (e *Export) Path(a *Announcement) (string, bool) {
	r, ok := rel(a.Tenant, a.ID, a.Builtin)
	if !ok {
		return "", false
	}
	return filepath.Join(e.dir, filepath.FromSlash(r)), true
}

// Sync writes every announcement the store knows: the built-ins, the
// shared ones and every tenant's uploads (those in memory and those in
// the upload directory), and removes the files of the tenants'
// directories, and of builtin/ and shared/, that are no announcement any
// more. Files and directories of other names are left alone. It returns
// every failure, having tried everything.
func (e *Export) Sync() error {
	var errs []error
	want := map[string]bool{}
	add := func(a *Announcement) {
		r, ok := rel(a.Tenant, a.ID, a.Builtin)
		if !ok {
			errs = append(errs, fmt.Errorf("announce: export: tenant %q cannot have a directory of the export (%s and %s are taken)", a.Tenant, ExportBuiltinDir, ExportSharedDir))
			return
		}
		want[r] = true
		if err := e.write(a, r); err != nil {
			errs = append(errs, err)
		}
	}
	shared, err := e.store.List("")
	if err != nil {
		return err
	}
	for _, a := range shared {
		add(a)
	}
	tenants, err := e.store.tenantIDs()
	if err != nil {
		errs = append(errs, err)
	}
	for _, t := range tenants {
		list, err := e.store.List(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range list {
			if a.Tenant == t {
				add(a)
			}
		}
	}
	errs = append(errs, e.prune(want)...)
	return errors.Join(errs...)
}

// prune removes the announcement files below the export directory that
// are not in want.
func (e *Export) prune(want map[string]bool) []error {
	var errs []error
	dirs, err := os.ReadDir(e.dir)
	if err != nil {
		return []error{fmt.Errorf("announce: export: %w", err)}
	}
	for _, d := range dirs {
		if !d.IsDir() || !validTenant(d.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(e.dir, d.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("announce: export: %w", err))
			continue
		}
		for _, f := range files {
			r := d.Name() + "/" + f.Name()
			if !ValidID(f.Name()) || !f.Type().IsRegular() || want[r] {
				continue
			}
			if err := e.remove(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// Put writes a (an upload just stored, or any announcement) to its file,
// replacing what the file held.
func (e *Export) Put(a *Announcement) error {
	r, ok := rel(a.Tenant, a.ID, a.Builtin)
	if !ok {
		return fmt.Errorf("announce: export: announcement %q of tenant %q has no file name in the export", a.ID, a.Tenant)
	}
	return e.write(a, r)
}

// Ensure returns a's file, writing it first unless this Export already
// wrote this very announcement there (the Store replaces an announcement
// that changes, so a replaced upload is written again).
func (e *Export) Ensure(a *Announcement) (string, error) {
	r, ok := rel(a.Tenant, a.ID, a.Builtin)
	if !ok {
		return "", fmt.Errorf("announce: export: announcement %q of tenant %q has no file name in the export", a.ID, a.Tenant)
	}
	e.mu.Lock()
	done := e.written[r] == a
	e.mu.Unlock()
	if !done {
		if err := e.write(a, r); err != nil {
			return "", err
		}
	}
	return filepath.Join(e.dir, filepath.FromSlash(r)), nil
}

// Remove deletes tenant's announcement id from the export (after a
// delete). An id or tenant that names no file of the export, or a file
// that is not there, is no error.
func (e *Export) Remove(tenant, id string) error {
	if tenant == "" {
		return nil // shared announcements are read-only
	}
	r, ok := rel(tenant, id, false)
	if !ok {
		return nil
	}
	return e.remove(r)
}

func (e *Export) remove(r string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.written, r)
	if err := os.Remove(filepath.Join(e.dir, filepath.FromSlash(r))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("announce: export: %w", err)
	}
	return nil
}

// write renders a as 16-bit PCM into the file r (relative, checked by
// rel): a temporary file of its directory, synced, renamed.
func (e *Export) write(a *Announcement, r string) error {
	samples, err := e.store.linear(a)
	if err != nil {
		return fmt.Errorf("announce: export %s: %w", r, err)
	}
	path := filepath.Join(e.dir, filepath.FromSlash(r))
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, exportDirMode); err != nil {
		return fmt.Errorf("announce: export: %w", err)
	}
	f, err := os.CreateTemp(dir, ".export-*")
	if err != nil {
		return fmt.Errorf("announce: export: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	err = f.Chmod(exportFileMode)
	if err == nil {
		err = media.EncodeWAV(f, 1, samples)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("announce: export %s: %w", r, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("announce: export: %w", err)
	}
	e.written[r] = a
	return nil
}

// linear is a's audio as 16-bit linear samples: decoded from its file
// when it has one (exact for a 16-bit PCM upload), else from its μ-law
// encoding; a built-in is generated again.
func (s *Store) linear(a *Announcement) ([]int16, error) {
	if a.Builtin {
		if gen := builtins[a.ID]; gen != nil {
			return gen().Samples, nil
		}
	}
	if a.path != "" {
		f, err := os.Open(a.path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		audio, err := media.DecodeWAV(f)
		if err != nil {
			return nil, err
		}
		return audio.Samples, nil
	}
	pcm := make([]int16, len(a.pcmu))
	media.PCMU.Decode(pcm, a.pcmu)
	return pcm, nil
}

// tenantIDs is every tenant with uploads: in memory, and with an upload
// directory, its tenant directories.
func (s *Store) tenantIDs() ([]string, error) {
	seen := map[string]bool{}
	s.mu.RLock()
	for t := range s.tenants {
		seen[t] = true
	}
	s.mu.RUnlock()
	if s.dir != "" {
		entries, err := os.ReadDir(s.dir)
		if err != nil {
			return nil, fmt.Errorf("announce: upload directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && validTenant(e.Name()) {
				seen[e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	return out, nil
}
