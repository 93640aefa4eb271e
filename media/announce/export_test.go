package announce

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/media"
)

// readPCM reads an exported file, insisting on the canonical 44-byte
// header of 8000 Hz mono 16-bit PCM, and returns its samples.
func readPCM(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical WAV: % x", path, b[:min(len(b), 44)])
	}
	tag, ch, rate, bits := le.Uint16(b[20:]), le.Uint16(b[22:]), le.Uint32(b[24:]), le.Uint16(b[34:])
	if tag != 1 || ch != 1 || rate != 8000 || bits != 16 {
		t.Fatalf("%s: format %d, %d channels, %d Hz, %d bits; want PCM, 1, 8000, 16", path, tag, ch, rate, bits)
	}
	if n := le.Uint32(b[40:]); int(n) != len(b)-44 || le.Uint32(b[4:]) != uint32(len(b)-8) {
		t.Fatalf("%s: sizes in the header do not match the file", path)
	}
	a, err := media.DecodeWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a.Samples
}

func ulawRoundTrip(s []int16) []int16 {
	u := make([]byte, len(s))
	media.PCMU.Encode(u, s)
	out := make([]int16, len(s))
	media.PCMU.Decode(out, u)
	return out
}

func newExport(t *testing.T, s *Store) (*Export, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sounds")
	e, err := NewExport(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	return e, dir
}

func TestExportSyncWritesEveryAnnouncementAsPCM(t *testing.T) {
	uploads, shared := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(shared, "music.wav"), g711WAV(media.PCMA, 1600), 0o644)
	s := newStore(t, Options{Dir: uploads, SharedDir: shared})
	if _, err := s.Add("7", Upload{ID: "welcome.wav"}, bytes.NewReader(pcmWAV(t, 4000))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("8", Upload{ID: "law.wav"}, bytes.NewReader(g711WAV(media.PCMU, 2400))); err != nil {
		t.Fatal(err)
	}
	// A file another node put in the upload directory, not yet looked up.
	os.MkdirAll(filepath.Join(uploads, "9"), 0o750)
	os.WriteFile(filepath.Join(uploads, "9", "other.wav"), pcmWAV(t, 800), 0o640)

	e, dir := newExport(t, s)
	if err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := readPCM(t, filepath.Join(dir, "7", "welcome.wav")); !slices.Equal(got, tone(4000)) {
		t.Fatal("a 16-bit upload is not exported sample for sample")
	}
	if got := readPCM(t, filepath.Join(dir, "8", "law.wav")); !slices.Equal(got, ulawRoundTrip(tone(2400))) {
		t.Fatal("a mu-law upload is not exported as its decoded samples")
	}
	if got := readPCM(t, filepath.Join(dir, "9", "other.wav")); len(got) != 800 {
		t.Fatalf("another node's upload: %d samples", len(got))
	}
	if got := readPCM(t, filepath.Join(dir, "shared", "music.wav")); len(got) != 1600 {
		t.Fatalf("shared A-law file: %d samples", len(got))
	}
	for _, id := range []string{RingbackID, BeepID, HoldID} {
		a, _ := s.Lookup("", id)
		got := readPCM(t, filepath.Join(dir, "builtin", id))
		enc := make([]byte, len(got))
		media.PCMU.Encode(enc, got)
		if !bytes.Equal(enc, a.pcmu) {
			t.Fatalf("built-in %s: %d samples, not the audio calls hear (%d samples)", id, len(got), len(a.pcmu))
		}
		if slices.Equal(got, make([]int16, len(got))) {
			t.Fatalf("built-in %s exported as silence", id)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "7", "welcome.wav"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v: a media server running as another user must read it", fi.Mode(), err)
	}
	assertNoExportTemp(t, dir)

	// Sync again (a restart) removes what is no announcement any more and
	// leaves other names alone.
	os.WriteFile(filepath.Join(dir, "7", "stale.wav"), pcmWAV(t, 80), 0o644)
	os.WriteFile(filepath.Join(dir, "7", "notes.txt"), []byte("x"), 0o644)
	if err := s.Delete("8", "law.wav"); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"7/stale.wav", "8/law.wav"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Fatalf("%s still there: %v", gone, err)
		}
	}
	for _, kept := range []string{"7/notes.txt", "7/welcome.wav", "builtin/hold.wav"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Fatalf("%s: %v", kept, err)
		}
	}
}

func assertNoExportTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".export-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

