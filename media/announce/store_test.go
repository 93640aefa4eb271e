package announce

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/switchboard/switchboard/media"
)

// tone is n samples of a sawtooth, so every fixture has audio that is
// not silence.
func tone(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((i%80)*400 - 16000)
	}
	return s
}

// pcmWAV is a valid 8 kHz mono 16-bit WAV of n samples, made by media's
// own encoder.
func pcmWAV(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, 1, tone(n)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawWAV builds a WAV with any fmt fields and data, and extra chunks
// after the data chunk.
func rawWAV(tag, channels uint16, rate uint32, bits uint16, data []byte, after ...[]byte) []byte {
	le := binary.LittleEndian
	align := channels * bits / 8
	var f []byte
	f = le.AppendUint16(f, tag)
	f = le.AppendUint16(f, channels)
	f = le.AppendUint32(f, rate)
	f = le.AppendUint32(f, rate*uint32(align))
	f = le.AppendUint16(f, align)
	f = le.AppendUint16(f, bits)
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVEfmt "...)
	b = le.AppendUint32(b, uint32(len(f)))
	b = append(b, f...)
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	for _, c := range after {
		b = append(b, c...)
	}
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// g711WAV is a valid μ-law or A-law WAV of n samples.
func g711WAV(c media.Codec, n int) []byte {
	tag := uint16(7)
	if c == media.PCMA {
		tag = 6
	}
	return rawWAV(tag, 1, 8000, 8, (&media.Audio{Samples: tone(n)}).Encode(c))
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"1610448601_84.wav", true},
		{"a.wav", true},
		{"Welcome-Message.v2.wav", true},
		{strings.Repeat("a", 46) + ".wav", true},
		{strings.Repeat("a", 47) + ".wav", false}, // 51 characters
		{"", false},
		{".wav", false},
		{".hidden.wav", false},
		{"../x.wav", false},
		{"a/b.wav", false},
		{`a\b.wav`, false},
		{"x.WAV", false},
		{"x.mp3", false},
		{"x", false},
		{"a b.wav", false},
		{"x\x00.wav", false},
		{"é.wav", false},
		{"..wav", false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestAddAccepted(t *testing.T) {
	list := []byte("LIST\x0a\x00\x00\x00INFOISFT\x02\x00") // a chunk after the data
	tests := []struct {
		name     string
		file     []byte
		duration time.Duration
	}{
		{"16-bit PCM", pcmWAV(t, 8000), time.Second},
		{"mu-law", g711WAV(media.PCMU, 4000), 500 * time.Millisecond},
		{"A-law", g711WAV(media.PCMA, 1600), 200 * time.Millisecond},
		{"PCM with a chunk after the data", rawWAV(1, 1, 8000, 16, pcmWAV(t, 800)[44:], list), 100 * time.Millisecond},
		{"one sample", pcmWAV(t, 1), time.Second / 8000},
	}
	for _, mode := range []string{"disk", "memory"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				opts := Options{}
				if mode == "disk" {
					opts.Dir = t.TempDir()
				}
				s := newStore(t, opts)
				a, err := s.Add("7", Upload{ID: "greeting.wav", Name: "Grüße"}, bytes.NewReader(tc.file))
				if err != nil {
					t.Fatal(err)
				}
				if a.ID != "greeting.wav" || a.Tenant != "7" || a.Name != "Grüße" || a.Shared() || a.Builtin {
					t.Errorf("announcement %+v", a)
				}
				if a.Duration != tc.duration || a.Size != int64(len(tc.file)) || a.Created.IsZero() {
					t.Errorf("duration %v size %d created %v, want %v %d", a.Duration, a.Size, a.Created, tc.duration, len(tc.file))
				}
				pcm, err := media.DecodeWAV(bytes.NewReader(tc.file))
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range []media.Codec{media.PCMU, media.PCMA} {
					if !bytes.Equal(a.Payload(c), pcm.Encode(c)) {
						t.Errorf("%v payload differs from the file's audio encoded", c)
					}
					p, err := s.Payload("7", "greeting.wav", c)
					if err != nil || !bytes.Equal(p, a.Payload(c)) {
						t.Errorf("Store.Payload(%v): %v", c, err)
					}
				}
				if a.Payload(media.Codec(99)) != nil {
					t.Error("payload of an invalid codec")
				}
				if mode == "disk" {
					got, err := os.ReadFile(filepath.Join(opts.Dir, "7", "greeting.wav"))
					if err != nil || !bytes.Equal(got, tc.file) {
						t.Errorf("stored file differs from the upload (%v)", err)
					}
					rc, _, err := s.WAV("7", "greeting.wav")
					if err != nil {
						t.Fatal(err)
					}
					served, _ := io.ReadAll(rc)
					rc.Close()
					if !bytes.Equal(served, tc.file) {
						t.Error("WAV does not serve the file as uploaded")
					}
					assertNoTemp(t, filepath.Join(opts.Dir, "7"))
				}
			})
		}
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestAddRefused(t *testing.T) {
	good := pcmWAV(t, 800)
	tests := []struct {
		name string
		opts Options
		up   Upload
		file []byte
		kind error
		msg  string
	}{
		{"44.1 kHz", Options{}, Upload{}, rawWAV(1, 1, 44100, 16, make([]byte, 100)), ErrBadAudio, "sample rate must be 8000 Hz, got 44100"},
		{"16 kHz", Options{}, Upload{}, rawWAV(1, 1, 16000, 16, make([]byte, 100)), ErrBadAudio, "sample rate"},
		{"stereo", Options{}, Upload{}, rawWAV(1, 2, 8000, 16, make([]byte, 100)), ErrBadAudio, "mono, got 2 channels"},
		{"8-bit PCM", Options{}, Upload{}, rawWAV(1, 1, 8000, 8, make([]byte, 100)), ErrBadAudio, "16-bit"},
		{"32-bit float", Options{}, Upload{}, rawWAV(3, 1, 8000, 32, make([]byte, 100)), ErrBadAudio, "float"},
		{"GSM", Options{}, Upload{}, rawWAV(0x31, 1, 8000, 0, make([]byte, 100)), ErrBadAudio, "format tag"},
		{"truncated data", Options{}, Upload{}, good[:len(good)-101], ErrBadAudio, "truncated"},
		{"truncated header", Options{}, Upload{}, good[:20], ErrBadAudio, "truncated"},
		{"not a WAV (MP3)", Options{}, Upload{}, []byte("ID3\x03\x00\x00\x00\x00\x00\x00 not audio at all"), ErrBadAudio, "not a RIFF file"},
		{"not a WAV (text)", Options{}, Upload{}, []byte("hello"), ErrBadAudio, "truncated"},
		{"empty", Options{}, Upload{}, nil, ErrBadAudio, "empty"},
		{"no data", Options{}, Upload{}, rawWAV(1, 1, 8000, 16, nil), ErrBadAudio, "empty"},
		{"too big", Options{MaxBytes: 1000}, Upload{}, pcmWAV(t, 1000), ErrTooLarge, "larger than 1000 bytes"},
		{"too long", Options{MaxDuration: time.Second}, Upload{}, pcmWAV(t, 8001), ErrBadAudio, "the limit is 1s"},
		{"bad id", Options{}, Upload{ID: "../../etc/passwd"}, good, ErrInvalidID, "not valid"},
		{"id without .wav", Options{}, Upload{ID: "welcome"}, good, ErrInvalidID, ".wav"},
		{"shared id", Options{}, Upload{ID: RingbackID}, good, ErrExists, "shared"},
		{"long name", Options{}, Upload{Name: strings.Repeat("n", 101)}, good, ErrInvalidName, "100"},
		{"name with a newline", Options{}, Upload{Name: "a\nb"}, good, ErrInvalidName, "control"},
	}
	for _, mode := range []string{"disk", "memory"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				if mode == "disk" {
					tc.opts.Dir = t.TempDir()
				}
				s := newStore(t, tc.opts)
				a, err := s.Add("7", tc.up, bytes.NewReader(tc.file))
				if !errors.Is(err, tc.kind) || a != nil {
					t.Fatalf("got %v, %v; want %v", a, err, tc.kind)
				}
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.msg) {
					t.Errorf("message %q does not say %q", err, tc.msg)
				}
				if list, _ := s.List("7"); len(list) != len(builtins) {
					t.Errorf("something was stored: %d announcements", len(list))
				}
				if mode == "disk" {
					entries, _ := os.ReadDir(filepath.Join(tc.opts.Dir, "7"))
					if len(entries) != 0 {
						t.Errorf("files left: %v", entries)
					}
				}
			})
		}
	}
}

