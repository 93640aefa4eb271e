package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/media/announce"
)

// Announcements is what the API needs of the announcement store
// (*announce.Store): the management routes (/v1/announcements) and the
// click-to-call checks of ringTone and alertAudio.
type Announcements interface {
	// Lookup returns tenant's announcement id, its own or a shared one;
	// announce.ErrNotFound when there is none.
	Lookup(tenant, id string) (*announce.Announcement, error)
	// List returns tenant's own and the shared announcements, by id.
	List(tenant string) ([]*announce.Announcement, error)
	// Add stores a WAV file read from audio as tenant's announcement.
	Add(tenant string, up announce.Upload, audio io.Reader) (*announce.Announcement, error)
	// Delete removes tenant's own announcement id.
	Delete(tenant, id string) error
	// WAV opens tenant's announcement id as a WAV file.
	WAV(tenant, id string) (io.ReadSeekCloser, *announce.Announcement, error)
	// MaxBytes bounds an uploaded file.
	MaxBytes() int64
	// HoldID is the id of the default hold announcement.
	HoldID() string
}

var _ Announcements = (*announce.Store)(nil)

// multipartSlack is what a multipart upload may carry beyond the file:
// boundaries, part headers, the id and name fields.
const multipartSlack = 64 << 10

// maxFieldBytes bounds the id and name fields of a multipart upload.
const maxFieldBytes = 1 << 10

// wavTypes are the Content-Types of a raw WAV upload ("" is taken as one
// too).
var wavTypes = map[string]bool{
	"audio/wav": true, "audio/x-wav": true, "audio/wave": true, "audio/vnd.wave": true,
	"application/octet-stream": true,
}

