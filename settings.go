package waent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waent/waent/store"
)

// Settings are the application settings (onprem-api.md §3.6). They live in
// the store as the "application" settings document; fields not set there
// take On-Premises defaults (defaultSettings).
//
// Some settings only take effect when the Client starts, as On-Premises
// needed a coreapp restart for them: callback_persist, pass_through,
// db_garbagecollector_enable, webhooks.max_concurrent_requests, and here
// also the two callback backoff delays (the webhook dispatcher is built
// once, in Start).
type Settings struct {
	// SentStatus is the legacy switch for "sent" status callbacks;
	// Webhooks.Message.Sent, when set, takes precedence.
	SentStatus bool            `json:"sent_status"`
	Webhooks   WebhookSettings `json:"webhooks"`
	// CallbackPersist keeps callbacks in the database until the webhook
	// acknowledges them. Restart required.
	CallbackPersist bool `json:"callback_persist"`
	// CallbackBackoffDelayMs and MaxCallbackBackoffDelayMs shape webhook
	// retries: the delay grows linearly by the first and is capped by the
	// second (On-Prem defaults 3000 and 900000). Read at Start.
	CallbackBackoffDelayMs    int `json:"callback_backoff_delay_ms,omitempty"`
	MaxCallbackBackoffDelayMs int `json:"max_callback_backoff_delay_ms,omitempty"`
	// PassThrough drops messages from the local database once delivered
	// or read. Sources disagree on the default (Meta's docs: true; a mock:
	// false); we follow Meta. Restart required.
	PassThrough bool          `json:"pass_through"`
	Media       MediaSettings `json:"media"`
	// HeartbeatInterval and UnhealthyInterval (seconds) are the High
	// Availability master's timings; kept for compatibility, nothing in
	// this build acts on them.
	HeartbeatInterval int `json:"heartbeat_interval"`
	UnhealthyInterval int `json:"unhealthy_interval"`
	// OnCallPager is the wa_id or group id that was to receive critical
	// alerts (an old setting; stored, not acted on).
	OnCallPager               string `json:"on_call_pager,omitempty"`
	NotifyUserChangeNumber    bool   `json:"notify_user_change_number"`
	ShowSecurityNotifications bool   `json:"show_security_notifications"`
	// AxolotlContextStripingDisabled is stored for compatibility only.
	AxolotlContextStripingDisabled bool `json:"axolotl_context_striping_disabled"`
	// DBGarbageCollectorEnable is the older automatic message GC switch.
	// Restart required.
	DBGarbageCollectorEnable bool `json:"db_garbagecollector_enable"`
	// GarbageCollectorEnable is the later form of the GC switch.
	GarbageCollectorEnable GarbageCollectorSettings `json:"garbagecollector_enable"`
	// SkipReferralMediaDownload and
	// WebhookPayloadConversationPricingModelDisabled are known only from an
	// SDK; they are stored for the layers that want them.
	SkipReferralMediaDownload                      bool `json:"skip_referral_media_download"`
	WebhookPayloadConversationPricingModelDisabled bool `json:"webhook_payload_conversation_pricingmodel_disabled"`
	VerboseLogging                                 bool `json:"verbose_logging"`
	// LogLevel is one of debug, info, warn(ing), error.
	LogLevel string `json:"log_level"`
	// WAID is the registered number: read-only, filled by Client.Settings
	// from the account and never stored.
	WAID string `json:"wa_id,omitempty"`
}

// WebhookSettings are the webhooks.* settings.
type WebhookSettings struct {
	// URL must be HTTPS, as On-Premises required.
	URL string `json:"url,omitempty"`
	// MaxConcurrentRequests is 6, 12, 18 or 24. Restart required.
	MaxConcurrentRequests int                    `json:"max_concurrent_requests,omitempty"`
	Message               MessageWebhookSettings `json:"message"`
}

// MessageWebhookSettings switch the status callbacks one by one; nil means
// the default (sent follows sent_status, delivered and read are on).
type MessageWebhookSettings struct {
	Sent      *bool `json:"sent,omitempty"`
	Delivered *bool `json:"delivered,omitempty"`
	Read      *bool `json:"read,omitempty"`
}

// MediaSettings are the media.* settings. Providers are not here: they
// are managed through MediaProviders and kept in their own document, so
// that their credentials never show in the application settings.
type MediaSettings struct {
	// AutoDownload lists the inbound media types downloaded on arrival.
	AutoDownload []string `json:"auto_download"`
}

// GarbageCollectorSettings is garbagecollector_enable.
type GarbageCollectorSettings struct {
	Media    bool `json:"media"`
	Messages bool `json:"messages"`
}

// settingsDoc is the name of the application settings document.
const settingsDoc = "application"

// mediaTypes are the values of media.auto_download, in On-Premises order.
func mediaTypes() []string {
	return []string{"image", "video", "voice", "sticker", "audio", "document"}
}