func TestAddReaderFails(t *testing.T) {
	s := newStore(t, Options{Dir: t.TempDir()})
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(pcmWAV(t, 800)[:100]), iotest.ErrReader(boom))
	_, err := s.Add("7", Upload{}, r)
	if !errors.Is(err, ErrRead) || !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestAddExistingID(t *testing.T) {
	for _, mode := range []string{"disk", "memory"} {
		t.Run(mode, func(t *testing.T) {
			opts := Options{}
			if mode == "disk" {
				opts.Dir = t.TempDir()
			}
			s := newStore(t, opts)
			if _, err := s.Add("7", Upload{ID: "x.wav"}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Add("7", Upload{ID: "x.wav"}, bytes.NewReader(pcmWAV(t, 160))); !errors.Is(err, ErrExists) {
				t.Fatalf("second upload: %v", err)
			}
			a, _ := s.Lookup("7", "x.wav")
			if a.Duration != 10*time.Millisecond {
				t.Error("the first upload was replaced")
			}
			// Another tenant may use the same id.
			if _, err := s.Add("8", Upload{ID: "x.wav"}, bytes.NewReader(pcmWAV(t, 160))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

var generated = regexp.MustCompile(`^[0-9]+_[0-9]+\.wav$`)

func TestGeneratedIDs(t *testing.T) {
	s := newStore(t, Options{Dir: t.TempDir(), Now: func() time.Time { return time.Unix(1610448601, 0) }})
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.Add("7", Upload{}, bytes.NewReader(pcmWAV(t, 80)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !generated.MatchString(a.ID) || !strings.HasPrefix(a.ID, "1610448601_") || ids[a.ID] {
				t.Errorf("generated id %q", a.ID)
			}
			ids[a.ID] = true
		}()
	}
	wg.Wait()
	if len(ids) != 20 {
		t.Fatalf("%d ids", len(ids))
	}
	// A restarted store (its counter from 1 again) in the same second
	// skips the ids taken.
	s2 := newStore(t, Options{Dir: s.dir, Now: s.now})
	a, err := s2.Add("7", Upload{}, bytes.NewReader(pcmWAV(t, 80)))
	if err != nil || ids[a.ID] {
		t.Fatalf("after restart: %v %v", a, err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, Options{Dir: dir, Now: func() time.Time { return created }})
	file := g711WAV(media.PCMA, 2400)
	if _, err := s.Add("7", Upload{ID: "1610448601_84.wav", Name: "welcome"}, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("7", Upload{ID: "gone.wav"}, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("7", "gone.wav"); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a crash are ignored.
	os.WriteFile(filepath.Join(dir, "7", ".upload-123"), []byte("partial"), 0o600)

	s2 := newStore(t, Options{Dir: dir})
	a, err := s2.Lookup("7", "1610448601_84.wav")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "welcome" || !a.Created.Equal(created) || a.Duration != 300*time.Millisecond || a.Size != int64(len(file)) {
		t.Errorf("reloaded as %+v", a)
	}
	pcm, err := media.DecodeWAV(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Payload(media.PCMA), pcm.Encode(media.PCMA)) {
		t.Error("reloaded audio differs")
	}
	if _, err := s2.Lookup("7", "gone.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted announcement: %v", err)
	}
	if _, err := s2.Lookup("8", "1610448601_84.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant sees it: %v", err)
	}
}

func TestTenantIsolation(t *testing.T) {
	s := newStore(t, Options{Dir: t.TempDir()})
	if _, err := s.Add("7", Upload{ID: "mine.wav"}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup("8", "mine.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup by another tenant: %v", err)
	}
	if err := s.Delete("8", "mine.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete by another tenant: %v", err)
	}
	if _, _, err := s.WAV("8", "mine.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("WAV by another tenant: %v", err)
	}
	list, _ := s.List("8")
	for _, a := range list {
		if !a.Shared() {
			t.Errorf("tenant 8 lists %s of tenant %s", a.ID, a.Tenant)
		}
	}
	list, _ = s.List("7")
	if ids := idsOf(list); !slices.Contains(ids, "mine.wav") || !slices.Contains(ids, HoldID) || !slices.IsSorted(ids) {
		t.Errorf("tenant 7 lists %v", ids)
	}
	// A tenant id that cannot name a directory is refused, and sees the
	// shared announcements only.
	if _, err := s.Add("../7", Upload{}, bytes.NewReader(pcmWAV(t, 80))); err == nil {
		t.Error("tenant ../7 accepted")
	}
	if _, err := s.Lookup("../7", "mine.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("tenant ../7: %v", err)
	}
}

func idsOf(list []*Announcement) []string {
	ids := make([]string, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	return ids
}

func TestBuiltins(t *testing.T) {
	s := newStore(t, Options{})
	if s.HoldID() != HoldID || s.Hold() == nil || s.Hold().ID != HoldID {
		t.Fatalf("hold %q", s.HoldID())
	}
	want := map[string]time.Duration{RingbackID: 6 * time.Second, BeepID: 650 * time.Millisecond, HoldID: 8 * time.Second}
	for id, d := range want {
		a, err := s.Lookup("7", id)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Builtin || !a.Shared() || a.Duration != d || len(a.Payload(media.PCMU)) != int(d*8000/time.Second) {
			t.Errorf("%s: %+v", id, a)
		}
		if bytes.Equal(a.Payload(media.PCMU), bytes.Repeat([]byte{0xFF}, len(a.Payload(media.PCMU)))) {
			t.Errorf("%s is silence", id)
		}
		rc, _, err := s.WAV("7", id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		pcm, err := media.DecodeWAV(bytes.NewReader(b))
		if err != nil || pcm.Duration() != d || int64(len(b)) != a.Size {
			t.Errorf("%s as WAV: %v, %d bytes", id, err, len(b))
		}
		if err := s.Delete("7", id); !errors.Is(err, ErrReadOnly) {
			t.Errorf("delete %s: %v", id, err)
		}
	}
}

func TestSharedDir(t *testing.T) {
	shared := t.TempDir()
	os.WriteFile(filepath.Join(shared, "music.wav"), g711WAV(media.PCMU, 16000), 0o644)
	os.WriteFile(filepath.Join(shared, "ringback.wav"), pcmWAV(t, 800), 0o644) // replaces the built-in
	os.WriteFile(filepath.Join(shared, "README.txt"), []byte("not audio"), 0o644)
	os.Mkdir(filepath.Join(shared, "sub"), 0o755)

	s := newStore(t, Options{SharedDir: shared, Dir: t.TempDir(), Hold: "music.wav"})
	if s.HoldID() != "music.wav" || s.Hold().Duration != 2*time.Second {
		t.Fatalf("hold %q", s.HoldID())
	}
	for _, tenant := range []string{"7", "8"} {
		a, err := s.Lookup(tenant, "music.wav")
		if err != nil || !a.Shared() || a.Builtin {
			t.Errorf("tenant %s: %v %v", tenant, a, err)
		}
	}
	if a, _ := s.Lookup("7", RingbackID); a.Builtin || a.Duration != 100*time.Millisecond {
		t.Error("the shared directory's ringback.wav does not replace the built-in")
	}
	if err := s.Delete("7", "music.wav"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("delete shared: %v", err)
	}
	if _, err := s.Add("7", Upload{ID: "music.wav"}, bytes.NewReader(pcmWAV(t, 80))); !errors.Is(err, ErrExists) {
		t.Errorf("upload over shared: %v", err)
	}
	list, _ := s.List("7")
	if ids := idsOf(list); !slices.Equal(ids, []string{BeepID, HoldID, "music.wav", RingbackID}) {
		t.Errorf("list %v", ids)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		shared map[string][]byte
		upload map[string][]byte // tenant/id
		hold   string
		want   string
	}{
		{"broken shared file", map[string][]byte{"bad.wav": rawWAV(1, 2, 8000, 16, make([]byte, 8))}, nil, "", "bad.wav"},
		{"shared file named badly", map[string][]byte{"My Prompt.wav": pcmWAV(t, 80)}, nil, "", "My Prompt.wav"},
		{"shared file in upper case", map[string][]byte{"X.WAV": pcmWAV(t, 80)}, nil, "", "X.WAV"},
		{"broken upload", nil, map[string][]byte{"7/x.wav": []byte("RIFF")}, "", "x.wav"},
		{"unknown hold", nil, nil, "nosuch.wav", `hold announcement "nosuch.wav"`},
		{"hold that is an upload", nil, map[string][]byte{"7/mine.wav": pcmWAV(t, 80)}, "mine.wav", "not a shared announcement"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shared, dir := t.TempDir(), t.TempDir()
			for name, b := range tc.shared {
				os.WriteFile(filepath.Join(shared, name), b, 0o644)
			}
			for name, b := range tc.upload {
				os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
				os.WriteFile(filepath.Join(dir, name), b, 0o644)
			}
			_, err := New(Options{SharedDir: shared, Dir: dir, Hold: tc.hold})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := New(Options{SharedDir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("a missing shared directory is accepted")
	}
}

func TestLimitPerTenant(t *testing.T) {
	s := newStore(t, Options{MaxPerTenant: 2})
	for i := range 2 {
		if _, err := s.Add("7", Upload{ID: fmt.Sprintf("a%d.wav", i)}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add("7", Upload{}, bytes.NewReader(pcmWAV(t, 80))); !errors.Is(err, ErrLimit) {
		t.Fatalf("third: %v", err)
	}
	if _, err := s.Add("8", Upload{}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	if err := s.Delete("7", "a0.wav"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("7", Upload{}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}

// TestTwoNodesShareADirectory: what one node does to the shared upload
// directory, the other sees.
func TestTwoNodesShareADirectory(t *testing.T) {
	dir := t.TempDir()
	a, b := newStore(t, Options{Dir: dir}), newStore(t, Options{Dir: dir})
	if _, err := a.Add("7", Upload{ID: "x.wav", Name: "first"}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatal(err)
	}
	got, err := b.Lookup("7", "x.wav")
	if err != nil || got.Name != "first" || got.Duration != 10*time.Millisecond {
		t.Fatalf("b sees %v %v", got, err)
	}
	if list, _ := b.List("7"); !slices.Contains(idsOf(list), "x.wav") {
		t.Error("b does not list it")
	}
	if _, err := b.Add("7", Upload{ID: "x.wav"}, bytes.NewReader(pcmWAV(t, 80))); !errors.Is(err, ErrExists) {
		t.Errorf("b uploads the same id: %v", err)
	}
	// Deleted and uploaded again, longer, by b: a follows.
	if err := b.Delete("7", "x.wav"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lookup("7", "x.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a after b deleted: %v", err)
	}
	if _, err := a.Add("7", Upload{ID: "y.wav"}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
		t.Fatal(err)
	}
	b.Lookup("7", "y.wav")
	if err := a.Delete("7", "y.wav"); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.List("7"); slices.Contains(idsOf(list), "y.wav") {
		t.Error("b lists what a deleted")
	}
	if err := b.Delete("7", "y.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("b deletes what a deleted: %v", err)
	}
}

// TestSameIDRace: of concurrent uploads of one id, on one node or two
// sharing a directory, exactly one wins.
func TestSameIDRace(t *testing.T) {
	dir := t.TempDir()
	nodes := []*Store{newStore(t, Options{Dir: dir}), newStore(t, Options{Dir: dir})}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := nodes[i%2].Add("7", Upload{ID: "race.wav"}, bytes.NewReader(pcmWAV(t, 80+i)))
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, ErrExists):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d uploads won", wins)
	}
}

// TestConcurrentUse runs uploads, look-ups, listings and deletions at
// once (for the race detector).
func TestConcurrentUse(t *testing.T) {
	s := newStore(t, Options{Dir: t.TempDir()})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprint(w % 2)
			for i := range 10 {
				id := fmt.Sprintf("w%d_%d.wav", w, i)
				if _, err := s.Add(tenant, Upload{ID: id}, bytes.NewReader(pcmWAV(t, 80))); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Lookup(tenant, id); err != nil {
					t.Error(err)
				}
				if _, err := s.List(tenant); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := s.Delete(tenant, id); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, tenant := range []string{"0", "1"} {
		list, _ := s.List(tenant)
		if n := len(list) - len(builtins); n != 20 {
			t.Errorf("tenant %s keeps %d uploads, want 20", tenant, n)
		}
	}
}
