package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/announce"
)

func TestAnnouncementsConfig(t *testing.T) {
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join("..", "..", "configs", "switchboard.example.yaml")); err != nil {
		t.Fatal(err)
	}
	a := cfg.Announcements
	if a.Hold != announce.HoldID || a.MaxUploadBytes != 10<<20 || a.MaxDuration.Duration != 10*time.Minute || a.MaxPerTenant != 500 {
		t.Fatalf("example announcements read as %+v", a)
	}

	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("announcements:\n  dir: /var/lib/switchboard/announcements\n  max_duration: 90s\n"), 0o600)
	cfg = defaultConfig()
	if err := loadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SWITCHBOARD_ANNOUNCEMENTS_DIR":              "/srv/announcements",
		"SWITCHBOARD_ANNOUNCEMENTS_SHARED_DIR":       "/srv/shared",
		"SWITCHBOARD_ANNOUNCEMENTS_HOLD":             "music.wav",
		"SWITCHBOARD_ANNOUNCEMENTS_MAX_UPLOAD_BYTES": "2048",
		"SWITCHBOARD_ANNOUNCEMENTS_MAX_PER_TENANT":   "-1",
	}
	if err := applyEnv(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := AnnouncementsConfig{Dir: "/srv/announcements", SharedDir: "/srv/shared", Hold: "music.wav", MaxUploadBytes: 2048, MaxDuration: Duration{90 * time.Second}, MaxPerTenant: -1}
	if cfg.Announcements != want {
		t.Fatalf("got %+v, want %+v", cfg.Announcements, want)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAnnouncements(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	shared, dir := t.TempDir(), t.TempDir()
	var wav bytes.Buffer
	media.EncodeWAV(&wav, 1, make([]int16, 800))
	os.WriteFile(filepath.Join(shared, "music.wav"), wav.Bytes(), 0o644)

	c := defaultConfig().Announcements
	c.Dir, c.SharedDir, c.Hold = dir, shared, "music.wav"
	ann, err := openAnnouncements(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if ann.HoldID() != "music.wav" || ann.MaxBytes() != 10<<20 {
		t.Fatalf("hold %q, max %d", ann.HoldID(), ann.MaxBytes())
	}
	if _, err := ann.Add("1", announce.Upload{ID: "kept.wav"}, bytes.NewReader(wav.Bytes())); err != nil {
		t.Fatal(err)
	}
	// A restart finds the upload.
	ann, err = openAnnouncements(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ann.Lookup("1", "kept.wav"); err != nil {
		t.Fatalf("after restart: %v", err)
	}

	// An unknown hold stops the start, naming the setting's value.
	c.Hold = "nosuch.wav"
	if _, err := openAnnouncements(c, log); err == nil || !strings.Contains(err.Error(), `hold announcement "nosuch.wav"`) {
		t.Fatalf("unknown hold: %v", err)
	}
	// So does a broken file in the shared directory.
	c.Hold = ""
	os.WriteFile(filepath.Join(shared, "broken.wav"), []byte("RIFF....WAVE"), 0o644)
	if _, err := openAnnouncements(c, log); err == nil || !strings.Contains(err.Error(), "broken.wav") {
		t.Fatalf("broken shared file: %v", err)
	}
}
