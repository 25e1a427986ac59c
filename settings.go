package waent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/waent/waent/store"
)

// Settings are the application settings the messaging core acts on
// (onprem-api.md §3.6). They live in the store as the "application"
// settings document; fields not set there take On-Premises defaults.
type Settings struct {
	// SentStatus is the legacy switch for "sent" status callbacks.
	SentStatus bool `json:"sent_status"`
	Webhooks   struct {
		URL     string `json:"url,omitempty"`
		Message struct {
			Sent      *bool `json:"sent,omitempty"`
			Delivered *bool `json:"delivered,omitempty"`
			Read      *bool `json:"read,omitempty"`
		} `json:"message"`
	} `json:"webhooks"`
	ShowSecurityNotifications bool `json:"show_security_notifications"`
	NotifyUserChangeNumber    bool `json:"notify_user_change_number"`
}

// settingsDoc is the name of the application settings document.
const settingsDoc = "application"

func defaultSettings() Settings {
	return Settings{NotifyUserChangeNumber: true}
}

func loadSettings(ctx context.Context, st store.SettingsStore) (Settings, int64, error) {
	s := defaultSettings()
	doc, err := st.GetSettings(ctx, settingsDoc)
	if errors.Is(err, store.ErrNotFound) {
		return s, 0, nil
	}
	if err != nil {
		return s, 0, err
	}
	if err := json.Unmarshal(doc.Value, &s); err != nil {
		return s, 0, fmt.Errorf("waent: application settings: %w", err)
	}
	return s, doc.Version, nil
}

// statusCallback reports whether a status change produces a callback.
// "sent" is off by default; webhooks.message.* override sent_status.
func (s Settings) statusCallback(status store.Status) bool {
	pick := func(p *bool, def bool) bool {
		if p != nil {
			return *p
		}
		return def
	}
	m := s.Webhooks.Message
	switch status {
	case store.StatusSent:
		return pick(m.Sent, s.SentStatus)
	case store.StatusDelivered:
		return pick(m.Delivered, true)
	case store.StatusRead:
		return pick(m.Read, true)
	}
	return true // failed, deleted: always reported
}

// Settings returns the application settings in effect.
func (c *Client) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings
}

// UpdateSettings changes the application settings with fn and stores them,
// retrying when another instance changed them concurrently.
func (c *Client) UpdateSettings(ctx context.Context, fn func(*Settings)) (Settings, error) {
	for range 10 {
		cur, version, err := loadSettings(ctx, c.st)
		if err != nil {
			return cur, newError(CodeDatabase, "", err)
		}
		// Keep fields this package does not model: merge into the raw
		// document.
		raw := map[string]any{}
		if version > 0 {
			doc, err := c.st.GetSettings(ctx, settingsDoc)
			if err == nil {
				_ = json.Unmarshal(doc.Value, &raw)
			}
		}
		fn(&cur)
		b, err := json.Marshal(cur)
		if err != nil {
			return cur, err
		}
		var mine map[string]any
		_ = json.Unmarshal(b, &mine)
		for k, v := range mine {
			raw[k] = v
		}
		b, _ = json.Marshal(raw)
		_, err = c.st.PutSettings(ctx, settingsDoc, b, version, c.now())
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return cur, newError(CodeDatabase, "", err)
		}
		c.mu.Lock()
		c.settings = cur
		c.mu.Unlock()
		return cur, nil
	}
	return Settings{}, newError(CodeDatabase, "settings changed concurrently too often", nil)
}
