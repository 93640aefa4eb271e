package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/switchboard/switchboard/sip/asterisk"
)

// The backends a node drives its calls on (Config.Backend).
const (
	backendSIP = "sip" // the native SIP backend (package sip), the default
	backendARI = "ari" // an Asterisk through ARI (package sip/asterisk)
)

// ARIConfig configures the Asterisk backend (backend: ari).
type ARIConfig struct {
	// URL is the ARI REST base, such as http://127.0.0.1:8088/ari, without
	// credentials.
	URL string `yaml:"url"`
	// User and Password are an ARI user of Asterisk's ari.conf.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// App is the Stasis application (default switchboard); nodes sharing
	// one Asterisk each need their own.
	App string `yaml:"app"`
	// CallerID is presented when neither the request nor the trunk has one.
	CallerID string `yaml:"caller_id"`
	// RecordingFormat is the format Asterisk records bridges in (wav).
	RecordingFormat string `yaml:"recording_format"`
	// RequestTimeout bounds each ARI request (10s).
	RequestTimeout Duration `yaml:"request_timeout"`
	// ReconnectMin and ReconnectMax bound the jittered backoff between
	// attempts to reconnect the event WebSocket (250ms, 10s).
	ReconnectMin Duration `yaml:"reconnect_min"`
	ReconnectMax Duration `yaml:"reconnect_max"`
	// Trunks route the numbers dialed to Asterisk endpoints.
	Trunks []ARITrunk `yaml:"trunks"`
	// SoundsDir is a directory Asterisk can read, where every announcement
	// is written as an 8 kHz 16-bit PCM WAV for Asterisk to play; empty:
	// Asterisk plays "sound:<id without .wav>" from its own sounds.
	SoundsDir string `yaml:"sounds_dir"`
	// AsteriskSoundsDir is SoundsDir as Asterisk sees it, when it mounts
	// the directory elsewhere; default SoundsDir.
	AsteriskSoundsDir string `yaml:"asterisk_sounds_dir"`
}

// ARITrunk is where numbers are sent on Asterisk: an endpoint template.
type ARITrunk struct {
	Name string `yaml:"name"`
	// Endpoint such as "PJSIP/{number}@carrier" or "SIP/carrier/{number}".
	Endpoint string   `yaml:"endpoint"`
	Prefixes []string `yaml:"prefixes"`
	CallerID string   `yaml:"caller_id"`
}

// asteriskConfig is the backend's configuration (Media is set by the
// wiring, from the announcements).
func (c ARIConfig) asteriskConfig() asterisk.Config {
	ac := asterisk.Config{
		URL: c.URL, User: c.User, Password: c.Password, App: c.App,
		CallerID: c.CallerID, RecordingFormat: c.RecordingFormat,
		RequestTimeout: c.RequestTimeout.Duration,
		ReconnectMin:   c.ReconnectMin.Duration, ReconnectMax: c.ReconnectMax.Duration,
	}
	for _, t := range c.Trunks {
		ac.Trunks = append(ac.Trunks, asterisk.Trunk{Name: t.Name, Endpoint: t.Endpoint, Prefixes: t.Prefixes, CallerID: t.CallerID})
	}
	return ac
}

// app is the Stasis application, the default filled in.
func (c ARIConfig) app() string {
	if c.App == "" {
		return asterisk.DefaultApp
	}
	return c.App
}

// asteriskSoundsDir is where Asterisk finds SoundsDir.
func (c ARIConfig) asteriskSoundsDir() string {
	if c.AsteriskSoundsDir != "" {
		return filepath.Clean(c.AsteriskSoundsDir)
	}
	return filepath.Clean(c.SoundsDir)
}

// ariKeys name the YAML key of each of the backend's complaints, by how
// its message starts (after "asterisk: "); the first match wins.
var ariKeys = []struct{ prefix, key string }{
	{"URL", "ari.url"},
	{"password without user", "ari.user"},
	{"user ", "ari.user"},
	{"app ", "ari.app"},
	{"recording format", "ari.recording_format"},
	{"bad caller id", "ari.caller_id"},
	{"negative request timeout", "ari.request_timeout"},
	{"negative reconnect", "ari.reconnect_min/reconnect_max"},
	{"reconnect min", "ari.reconnect_min"},
	{"no trunks", "ari.trunks"},
	{"trunk ", "ari.trunks"},
	{"duplicate trunk", "ari.trunks"},
	{"prefix ", "ari.trunks"},
	{"more than one trunk", "ari.trunks"},
}

// validate checks the ari section: the backend's own checks
// (asterisk.Config.Validate, which never shows the password), each named
// by its key, and the sounds directories.
func (c ARIConfig) validate() []error {
	var errs []error
	if err := c.asteriskConfig().Validate(); err != nil {
		var each []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			each = j.Unwrap()
		} else {
			each = []error{err}
		}
		for _, e := range each {
			errs = append(errs, ariError(e))
		}
	}
	if c.SoundsDir != "" && !filepath.IsAbs(c.SoundsDir) {
		errs = append(errs, fmt.Errorf("ari.sounds_dir %q: use an absolute path (Asterisk plays files by absolute path)", c.SoundsDir))
	}
	if c.AsteriskSoundsDir != "" {
		switch {
		case c.SoundsDir == "":
			errs = append(errs, errors.New("ari.asterisk_sounds_dir is set without ari.sounds_dir"))
		case !filepath.IsAbs(c.AsteriskSoundsDir):
			errs = append(errs, fmt.Errorf("ari.asterisk_sounds_dir %q: use an absolute path", c.AsteriskSoundsDir))
		}
	}
	for _, d := range []string{c.SoundsDir, c.AsteriskSoundsDir} {
		// Asterisk's media URIs and dialplan arguments end at these.
		if strings.ContainsAny(d, " ,;&|\"'\t\r\n") {
			errs = append(errs, fmt.Errorf("ari: sounds directory %q: no spaces, quotes, ',', ';', '&' or '|'", d))
		}
	}
	return errs
}

// ariError names the key an error of asterisk.Config.Validate is about.
func ariError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "asterisk: ")
	for _, k := range ariKeys {
		if strings.HasPrefix(msg, k.prefix) {
			return fmt.Errorf("%s: %s", k.key, msg)
		}
	}
	return fmt.Errorf("ari: %s", msg)
}
