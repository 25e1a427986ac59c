package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/waent/waent"
)

func (h *Handler) getAbout(w http.ResponseWriter, r *http.Request) {
	text, err := h.c.About(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, map[string]any{"settings": map[string]any{"profile": map[string]any{
		"about": map[string]string{"text": text}}}})
}

func (h *Handler) setAbout(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Text *string `json:"text"`
	}
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if b.Text == nil {
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'text'"))
		return
	}
	if err := h.c.SetAbout(r.Context(), *b.Text); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

// getPhoto serves the profile photo as a JPEG attachment, or with
// ?format=link a URL of this same endpoint (which needs the same admin
// token: there is no separate public media host).
func (h *Handler) getPhoto(w http.ResponseWriter, r *http.Request) {
	jpg, err := h.c.ProfilePhoto(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "link" {
		h.respond(w, http.StatusOK, map[string]any{"settings": map[string]any{"profile": map[string]any{
			"photo": map[string]string{"link": h.selfURL(r, "/v1/settings/profile/photo")}}}})
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Disposition", `attachment; filename="profilePicture.jpg"`)
	w.Header().Set("Content-Length", fmt.Sprint(len(jpg)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(jpg)
}

// selfURL is the absolute URL of path on this handler as the client
// reached it. Behind a proxy it trusts X-Forwarded-Proto for the scheme;
// a prefix stripped before the handler (http.StripPrefix) is not known.
func (h *Handler) selfURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + h.opts.Prefix + path
}

// setPhoto takes the image as the raw body or, as the Postman collection
// sends it, a multipart form field "File": 201, 1008 "No data found" when
// empty, 1009 when too large or not a JPEG/PNG.
func (h *Handler) setPhoto(w http.ResponseWriter, r *http.Request) {
	// The multipart envelope adds a little to the photo itself.
	limit := min(h.opts.MaxMediaBytes, int64(waent.MaxProfilePhotoBytes)+64<<10)
	body := http.MaxBytesReader(w, r.Body, limit)
	var data []byte
	var err error
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		data, err = multipartFile(body, params["boundary"])
	} else {
		data, err = io.ReadAll(body)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = waent.NewError(waent.CodeInvalidParameter, fmt.Sprintf("Request content exceeds size of %d bytes", limit))
		}
		h.fail(w, r, err)
		return
	}
	if err := h.c.SetProfilePhoto(r.Context(), data); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, nil)
}

// multipartFile reads the form field "File" (any case) of a multipart
// body; a form without it reads as no data.
func multipartFile(body io.Reader, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, waent.NewError(waent.CodeInvalidRequest, "Unable to decode the request: multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, err
			}
			return nil, waent.NewError(waent.CodeInvalidRequest, "Unable to decode the request: "+err.Error())
		}
		if strings.EqualFold(p.FormName(), "file") {
			return io.ReadAll(p)
		}
	}
}

func (h *Handler) deletePhoto(w http.ResponseWriter, r *http.Request) {
	if err := h.c.DeleteProfilePhoto(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

func (h *Handler) getBusinessProfile(w http.ResponseWriter, r *http.Request) {
	p, err := h.c.BusinessProfile(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, map[string]any{"settings": map[string]any{"business": map[string]any{"profile": p}}})
}

// setBusinessProfile is a partial update (as from v2.23).
func (h *Handler) setBusinessProfile(w http.ResponseWriter, r *http.Request) {
	var u waent.BusinessProfileUpdate
	if err := h.decodeJSON(w, r, &u, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.c.SetBusinessProfile(r.Context(), u); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

func (h *Handler) setPIN(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Pin string `json:"pin"`
	}
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.c.SetTwoStepPIN(r.Context(), b.Pin); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

func (h *Handler) deletePIN(w http.ResponseWriter, r *http.Request) {
	if err := h.c.DisableTwoStep(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
