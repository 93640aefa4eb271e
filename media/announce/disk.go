package announce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/switchboard/switchboard/media"
)

// meta is what a file does not say about an announcement, kept beside it
// as <id>.json (an id ends in ".wav", so no id names a meta file).
type meta struct {
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created_at"`
}

// Modes of what the store creates: its user writes, its group may read.
// Nodes sharing an upload directory run as one user.
const (
	dirMode  = 0o750
	fileMode = 0o640
)

func metaPath(wav string) string { return wav + ".json" }

// maxMetaBytes bounds a meta file read back.
const maxMetaBytes = 4 << 10

// loadFile reads the announcement id of tenant ("" for a shared one) from
// path, and its meta file when there is one (else it has no name and was
// created when the file was last written). The error names the file. A
// file of any size is read: DecodeWAV bounds the audio and what it skips.
func loadFile(path, id, tenant string) (*Announcement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	pcm, err := media.DecodeWAV(f)
	if err != nil {
		return nil, fmt.Errorf("announce: %s: %w (accepted: WAV, 8000 Hz mono, 16-bit PCM, μ-law or A-law; fix or remove the file)", path, err)
	}
	a := newAnnouncement(id, tenant, pcm)
	a.Size, a.modTime, a.Created = fi.Size(), fi.ModTime(), fi.ModTime().UTC()
	a.path = path
	m, err := readMeta(metaPath(path))
	if err != nil {
		return nil, fmt.Errorf("announce: %s: %w", metaPath(path), err)
	}
	if m != nil {
		a.Name = m.Name
		if !m.Created.IsZero() {
			a.Created = m.Created.UTC()
		}
	}
	return a, nil
}

// readMeta reads a meta file; nil when there is none.
func readMeta(path string) (*meta, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("%d bytes is too long for a meta file", len(b))
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// writeMeta writes the meta file of wav atomically: a temporary file,
// synced, renamed over the final name.
func writeMeta(wav string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(wav), ".meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), metaPath(wav))
}

// linkNew gives the file tmp the name path unless path exists (an error
// matching fs.ErrExist): a hard link, which fails atomically when the
// name is taken, even between nodes sharing the directory. Where hard
// links are not supported it falls back to a check and a rename.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(path); serr == nil {
		return fs.ErrExist
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return serr
	}
	return os.Rename(tmp, path)
}

// syncDir makes a directory's entries durable, where the system allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
