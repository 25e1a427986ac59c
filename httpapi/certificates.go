package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/waent/waent"
)

// readPEM reads a text/plain certificate upload, bounded by MaxBodyBytes.
func (h *Handler) readPEM(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, waent.NewError(waent.CodeInvalidParameter, fmt.Sprintf("Request content exceeds size of %d bytes", h.opts.MaxBodyBytes))
		}
		return nil, waent.NewError(waent.CodeInvalidRequest, "Unable to read the request: "+err.Error())
	}
	return b, nil
}

// servePEM writes a certificate as text/plain, or a bare 404 when there
// is none, as On-Premises did.
func (h *Handler) servePEM(w http.ResponseWriter, r *http.Request, pem []byte, err error) {
	var we *waent.Error
	if errors.As(err, &we) && we.Code == waent.CodeResourceNotFound {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pem)
}

// setExternalCert stores the webapp's certificate (key, certificate,
// intermediates). Whoever serves HTTPS for this handler picks it up with
// Client.ExternalCert; this handler does not terminate TLS itself.
func (h *Handler) setExternalCert(w http.ResponseWriter, r *http.Request) {
	b, err := h.readPEM(w, r)
	if err == nil {
		err = h.c.SetExternalCert(r.Context(), b)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, nil)
}

func (h *Handler) getExternalCA(w http.ResponseWriter, r *http.Request) {
	pem, err := h.c.ExternalCA(r.Context())
	h.servePEM(w, r, pem, err)
}

func (h *Handler) getWebhookCA(w http.ResponseWriter, r *http.Request) {
	pem, err := h.c.WebhookCA(r.Context())
	h.servePEM(w, r, pem, err)
}

func (h *Handler) setWebhookCA(w http.ResponseWriter, r *http.Request) {
	b, err := h.readPEM(w, r)
	if err == nil {
		err = h.c.SetWebhookCA(r.Context(), b)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, nil)
}

func (h *Handler) deleteWebhookCA(w http.ResponseWriter, r *http.Request) {
	if err := h.c.DeleteWebhookCA(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
