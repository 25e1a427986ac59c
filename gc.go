package waent

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/waent/waent/content"
	"github.com/waent/waent/gc"
	"github.com/waent/waent/store"
)

// newCollector builds a garbage collector over the Client's store. It
// holds no state of its own: runs are serialised through leases in the
// store, so the scheduled collector and every requested run (on this
// instance or another on the same database) exclude each other.
func (c *Client) newCollector() (*gc.Collector, error) {
	return gc.New(gc.Config{
		Store: c.st, Media: c.cfg.Media, Now: c.cfg.Now, Logger: c.log,
		ContactTTL: c.cfg.ContactTTL,
		Settings:   c.gcSwitches,
	})
}

// gcSwitches maps the application settings onto the collector's switches:
// either message switch (the older db_garbagecollector_enable or
// garbagecollector_enable.messages) turned off stops the scheduled message
// collection.
func (c *Client) gcSwitches() gc.Switches {
	s := c.Settings()
	return gc.Switches{
		Messages:    s.DBGarbageCollectorEnable && s.GarbageCollectorEnable.Messages,
		Media:       s.GarbageCollectorEnable.Media,
		PassThrough: s.PassThrough,
	}
}

// startGC starts the scheduled garbage collection (every 3 to 6 hours,
// jittered). It runs on the Client's background context, so Close stops it
// and waits for it; there is nothing else to stop.
func (c *Client) startGC() {
	coll, err := c.newCollector()
	if err != nil {
		c.log.Error("waent: garbage collector", "err", err)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.bg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.bg.Done()
		coll.Run(c.ctx)
	}()
}

// RunMessageGC starts a message garbage collection now (PUT
// /v1/services/message/gc) and returns at once; the result arrives as a
// services callback:
//
//	{"services":[{"message":{"gc":{"messages_deleted":N,"status":"complete"}}}]}
//
// or status "failed" with errors. A request while an earlier one has not
// finished starts nothing and returns nil: that run's callback answers
// both. Without a webhook to report to it fails with 1022.
func (c *Client) RunMessageGC(ctx context.Context) error { return c.runGC(ctx, gc.Messages) }

// RunMediaGC is RunMessageGC for media unused for 30 days (PUT
// /v1/services/media/gc); its callback counts items_deleted.
func (c *Client) RunMediaGC(ctx context.Context) error { return c.runGC(ctx, gc.Media) }

func (c *Client) runGC(ctx context.Context, kind gc.Kind) error {
	if err := c.WebhookConfigured(); err != nil {
		return err
	}
	coll, err := c.newCollector()
	if err != nil {
		return newError(CodeInternal, "garbage collector", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClientClosed
	}
	c.bg.Add(1) // before Close can wait, so the run is always waited for
	c.mu.Unlock()
	req, err := coll.Begin(ctx, kind)
	if err != nil {
		c.bg.Done()
		if errors.Is(err, gc.ErrBusy) {
			return nil
		}
		return newError(CodeDatabase, "start garbage collection", err)
	}
	go func() {
		defer c.bg.Done()
		res, err := req.Run(c.ctx)
		c.reportGC(kind, res, err)
	}()
	return nil
}

type gcOutcome struct {
	MessagesDeleted *int            `json:"messages_deleted,omitempty"`
	ItemsDeleted    *int            `json:"items_deleted,omitempty"`
	Errors          []content.Error `json:"errors,omitempty"`
	Status          string          `json:"status"`
}

// gcCallback is the services callback of a finished run (onprem-api.md
// §3.12). Partial counts are reported with a failure too: what was
// deleted is gone.
func gcCallback(kind gc.Kind, res gc.Result, runErr error, now time.Time) (store.Callback, error) {
	var out gcOutcome
	if kind == gc.Media {
		out.ItemsDeleted = &res.Media
	} else {
		out.MessagesDeleted = &res.Messages
	}
	out.Status = "complete"
	if runErr != nil {
		out.Status = "failed"
		details := "Could not delete messages"
		if kind == gc.Media {
			details = "Could not delete media files"
		}
		if errors.Is(runErr, context.Canceled) {
			details = "Garbage collection was interrupted by a shutdown"
		}
		e := newError(CodeInternal, details, nil)
		out.Errors = []content.Error{{Code: e.Code, Title: e.Title, Details: e.Details}}
	}
	payload := map[string]any{"services": []any{map[string]any{string(kind): map[string]any{"gc": out}}}}
	b, err := json.Marshal(payload)
	if err != nil {
		return store.Callback{}, err
	}
	return store.Callback{Kind: KindServices, Payload: b, NextAttemptAt: now, CreatedAt: now}, nil
}

// reportGC queues the callback of a finished run. It runs after Close
// cancelled the background context too, so an interrupted run is still
// reported (after the next Start, if the webhooks stopped already).
func (c *Client) reportGC(kind gc.Kind, res gc.Result, runErr error) {
	if runErr != nil && c.ctx.Err() == nil {
		c.log.Warn("waent: garbage collection failed", "kind", kind, "err", runErr)
	}
	cb, err := gcCallback(kind, res, runErr, c.now())
	if err != nil {
		c.log.Error("waent: garbage collection callback", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	if err := c.st.EnqueueCallbacks(ctx, []store.Callback{cb}); err != nil {
		c.log.Error("waent: queue garbage collection callback", "kind", kind, "err", err)
		return
	}
	c.kickWebhooks()
}
