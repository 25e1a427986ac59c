package store

import (
	"context"
	"time"
)

// TemplateStatus is the review state of a message template.
type TemplateStatus string

// Template statuses.
const (
	TemplateApproved TemplateStatus = "approved"
	TemplatePaused   TemplateStatus = "paused"
	TemplateDisabled TemplateStatus = "disabled"
	TemplateRejected TemplateStatus = "rejected"
	TemplatePending  TemplateStatus = "pending"
)

// Valid reports whether s is a defined status.
func (s TemplateStatus) Valid() bool {
	switch s {
	case TemplateApproved, TemplatePaused, TemplateDisabled, TemplateRejected, TemplatePending:
		return true
	}
	return false
}

// TemplateKey names one translation of a template.
type TemplateKey struct {
	Namespace string
	Name      string
	Language  string
}

// Template is one translation of a message template as cached from the
// catalogue. Components is its JSON (header, body, footer, buttons).
type Template struct {
	TemplateKey
	Category   string
	Status     TemplateStatus
	Components []byte
	UpdatedAt  time.Time
}

// Validate reports whether t can be stored.
func (t Template) Validate() error {
	if t.Namespace == "" || len(t.Namespace) > 128 || t.Name == "" || len(t.Name) > 512 || t.Language == "" || len(t.Language) > 16 {
		return Invalidf("template: namespace (1..128), name (1..512) and language (1..16) are required")
	}
	if !t.Status.Valid() {
		return Invalidf("template %s/%s/%s: unknown status %q", t.Namespace, t.Name, t.Language, t.Status)
	}
	return nil
}

// TemplateFilter narrows ListTemplates; empty fields match everything.
type TemplateFilter struct {
	Namespace string
	Name      string
}

// TemplateStore caches the template catalogue.
type TemplateStore interface {
	// PutTemplates creates or replaces templates by key, in one batch.
	PutTemplates(ctx context.Context, ts []Template) error
	GetTemplate(ctx context.Context, key TemplateKey) (Template, error)
	// ListTemplates returns matching templates ordered by namespace, name
	// and language.
	ListTemplates(ctx context.Context, f TemplateFilter) ([]Template, error)
	DeleteTemplate(ctx context.Context, key TemplateKey) error
}
