package waent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/waent/waent/webhook"
)

// newWebhooks builds the dispatcher of the callback queue with the sink
// of the Config, or one that follows the webhooks.url setting.
func (c *Client) newWebhooks(s Settings) (*webhook.Dispatcher, error) {
	sink := c.cfg.Webhook
	if sink == nil {
		sink = &settingsSink{c: c}
	}
	cfg := webhook.Config{Store: c.st, Sink: sink, MaxConcurrent: s.Webhooks.MaxConcurrentRequests, Now: c.cfg.Now, Logger: c.log}
	if s.CallbackBackoffDelayMs > 0 {
		cfg.BackoffStep = time.Duration(s.CallbackBackoffDelayMs) * time.Millisecond
	}
	if s.MaxCallbackBackoffDelayMs > 0 {
		cfg.BackoffMax = time.Duration(s.MaxCallbackBackoffDelayMs) * time.Millisecond
	}
	d, err := webhook.New(cfg)
	if err != nil {
		return nil, newError(CodeInternal, "webhooks", err)
	}
	return d, nil
}

// kickWebhooks tells the dispatcher new callbacks are committed.
func (c *Client) kickWebhooks() {
	c.mu.Lock()
	h := c.hooks
	c.mu.Unlock()
	if h != nil {
		h.Kick()
	}
}

// overloaded reports whether the callback queue is past its bound: the
// webhook is not keeping up (or down), and On-Premises then refuses new
// messages with 1016 rather than growing the queue without end.
func (c *Client) overloaded() bool {
	c.mu.Lock()
	h := c.hooks
	c.mu.Unlock()
	return h != nil && h.Stats().Queued >= c.cfg.MaxCallbackQueue
}

// errNoWebhookURL keeps callbacks queued while no webhooks.url is set;
// the dispatcher holds them without counting failures (webhook.ErrNotConfigured).
var errNoWebhookURL = fmt.Errorf("waent: webhooks.url is not set: %w", webhook.ErrNotConfigured)

// WebhookConfigured reports, as On-Premises code 1022 "Webhooks URL is not
// configured", when callbacks have nowhere to go: no Config.Webhook sink
// and no webhooks.url setting. Callbacks produced meanwhile wait in the
// queue; operations whose only result is a callback (the garbage
// collection services) refuse to start.
func (c *Client) WebhookConfigured() error {
	if c.cfg.Webhook != nil || c.Settings().Webhooks.URL != "" {
		return nil
	}
	return newError(CodeWebhookURLMissing, "Set webhooks.url with PATCH /v1/settings/application", nil)
}

// settingsSink posts to whatever webhooks.url currently says, rebuilding
// its HTTPS sink when the URL changes. The CA bundle (Config plus the one
// uploaded to /v1/certificates/webhooks/ca) is read when the sink is
// built: as in On-Premises, a new CA takes effect after a restart or a
// change of URL.
type settingsSink struct {
	c *Client

	mu   sync.Mutex
	url  string
	sink *webhook.HTTPSink
}

func (s *settingsSink) Deliver(ctx context.Context, body []byte) error {
	url := s.c.Settings().Webhooks.URL
	if url == "" {
		return errNoWebhookURL
	}
	s.mu.Lock()
	if s.sink == nil || s.url != url {
		sink, err := webhook.NewHTTPSink(webhook.HTTPConfig{
			URL: url, CACertPEM: s.c.webhookCAPEM(ctx), Secrets: slices.Clone(s.c.cfg.WebhookSecrets), Now: s.c.cfg.Now,
		})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		s.url, s.sink = url, sink
	}
	sink := s.sink
	s.mu.Unlock()
	return sink.Deliver(ctx, body)
}