// announcementView is an announcement as the API returns it.
type announcementView struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id,omitempty"`
	Name       string    `json:"name"`
	Shared     bool      `json:"shared"`
	Builtin    bool      `json:"builtin,omitempty"`
	Hold       bool      `json:"hold,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Size       int64     `json:"size"`
	CreatedAt  time.Time `json:"created_at"`
}

func (s *Server) announcementView(a *announce.Announcement) announcementView {
	return announcementView{
		ID: a.ID, UserID: a.Tenant, Name: a.Name, Shared: a.Shared(), Builtin: a.Builtin,
		Hold:       a.Shared() && a.ID == s.ann.HoldID(),
		DurationMS: a.Duration.Milliseconds(), Size: a.Size, CreatedAt: a.Created,
	}
}

// announcementRoutes wires /v1/announcements, under HTTP Basic like the
// rest of /v1.
func (s *Server) announcementRoutes(mux *http.ServeMux) {
	m := func(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return s.authed(s.withAnnouncements(h))
	}
	mux.HandleFunc("POST /v1/announcements", m(s.uploadAnnouncement))
	mux.HandleFunc("GET /v1/announcements", m(s.listAnnouncements))
	mux.HandleFunc("GET /v1/announcements/{id}", m(s.getAnnouncement))
	mux.HandleFunc("GET /v1/announcements/{id}/audio", m(s.announcementAudio))
	mux.HandleFunc("DELETE /v1/announcements/{id}", m(s.deleteAnnouncement))
}

// withAnnouncements answers 501 when the server has no announcement
// store.
func (s *Server) withAnnouncements(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, tenant string) {
		if s.ann == nil {
			writeV1Error(w, http.StatusNotImplemented, "not_configured",
				"announcement management needs an announcement store, and this server has none configured")
			return
		}
		h(w, r, tenant)
	}
}

// announcementFailure answers a refusal of the store with its status and
// code, and anything else with a logged 503.
func (s *Server) announcementFailure(w http.ResponseWriter, what, tenant string, err error) {
	msg := err.Error()
	var e *announce.Error
	if errors.As(err, &e) {
		msg = e.Msg
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, announce.ErrNotFound):
		writeV1Error(w, http.StatusNotFound, "not_found", "no such announcement")
	case errors.Is(err, announce.ErrInvalidID), errors.Is(err, announce.ErrInvalidName):
		writeV1Error(w, http.StatusBadRequest, "invalid_value", msg)
	case errors.Is(err, announce.ErrExists):
		writeV1Error(w, http.StatusConflict, "exists", msg)
	case errors.Is(err, announce.ErrLimit):
		writeV1Error(w, http.StatusConflict, "limit_reached", msg)
	case errors.Is(err, announce.ErrReadOnly):
		writeV1Error(w, http.StatusForbidden, "read_only", msg)
	case errors.Is(err, announce.ErrTooLarge), errors.As(err, &mbe):
		s.tooLarge(w)
	case errors.Is(err, announce.ErrBadAudio):
		writeV1Error(w, http.StatusBadRequest, "invalid_audio", msg)
	case errors.Is(err, announce.ErrRead):
		writeV1Error(w, http.StatusBadRequest, "read_failed", msg)
	default:
		s.log.Error(what+" failed", "user_id", tenant, "err", err)
		w.Header().Set("Retry-After", "5")
		writeV1Error(w, http.StatusServiceUnavailable, "1501", specMessages["1501"]+": the announcement store is unavailable; retry")
	}
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	writeV1Error(w, http.StatusRequestEntityTooLarge, "body_too_large",
		"the file is larger than the "+byteCount(s.ann.MaxBytes())+" an announcement may be")
}

// uploadAnnouncement serves POST /v1/announcements: the WAV file as the
// body (Content-Type audio/wav or application/octet-stream), or as the
// file part of a multipart/form-data body. id and name come from the
// query string or, in a multipart body, from fields of those names.
func (s *Server) uploadAnnouncement(w http.ResponseWriter, r *http.Request, tenant string) {
	var up announce.Upload
	for k, vals := range r.URL.Query() {
		switch {
		case k != "id" && k != "name":
			writeV1Error(w, http.StatusBadRequest, "unknown_parameter", "unknown parameter "+quoteKey(k)+": give id and name, or neither")
			return
		case len(vals) != 1:
			writeV1Error(w, http.StatusBadRequest, "invalid_value", k+" is given more than once")
			return
		case k == "id":
			up.ID = vals[0]
		default:
			up.Name = vals[0]
		}
	}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Header.Get("Content-Type") == "" {
		ct, err = "", nil
	}
	if err != nil {
		writeV1Error(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the Content-Type header cannot be read: "+err.Error())
		return
	}
	maxBytes := s.ann.MaxBytes()
	multipart := ct == "multipart/form-data"
	limit := maxBytes
	if multipart {
		limit += multipartSlack
	}
	if r.ContentLength > limit {
		s.tooLarge(w)
		return
	}
	// Beyond the limit the body is not read: the server closes the
	// connection after the answer.
	r.Body = http.MaxBytesReader(w, r.Body, limit+1)
	var audio io.Reader = r.Body
	switch {
	case multipart:
		if params["boundary"] == "" {
			writeV1Error(w, http.StatusBadRequest, "read_failed", "the multipart body has no boundary")
			return
		}
		file, jerr := readMultipartUpload(r, &up, maxBytes)
		if jerr != nil {
			writeJSONError(w, jerr)
			return
		}
		audio = bytes.NewReader(file)
	case ct == "" || wavTypes[ct]:
	default:
		writeV1Error(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the WAV file as the body with Content-Type: audio/wav, or as the file part of a multipart/form-data body; not "+quoteKey(ct))
		return
	}
	a, err := s.ann.Add(tenant, up, audio)
	if err != nil {
		s.announcementFailure(w, "upload announcement", tenant, err)
		return
	}
	s.log.Info("announcement uploaded", "user_id", tenant, "id", a.ID, "bytes", a.Size, "duration", a.Duration.String())
	w.Header().Set("Location", "/v1/announcements/"+a.ID)
	writeJSON(w, http.StatusCreated, s.announcementView(a))
}

// readMultipartUpload reads a multipart/form-data upload: one file part
// (named "file", or any part with a file name) and optional id and name
// fields, which must agree with the query string when both give one.
// When name is given nowhere, the file part's file name is the name.
func readMultipartUpload(r *http.Request, up *announce.Upload, maxBytes int64) ([]byte, *jsonError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &jsonError{http.StatusBadRequest, "read_failed", "the multipart body cannot be read: " + err.Error()}
	}
	var (
		file     []byte
		haveFile bool
		fileName string
		fields   = map[string]bool{}
	)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, multipartFailure(err)
		}
		switch name := p.FormName(); {
		case name == "file" || p.FileName() != "":
			if haveFile {
				return nil, invalid("the multipart body holds more than one file: upload one announcement at a time")
			}
			haveFile, fileName = true, p.FileName()
			file, err = io.ReadAll(io.LimitReader(p, maxBytes+1))
			if err != nil {
				return nil, multipartFailure(err)
			}
			if int64(len(file)) > maxBytes {
				return nil, &jsonError{http.StatusRequestEntityTooLarge, "body_too_large", "the file is larger than the " + byteCount(maxBytes) + " an announcement may be"}
			}
		case name == "id" || name == "name":
			if fields[name] {
				return nil, invalid(name + " is given more than once")
			}
			fields[name] = true
			b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
			if err != nil {
				return nil, multipartFailure(err)
			}
			if len(b) > maxFieldBytes {
				return nil, invalid(name + " is too long")
			}
			dst := &up.ID
			if name == "name" {
				dst = &up.Name
			}
			if *dst != "" && *dst != string(b) {
				return nil, invalid(name + " is given in the query string and the body with different values")
			}
			*dst = string(b)
		default:
			return nil, &jsonError{http.StatusBadRequest, "unknown_parameter", "unknown form field " + quoteKey(name) + ": give file, and optionally id and name"}
		}
	}
	if !haveFile {
		return nil, invalid("the multipart body has no file part: send the WAV file as the part named file")
	}
	if up.Name == "" && utf8.ValidString(fileName) && utf8.RuneCountInString(fileName) <= announce.MaxNameLen &&
		!strings.ContainsFunc(fileName, func(r rune) bool { return r < 0x20 || r == 0x7F }) {
		up.Name = fileName
	}
	return file, nil
}

func multipartFailure(err error) *jsonError {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return &jsonError{http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large"}
	}
	return &jsonError{http.StatusBadRequest, "read_failed", "the multipart body cannot be read: " + err.Error()}
}

// listAnnouncements serves GET /v1/announcements.
func (s *Server) listAnnouncements(w http.ResponseWriter, _ *http.Request, tenant string) {
	list, err := s.ann.List(tenant)
	if err != nil {
		s.announcementFailure(w, "list announcements", tenant, err)
		return
	}
	views := make([]announcementView, len(list))
	for i, a := range list {
		views[i] = s.announcementView(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"announcements": views})
}

// getAnnouncement serves GET /v1/announcements/{id}.
func (s *Server) getAnnouncement(w http.ResponseWriter, r *http.Request, tenant string) {
	a, err := s.ann.Lookup(tenant, r.PathValue("id"))
	if err != nil {
		s.announcementFailure(w, "get announcement", tenant, err)
		return
	}
	writeJSON(w, http.StatusOK, s.announcementView(a))
}

// announcementAudio serves GET /v1/announcements/{id}/audio: the WAV
// file, with Range and If-Modified-Since as net/http serves files.
func (s *Server) announcementAudio(w http.ResponseWriter, r *http.Request, tenant string) {
	f, a, err := s.ann.WAV(tenant, r.PathValue("id"))
	if err != nil {
		s.announcementFailure(w, "read announcement", tenant, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Disposition", `attachment; filename="`+a.ID+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, a.ID, a.Created, f)
}

// deleteAnnouncement serves DELETE /v1/announcements/{id}.
func (s *Server) deleteAnnouncement(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("id")
	if err := s.ann.Delete(tenant, id); err != nil {
		s.announcementFailure(w, "delete announcement", tenant, err)
		return
	}
	s.log.Info("announcement deleted", "user_id", tenant, "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// announcementDirectory answers the click-to-call announcement checks
// (ringTone 1535, alertAudio 1546) from the announcement store, and
// everything else from the Directory it wraps.
type announcementDirectory struct {
	Directory
	ann Announcements
}

// Announcement: the tenant's own upload or a shared announcement. An id
// the store cannot hold (not ending in .wav, say) is unknown; a store
// that fails is an error (1501).
func (d announcementDirectory) Announcement(_ context.Context, tenant, id string) (bool, error) {
	_, err := d.ann.Lookup(tenant, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, announce.ErrNotFound):
		return false, nil
	}
	return false, err
}

// byteCount writes n bytes for a message: "10 MiB", "64 KiB", "1000 bytes".
func byteCount(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