func TestExportPutEnsureRemove(t *testing.T) {
	s := newStore(t, Options{}) // uploads in memory: exported from their mu-law
	e, dir := newExport(t, s)
	a, err := s.Add("7", Upload{ID: "hello.wav"}, bytes.NewReader(pcmWAV(t, 1200)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Put(a); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "7", "hello.wav")
	if got := readPCM(t, path); !slices.Equal(got, ulawRoundTrip(tone(1200))) {
		t.Fatal("upload kept in memory exported wrong")
	}
	if p, ok := e.Path(a); !ok || p != path {
		t.Fatalf("Path = %q, %v", p, ok)
	}

	// Replaced (deleted, uploaded again): Ensure writes the new audio.
	if err := s.Delete("7", "hello.wav"); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove("7", "hello.wav"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("deleted announcement still exported: %v", err)
	}
	b, err := s.Add("7", Upload{ID: "hello.wav"}, bytes.NewReader(pcmWAV(t, 400)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Ensure(b)
	if err != nil || got != path {
		t.Fatalf("Ensure = %q, %v", got, err)
	}
	if n := len(readPCM(t, path)); n != 400 {
		t.Fatalf("after Ensure: %d samples, want 400", n)
	}
	// A shared announcement is never removed by a tenant's delete.
	hold, _ := s.Lookup("7", HoldID)
	if _, err := e.Ensure(hold); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove("", HoldID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "builtin", HoldID)); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove("7", "never.wav"); err != nil {
		t.Fatalf("removing what is not there: %v", err)
	}
}

func TestExportNamesCannotEscape(t *testing.T) {
	s := newStore(t, Options{})
	e, dir := newExport(t, s)
	victim := filepath.Join(filepath.Dir(dir), "victim.wav")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.MkdirAll(filepath.Join(dir, "7"), 0o755)
	inside := filepath.Join(dir, "7", "keep.wav")
	os.WriteFile(inside, []byte("keep"), 0o644)

	for _, c := range []struct{ tenant, id string }{
		{"..", "victim.wav"}, {"7", "../victim.wav"}, {"7/..", "victim.wav"}, {"7", "../../victim.wav"},
		{"/tmp", "victim.wav"}, {"7", "/victim.wav"}, {"7", "keep"}, {"7", ".keep.wav"}, {"7", `..\victim.wav`},
		{"7\x00", "keep.wav"}, {"", "../victim.wav"},
	} {
		if err := e.Remove(c.tenant, c.id); err != nil {
			t.Errorf("Remove(%q, %q): %v", c.tenant, c.id, err)
		}
		a := &Announcement{Tenant: c.tenant, ID: c.id, pcmu: []byte{0xff}}
		if _, ok := e.Path(a); ok {
			t.Errorf("Path(%q, %q) accepted", c.tenant, c.id)
		}
		if err := e.Put(a); err == nil {
			t.Errorf("Put(%q, %q) accepted", c.tenant, c.id)
		}
		if _, err := e.Ensure(a); err == nil {
			t.Errorf("Ensure(%q, %q) accepted", c.tenant, c.id)
		}
	}
	for _, f := range []string{victim, inside} {
		if b, err := os.ReadFile(f); err != nil || string(b) != "keep" {
			t.Fatalf("%s touched: %q, %v", f, b, err)
		}
	}

	// A tenant named like one of the export's own directories cannot
	// overwrite the shared or built-in files.
	if _, err := s.Add("shared", Upload{ID: HoldID + "x.wav"}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Lookup("builtin", HoldID)
	if a.Tenant != "" {
		t.Fatal("fixture: want the shared hold")
	}
	if err := e.Put(&Announcement{Tenant: "builtin", ID: HoldID, pcmu: []byte{0xff}}); err == nil {
		t.Fatal("tenant builtin accepted")
	}
	if err := e.Sync(); err == nil || !strings.Contains(err.Error(), `tenant "shared"`) {
		t.Fatalf("Sync with a tenant named shared: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "shared", HoldID+"x.wav")); !os.IsNotExist(err) {
		t.Fatalf("tenant shared written into shared/: %v", err)
	}
	if n := len(readPCM(t, filepath.Join(dir, "builtin", HoldID))); n != len(a.pcmu) {
		t.Fatalf("the built-ins were not exported beside the refusal: %d samples", n)
	}
}

func TestNewExportRefuses(t *testing.T) {
	s := newStore(t, Options{})
	if _, err := NewExport(s, "relative/sounds"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("relative directory: %v", err)
	}
	// A directory holding something else (a media server's own sounds):
	// Sync would remove its files.
	foreign := t.TempDir()
	os.MkdirAll(filepath.Join(foreign, "en"), 0o755)
	os.WriteFile(filepath.Join(foreign, "en", "hello-world.wav"), pcmWAV(t, 80), 0o644)
	if _, err := NewExport(s, foreign); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("foreign directory: %v", err)
	}
	// Its own directory, again (a restart), is accepted.
	e, dir := newExport(t, s)
	if err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewExport(s, dir); err != nil {
		t.Fatalf("own directory refused: %v", err)
	}
}
