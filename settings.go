package waent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/waent/waent/store"
)

// Settings are the application settings the messaging core acts on
// (onprem-api.md §3.6). They live in the store as the "application"
// settings document; fields not set there take On-Premises defaults.
type Settings struct {
	// SentStatus is the legacy switch for "sent" status callbacks.
	SentStatus bool `json:"sent_status"`
	Webhooks   struct {
		URL string `json:"url,omitempty"`
		// MaxConcurrentRequests is 6, 12, 18 or 24; read at Start.
		MaxConcurrentRequests int `json:"max_concurrent_requests,omitempty"`
		Message               struct {
			Sent      *bool `json:"sent,omitempty"`
			Delivered *bool `json:"delivered,omitempty"`
			Read      *bool `json:"read,omitempty"`
		} `json:"message"`
	} `json:"webhooks"`
	ShowSecurityNotifications bool `json:"show_security_notifications"`
	// CallbackBackoffDelayMs and MaxCallbackBackoffDelayMs shape webhook
	// retries (On-Prem defaults 3000 and 900000); read at Start.
	CallbackBackoffDelayMs    int  `json:"callback_backoff_delay_ms,omitempty"`
	MaxCallbackBackoffDelayMs int  `json:"max_callback_backoff_delay_ms,omitempty"`
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
		mergeJSON(raw, mine)
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

// mergeJSON writes src into dst, object by object, so keys this package
// does not model (webhooks.max_concurrent_requests, say) survive an update
// of the ones it does.
func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		sub, isObj := v.(map[string]any)
		old, wasObj := dst[k].(map[string]any)
		if isObj && wasObj {
			mergeJSON(old, sub)
			continue
		}
		dst[k] = v
	}
}

// settingsRefresh is how often settings are re-read, so a change made by
// another instance on the same database takes effect here too.
const settingsRefresh = 10 * time.Second

// settingsLoop keeps the cached settings current until the Client closes.
func (c *Client) settingsLoop() {
	t := time.NewTicker(settingsRefresh)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		s, _, err := loadSettings(c.ctx, c.st)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("reload settings", "err", err)
			}
			continue
		}
		c.mu.Lock()
		c.settings = s
		c.mu.Unlock()
	}
}