func defaultSettings() Settings {
	s := Settings{
		CallbackPersist:           true,
		CallbackBackoffDelayMs:    3000,
		MaxCallbackBackoffDelayMs: 900000,
		PassThrough:               true,
		Media:                     MediaSettings{AutoDownload: mediaTypes()},
		HeartbeatInterval:         5,
		UnhealthyInterval:         30,
		NotifyUserChangeNumber:    true,
		DBGarbageCollectorEnable:  true,
		GarbageCollectorEnable:    GarbageCollectorSettings{Media: false, Messages: true},
		LogLevel:                  "info",
	}
	s.Webhooks.MaxConcurrentRequests = 6
	return s
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
	s.WAID = ""
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

// Effective returns s with webhooks.message.* resolved to the switches in
// effect, as GET /v1/settings/application shows them.
func (s Settings) Effective() Settings {
	b := func(v bool) *bool { return &v }
	s.Webhooks.Message = MessageWebhookSettings{
		Sent:      b(s.statusCallback(store.StatusSent)),
		Delivered: b(s.statusCallback(store.StatusDelivered)),
		Read:      b(s.statusCallback(store.StatusRead)),
	}
	s.Media.AutoDownload = slices.Clone(s.Media.AutoDownload)
	if s.Media.AutoDownload == nil {
		s.Media.AutoDownload = []string{}
	}
	return s
}

// clone copies what s shares by reference, so a caller's copy cannot
// change the Client's.
func (s Settings) clone() Settings {
	s.Media.AutoDownload = slices.Clone(s.Media.AutoDownload)
	cp := func(p *bool) *bool {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	m := &s.Webhooks.Message
	m.Sent, m.Delivered, m.Read = cp(m.Sent), cp(m.Delivered), cp(m.Read)
	return s
}

// Settings returns the application settings in effect, with WAID set to
// the registered number.
func (c *Client) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.settings.clone()
	s.WAID = c.acct.WAID
	return s
}

// UpdateSettings changes the application settings with fn and stores them,
// retrying when another instance changed them concurrently. It does not
// validate: PatchSettings is the checked way in.
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
		cur.WAID = "" // read-only, derived from the account
		b, err := json.Marshal(cur)
		if err != nil {
			return cur, err
		}
		var mine map[string]any
		_ = json.Unmarshal(b, &mine)
		pruneModelled(raw, modelledKeys(), mine)
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
		c.settings = cur.clone()
		c.settingsGen++
		cur.WAID = c.acct.WAID
		c.mu.Unlock()
		return cur, nil
	}
	return Settings{}, newError(CodeDatabase, "settings changed concurrently too often", nil)
}

// PatchSettings applies a PATCH /v1/settings/application body: a JSON
// object with any subset of the documented fields, nested objects merged
// key by key. Every value is checked before anything is stored; a bad one
// is 1009 "Parameter '<path>' has invalid value '<v>'", a body with no
// documented field is 1009 "No valid parameters provided", and a body
// mixing documented and unknown fields is 1009 naming the unknown one, so
// a typo is not silently dropped. wa_id is read-only and ignored.
func (c *Client) PatchSettings(ctx context.Context, patch json.RawMessage) (Settings, error) {
	top, err := jsonObject(patch)
	if err != nil {
		return Settings{}, newError(CodeInvalidParameter, "The settings must be a JSON object", nil)
	}
	var sets []func(*Settings) error
	var unknown []string
	var walk func(prefix string, obj map[string]json.RawMessage) error
	walk = func(prefix string, obj map[string]json.RawMessage) error {
		for _, k := range sortedKeys(obj) {
			path, raw := prefix+k, obj[k]
			if path == "wa_id" {
				continue
			}
			if set, ok := settingSetter(path); ok {
				// Validate now, against a scratch copy; apply later to
				// whatever is current inside the compare-and-swap loop.
				scratch := defaultSettings()
				if err := set(&scratch, raw); err != nil {
					return err
				}
				sets = append(sets, func(s *Settings) error { return set(s, raw) })
				continue
			}
			if isSettingObject(path) {
				sub, err := jsonObject(raw)
				if err != nil {
					return invalidSetting(path, raw)
				}
				if err := walk(path+".", sub); err != nil {
					return err
				}
				continue
			}
			unknown = append(unknown, path)
		}
		return nil
	}
	if err := walk("", top); err != nil {
		return Settings{}, err
	}
	if len(sets) == 0 {
		return Settings{}, newError(CodeInvalidParameter, "No valid parameters provided", nil)
	}
	if len(unknown) > 0 {
		return Settings{}, newError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s' is not a valid application setting", unknown[0]), nil)
	}
	var applyErr error
	s, err := c.UpdateSettings(ctx, func(s *Settings) {
		for _, set := range sets {
			if err := set(s); err != nil && applyErr == nil {
				applyErr = err
			}
		}
	})
	if err != nil {
		return s, err
	}
	return s, applyErr
}

