package waent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/templates"
	"github.com/waent/waent/templates/catalog"
)

// The template catalogue is pulled from the chat server after every
// (re)connection, when the server notifies a change, and every
// TemplateRefresh, as the On-Premises coreapp did (onprem-faq.md
// "Templates"). The stanza is our own (the real one is not public):
//
//	→ <iq type="get" xmlns="w:biz:templates" to="s.whatsapp.net"><templates/></iq>
//	← <iq type="result"><templates namespace="…" version="n"><template>JSON</template>…</templates></iq>
//
// with one catalog.Template as JSON per <template>.

// templatesLoop pulls the catalogue whenever asked, until the Client
// closes.
func (c *Client) templatesLoop(parts *chatParts) {
	t := time.NewTicker(c.cfg.TemplateRefresh)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-parts.tmpl:
		case <-t.C:
		}
		err := c.pullTemplates(c.ctx, parts)
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("template catalogue pull", "err", err)
		}
		// Readiness waits for the first attempt, not its success: a
		// fresh cache serves, and a stale one makes template sends
		// fail with 2002 while everything else goes out.
		c.templatesSettled()
	}
}

func (c *Client) askTemplates(parts *chatParts) {
	select {
	case parts.tmpl <- struct{}{}:
	default:
	}
}

func (c *Client) pullTemplates(ctx context.Context, parts *chatParts) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.IQTimeout)
	defer cancel()
	reply, err := parts.conn.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:biz:templates", "type": "get", "to": wabin.ServerJID},
		Content: []wabin.Node{{Tag: "templates"}}})
	if err != nil {
		return err
	}
	snap, err := parseTemplates(reply)
	if err != nil {
		return err
	}
	return c.tmpl.Apply(ctx, snap)
}

// parseTemplates reads a catalogue reply. A template that does not decode
// is an error for the whole reply: applying a partial catalogue would
// delete the cached copy of what failed.
func parseTemplates(reply wabin.Node) (templates.Snapshot, error) {
	if reply.AttrString("type") != "result" {
		if e, ok := reply.Child("error"); ok {
			return templates.Snapshot{}, fmt.Errorf("server refused the catalogue: %s %s", e.AttrString("code"), e.AttrString("text"))
		}
		return templates.Snapshot{}, errors.New("catalogue reply is not a result")
	}
	list, ok := reply.Child("templates")
	if !ok {
		return templates.Snapshot{}, errors.New("catalogue reply without <templates>")
	}
	snap := templates.Snapshot{Namespace: list.AttrString("namespace")}
	if snap.Namespace == "" {
		return snap, errors.New("catalogue reply without a namespace")
	}
	snap.Version, _ = strconv.ParseInt(list.AttrString("version"), 10, 64)
	for _, n := range list.ChildrenByTag("template") {
		var t catalog.Template
		if err := json.Unmarshal(n.Bytes(), &t); err != nil {
			return snap, fmt.Errorf("catalogue template: %w", err)
		}
		snap.Templates = append(snap.Templates, t)
	}
	return snap, nil
}

// templatesSettled records that the catalogue is usable for readiness.
func (c *Client) templatesSettled() {
	c.mu.Lock()
	c.tmplSettled = true
	c.mu.Unlock()
	c.tryReady()
}

// Templates lists the template catalogue in use.
func (c *Client) Templates() []catalog.Template { return c.tmpl.Templates() }

// TemplateNamespace is the business's template namespace, "" until the
// catalogue was loaded.
func (c *Client) TemplateNamespace() string { return c.tmpl.Namespace() }

// RefreshTemplates pulls the catalogue from the server now, instead of
// waiting for the next change notification or periodic pull.
func (c *Client) RefreshTemplates(ctx context.Context) error {
	parts, err := c.parts()
	if err != nil {
		return err
	}
	if err := c.pullTemplates(ctx, parts); err != nil {
		return newError(2002, "", err)
	}
	c.templatesSettled()
	return nil
}
