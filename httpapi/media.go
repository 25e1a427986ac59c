package httpapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/waent/waent"
)

// limitText words an upload limit as On-Premises did ("100 MB").
func limitText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// uploadMedia is POST /v1/media: the raw body, typed by Content-Type,
// streamed into the media store (never read whole). 201 with the new id.
func (h *Handler) uploadMedia(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Content-Type missing"))
		return
	}
	limit := h.opts.MaxMediaBytes
	tooBig := waent.NewError(waent.CodeInvalidParameter, "Request content exceeds size of "+limitText(limit))
	// A declared length over the limit is refused before a byte is stored.
	if r.ContentLength > limit {
		h.fail(w, r, tooBig)
		return
	}
	id, err := h.c.UploadMedia(r.Context(), ct, http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = tooBig
		}
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, map[string]any{"media": []map[string]string{{"id": id}}})
}

// downloadMedia is GET /v1/media/{media_id}: the bytes as an attachment
// with their stored MIME type. A seekable file (the filesystem store's)
// goes through http.ServeContent, which adds ranges and conditional
// requests; anything else is copied as it is read.
func (h *Handler) downloadMedia(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	m, rc, err := h.c.OpenMedia(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	hd := w.Header()
	hd.Set("Content-Type", m.MimeType)
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": downloadName(m.ID, m.Filename, m.MimeType)}))
	hd.Set("X-Content-Type-Options", "nosniff")
	if len(m.SHA256) > 0 {
		hd.Set("ETag", `"`+hex.EncodeToString(m.SHA256)+`"`)
	}
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", m.CreatedAt, rs)
		return
	}
	hd.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil {
		// The status is out; all that is left is to say why the body
		// stopped short.
		h.log.Warn("httpapi: media download interrupted", "id", id, "err", err)
	}
}

// downloadName is the file name a download suggests: the stored one, or
// the id with an extension for the media types WhatsApp sends.
func downloadName(id, filename, mimeType string) string {
	if filename != "" {
		return filename
	}
	mt, _, _ := mime.ParseMediaType(mimeType)
	ext := map[string]string{
		"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
		"audio/aac": ".aac", "audio/mp4": ".m4a", "audio/amr": ".amr", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
		"video/mp4": ".mp4", "video/3gpp": ".3gp", "application/pdf": ".pdf",
	}[mt]
	return id + ext
}

// deleteMedia is DELETE /v1/media/{media_id}: 200 with the bare meta.
func (h *Handler) deleteMedia(w http.ResponseWriter, r *http.Request) {
	if err := h.c.DeleteMedia(r.Context(), r.PathValue("media_id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