// ResetSettings restores every application setting to its default
// (DELETE /v1/settings/application).
func (c *Client) ResetSettings(ctx context.Context) error {
	if err := c.st.DeleteSettings(ctx, settingsDoc); err != nil && !errors.Is(err, store.ErrNotFound) {
		return newError(CodeDatabase, "", err)
	}
	c.mu.Lock()
	c.settings = defaultSettings()
	c.settingsGen++
	c.mu.Unlock()
	return nil
}

// isSettingObject reports whether path names a nested object of the
// settings document.
func isSettingObject(path string) bool {
	switch path {
	case "webhooks", "webhooks.message", "media", "garbagecollector_enable":
		return true
	}
	return false
}

// settingSetter returns what decodes, checks and assigns the documented
// field at path.
func settingSetter(path string) (func(*Settings, json.RawMessage) error, bool) {
	b := func(field func(*Settings) *bool) func(*Settings, json.RawMessage) error {
		return boolSetting(path, field)
	}
	switch path {
	case "sent_status":
		return b(func(s *Settings) *bool { return &s.SentStatus }), true
	case "callback_persist":
		return b(func(s *Settings) *bool { return &s.CallbackPersist }), true
	case "pass_through":
		return b(func(s *Settings) *bool { return &s.PassThrough }), true
	case "notify_user_change_number":
		return b(func(s *Settings) *bool { return &s.NotifyUserChangeNumber }), true
	case "show_security_notifications":
		return b(func(s *Settings) *bool { return &s.ShowSecurityNotifications }), true
	case "axolotl_context_striping_disabled":
		return b(func(s *Settings) *bool { return &s.AxolotlContextStripingDisabled }), true
	case "db_garbagecollector_enable":
		return b(func(s *Settings) *bool { return &s.DBGarbageCollectorEnable }), true
	case "skip_referral_media_download":
		return b(func(s *Settings) *bool { return &s.SkipReferralMediaDownload }), true
	case "webhook_payload_conversation_pricingmodel_disabled":
		return b(func(s *Settings) *bool { return &s.WebhookPayloadConversationPricingModelDisabled }), true
	case "verbose_logging":
		return b(func(s *Settings) *bool { return &s.VerboseLogging }), true
	case "garbagecollector_enable.media":
		return b(func(s *Settings) *bool { return &s.GarbageCollectorEnable.Media }), true
	case "garbagecollector_enable.messages":
		return b(func(s *Settings) *bool { return &s.GarbageCollectorEnable.Messages }), true
	case "webhooks.message.sent":
		return optBoolSetting(path, func(s *Settings) **bool { return &s.Webhooks.Message.Sent }), true
	case "webhooks.message.delivered":
		return optBoolSetting(path, func(s *Settings) **bool { return &s.Webhooks.Message.Delivered }), true
	case "webhooks.message.read":
		return optBoolSetting(path, func(s *Settings) **bool { return &s.Webhooks.Message.Read }), true
	case "callback_backoff_delay_ms":
		return intSetting(path, 1, 86_400_000, func(s *Settings) *int { return &s.CallbackBackoffDelayMs }), true
	case "max_callback_backoff_delay_ms":
		return intSetting(path, 1, 86_400_000, func(s *Settings) *int { return &s.MaxCallbackBackoffDelayMs }), true
	case "heartbeat_interval":
		return intSetting(path, 1, 86_400, func(s *Settings) *int { return &s.HeartbeatInterval }), true
	case "unhealthy_interval":
		return intSetting(path, 1, 86_400, func(s *Settings) *int { return &s.UnhealthyInterval }), true
	case "webhooks.max_concurrent_requests":
		return func(s *Settings, raw json.RawMessage) error {
			n, err := intValue(raw)
			if err != nil || (n != 6 && n != 12 && n != 18 && n != 24) {
				return invalidSetting(path, raw)
			}
			s.Webhooks.MaxConcurrentRequests = n
			return nil
		}, true
	case "webhooks.url":
		return func(s *Settings, raw json.RawMessage) error {
			v, ok := stringOrNull(raw)
			if !ok || (v != "" && !validWebhookURL(v)) {
				return invalidSetting(path, raw)
			}
			s.Webhooks.URL = v
			return nil
		}, true
	case "media.auto_download":
		return func(s *Settings, raw json.RawMessage) error {
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil || list == nil {
				return invalidSetting(path, raw)
			}
			out := []string{}
			for _, t := range list {
				if !slices.Contains(mediaTypes(), t) {
					return invalidSetting(path, raw)
				}
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
			s.Media.AutoDownload = out
			return nil
		}, true
	case "on_call_pager":
		return func(s *Settings, raw json.RawMessage) error {
			v, ok := stringOrNull(raw)
			if !ok || (v != "" && !validPager(v)) {
				return invalidSetting(path, raw)
			}
			s.OnCallPager = v
			return nil
		}, true
	case "log_level":
		return func(s *Settings, raw json.RawMessage) error {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil || !slices.Contains([]string{"debug", "info", "warn", "warning", "error"}, v) {
				return invalidSetting(path, raw)
			}
			s.LogLevel = v
			return nil
		}, true
	}
	return nil, false
}

func boolSetting(path string, field func(*Settings) *bool) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		var v bool
		if !isJSONBool(raw) || json.Unmarshal(raw, &v) != nil {
			return invalidSetting(path, raw)
		}
		*field(s) = v
		return nil
	}
}

