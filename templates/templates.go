package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/templates/catalog"
)

// Store is what the catalogue keeps durably: the templates and a small
// settings document with the namespace and the time of the last pull.
type Store interface {
	store.TemplateStore
	store.SettingsStore
	store.Transactor
}

// Snapshot is the catalogue as the server sent it.
type Snapshot struct {
	Namespace string
	Version   int64
	Templates []catalog.Template
}

// Config configures a Catalogue.
type Config struct {
	Store Store
	// MaxAge is how old a cached catalogue may be and still be used
	// (On-Premises: 7 days). Default 7 days.
	MaxAge time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// syncDoc is the settings document that records the last pull.
const syncDoc = "templates.sync"

type syncState struct {
	Namespace string    `json:"namespace"`
	Version   int64     `json:"version"`
	PulledAt  time.Time `json:"pulled_at"`
}

// Catalogue is the business's template catalogue in use. It is safe for
// concurrent use.
type Catalogue struct {
	cfg Config
	// applyMu serialises Apply, so the catalogue in memory and the cached
	// copy are the same snapshot.
	applyMu sync.Mutex

	mu       sync.RWMutex
	ns       string
	version  int64
	pulledAt time.Time
	have     bool // a catalogue was loaded (cache or server)
	byName   map[string]*translations
	langs    map[string]bool // every language with at least one template
}

// translations are one template's translations; order is the
// catalogue's, and the first is the template's default language (used by
// the deprecated fallback policy).
type translations struct {
	byLang map[string]catalog.Template
	order  []string
}

// New returns an empty Catalogue; call LoadCache, then Apply snapshots.
func New(cfg Config) (*Catalogue, error) {
	if cfg.Store == nil {
		return nil, errors.New("templates: Config.Store is required")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Catalogue{cfg: cfg, byName: map[string]*translations{}, langs: map[string]bool{}}, nil
}

// LoadCache loads the catalogue cached by an earlier Apply. It reports
// whether the cache is fresh (younger than MaxAge); a stale one is loaded
// too but not used for validation until a pull succeeds.
func (c *Catalogue) LoadCache(ctx context.Context) (fresh bool, err error) {
	var st syncState
	doc, err := c.cfg.Store.GetSettings(ctx, syncDoc)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("templates: load cache: %w", err)
	}
	if err := json.Unmarshal(doc.Value, &st); err != nil {
		return false, fmt.Errorf("templates: load cache: %w", err)
	}
	rows, err := c.cfg.Store.ListTemplates(ctx, store.TemplateFilter{Namespace: st.Namespace})
	if err != nil {
		return false, fmt.Errorf("templates: load cache: %w", err)
	}
	ts := make([]catalog.Template, 0, len(rows))
	for _, r := range rows {
		t, err := fromRow(r)
		if err != nil {
			c.cfg.Logger.Warn("templates: skipping a cached template", "template", r.Name, "err", err)
			continue
		}
		ts = append(ts, t)
	}
	c.use(Snapshot{Namespace: st.Namespace, Version: st.Version, Templates: ts}, st.PulledAt)
	return c.fresh(), nil
}

// Apply makes a snapshot pulled from the server the catalogue in use and
// replaces the cache with it in one transaction.
//
// Pulls may race (a notification and an on-demand refresh): a snapshot
// older than the one in use is ignored.
func (c *Catalogue) Apply(ctx context.Context, snap Snapshot) error {
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	c.mu.RLock()
	stale := c.have && c.ns == snap.Namespace && snap.Version < c.version
	c.mu.RUnlock()
	if stale {
		return nil
	}
	now := c.cfg.Now()
	var valid []catalog.Template
	for _, t := range snap.Templates {
		if t.Namespace != snap.Namespace {
			continue
		}
		if !store.TemplateStatus(t.Status).Valid() {
			c.cfg.Logger.Warn("templates: skipping a template with an unknown status", "template", t.Key(), "status", t.Status)
			continue
		}
		if err := t.Validate(); err != nil {
			// The server's catalogue should hold only valid
			// templates; one that is not cannot be sent anyway.
			c.cfg.Logger.Warn("templates: skipping an invalid template", "err", err)
			continue
		}
		valid = append(valid, t)
	}
	st, err := json.Marshal(syncState{Namespace: snap.Namespace, Version: snap.Version, PulledAt: now})
	if err != nil {
		return err
	}
	err = c.cfg.Store.InTx(ctx, func(tx store.Store) error {
		old, err := tx.ListTemplates(ctx, store.TemplateFilter{})
		if err != nil {
			return err
		}
		keep := map[store.TemplateKey]bool{}
		rows := make([]store.Template, 0, len(valid))
		for _, t := range valid {
			r, err := toRow(t, now)
			if err != nil {
				return err
			}
			keep[r.TemplateKey] = true
			rows = append(rows, r)
		}
		for _, o := range old {
			if !keep[o.TemplateKey] {
				if err := tx.DeleteTemplate(ctx, o.TemplateKey); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		if len(rows) > 0 {
			if err := tx.PutTemplates(ctx, rows); err != nil {
				return err
			}
		}
		version := int64(0)
		if doc, err := tx.GetSettings(ctx, syncDoc); err == nil {
			version = doc.Version
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = tx.PutSettings(ctx, syncDoc, st, version, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("templates: store the catalogue: %w", err)
	}
	c.use(Snapshot{Namespace: snap.Namespace, Version: snap.Version, Templates: valid}, now)
	return nil
}

func (c *Catalogue) use(snap Snapshot, pulledAt time.Time) {
	byName := map[string]*translations{}
	langs := map[string]bool{}
	for _, t := range snap.Templates {
		tr := byName[t.Name]
		if tr == nil {
			tr = &translations{byLang: map[string]catalog.Template{}}
			byName[t.Name] = tr
		}
		if _, dup := tr.byLang[t.Language]; !dup {
			tr.order = append(tr.order, t.Language)
		}
		tr.byLang[t.Language] = t
		langs[t.Language] = true
	}
	c.mu.Lock()
	c.ns, c.version, c.pulledAt, c.have = snap.Namespace, snap.Version, pulledAt, true
	c.byName, c.langs = byName, langs
	c.mu.Unlock()
}

// Namespace is the business's template namespace, "" before any load.
func (c *Catalogue) Namespace() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ns
}

// Version is the server's version of the catalogue in use.
func (c *Catalogue) Version() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// Fresh reports whether the catalogue in use was pulled within MaxAge.
func (c *Catalogue) Fresh() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fresh()
}

func (c *Catalogue) fresh() bool {
	return c.have && !c.pulledAt.IsZero() && c.cfg.Now().Sub(c.pulledAt) < c.cfg.MaxAge
}

// Templates lists the catalogue in use, by name and language order.
func (c *Catalogue) Templates() []catalog.Template {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []catalog.Template
	for _, tr := range c.byName {
		for _, l := range tr.order {
			out = append(out, tr.byLang[l])
		}
	}
	return out
}

func toRow(t catalog.Template, now time.Time) (store.Template, error) {
	comp, err := json.Marshal(t.Components)
	if err != nil {
		return store.Template{}, err
	}
	return store.Template{
		TemplateKey: store.TemplateKey{Namespace: t.Namespace, Name: t.Name, Language: t.Language},
		Category:    t.Category, Status: store.TemplateStatus(t.Status), Components: comp, UpdatedAt: now,
	}, nil
}

func fromRow(r store.Template) (catalog.Template, error) {
	t := catalog.Template{Namespace: r.Namespace, Name: r.Name, Language: r.Language, Category: r.Category, Status: string(r.Status)}
	if err := json.Unmarshal(r.Components, &t.Components); err != nil {
		return t, err
	}
	return t, t.Validate()
}

// Category is the category of the template a send names (its
// translation in code, or any translation), "" when unknown.
func (c *Catalogue) Category(name, code string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tr := c.byName[name]
	if tr == nil {
		return ""
	}
	if t, ok := tr.byLang[code]; ok {
		return t.Category
	}
	for _, l := range tr.order {
		if cat := tr.byLang[l].Category; cat != "" {
			return cat
		}
	}
	return ""
}