// optBoolSetting is a switch whose null means "back to the default".
func optBoolSetting(path string, field func(*Settings) **bool) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		if string(bytes.TrimSpace(raw)) == "null" {
			*field(s) = nil
			return nil
		}
		var v bool
		if !isJSONBool(raw) || json.Unmarshal(raw, &v) != nil {
			return invalidSetting(path, raw)
		}
		*field(s) = &v
		return nil
	}
}

func intSetting(path string, lo, hi int, field func(*Settings) *int) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		n, err := intValue(raw)
		if err != nil || n < lo || n > hi {
			return invalidSetting(path, raw)
		}
		*field(s) = n
		return nil
	}
}

func isJSONBool(raw json.RawMessage) bool {
	t := string(bytes.TrimSpace(raw))
	return t == "true" || t == "false"
}

// intValue reads an integer given as a JSON number or, as On-Premises
// accepted for the backoff delays, a string of digits.
func intValue(raw json.RawMessage) (int, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return 0, err
		}
		t = []byte(s)
	}
	n, err := strconv.ParseInt(string(t), 10, 32)
	return int(n), err
}

// stringOrNull reads a string; null reads as "" (clearing the field).
func stringOrNull(raw json.RawMessage) (string, bool) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return "", true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// validWebhookURL accepts absolute HTTPS URLs only: On-Premises did not
// call plain-HTTP webhooks, and there is no escape hatch here either (a
// test or sandbox that needs HTTP passes its own Config.Webhook sink).
func validWebhookURL(v string) bool {
	if len(v) > 2048 {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && strings.EqualFold(u.Scheme, "https") && u.Host != "" && u.Hostname() != ""
}

// validPager accepts a wa_id (digits) or a group id ("<digits>-<digits>").
func validPager(v string) bool {
	if len(v) > 64 {
		return false
	}
	a, b, group := strings.Cut(v, "-")
	return a != "" && digitsOnly(a) == a && (!group || (b != "" && digitsOnly(b) == b))
}

// invalidSetting is the old webapp's 1009 for a bad value; strings are
// quoted without their JSON quotes, as PHP printed them.
func invalidSetting(path string, raw json.RawMessage) error {
	v := string(bytes.TrimSpace(raw))
	var s string
	if strings.HasPrefix(v, `"`) && json.Unmarshal(raw, &s) == nil {
		v = s
	} else {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			v = buf.String()
		}
	}
	if len(v) > 100 {
		v = v[:100] + "…"
	}
	return newError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s' has invalid value '%s'", path, v), nil)
}

// jsonObject splits a JSON object into its members.
func jsonObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mergeJSON writes src into dst, object by object, so keys this build
// does not model (written by a newer one sharing the database) survive an
// update of the ones it does.
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

// modelledKeys is the shape of the settings document with every field
// present, omitempty ones included.
func modelledKeys() map[string]any {
	s := defaultSettings()
	t := true
	s.Webhooks.URL, s.OnCallPager, s.WAID = "x", "x", "x"
	s.Webhooks.Message = MessageWebhookSettings{Sent: &t, Delivered: &t, Read: &t}
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// pruneModelled deletes from dst the modelled keys that src leaves out
// (an emptied omitempty field), so the merge cannot resurrect an old
// value; keys nobody here models stay.
func pruneModelled(dst, modelled, src map[string]any) {
	for k, v := range modelled {
		sub, isObj := v.(map[string]any)
		d, dObj := dst[k].(map[string]any)
		s, sObj := src[k].(map[string]any)
		if isObj && dObj && sObj {
			pruneModelled(d, sub, s)
			continue
		}
		if _, ok := src[k]; !ok {
			delete(dst, k)
		}
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
		c.mu.Lock()
		gen := c.settingsGen
		c.mu.Unlock()
		s, _, err := loadSettings(c.ctx, c.st)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("reload settings", "err", err)
			}
			continue
		}
		c.mu.Lock()
		// A change made here while we read is newer than what we read.
		if c.settingsGen == gen {
			c.settings = s
		}
		c.mu.Unlock()
	}
}
