package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/waent/waent/store"
)

func (o op) CreateMedia(ctx context.Context, m store.Media) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := m.Validate(); err != nil {
		return err
	}
	if _, ok := o.st.media[m.ID]; ok {
		return store.Conflictf("media %s exists", m.ID)
	}
	put(o, o.st.media, m.ID, copyMedia(m))
	return nil
}

func (o op) GetMedia(ctx context.Context, id string) (store.Media, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Media{}, err
	}
	defer leave()
	m, ok := o.st.media[id]
	if !ok {
		return store.Media{}, store.NotFoundf("media %s", id)
	}
	return copyMedia(m), nil
}

func (o op) UpdateMedia(ctx context.Context, m store.Media) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := m.Validate(); err != nil {
		return err
	}
	old, ok := o.st.media[m.ID]
	if !ok {
		return store.NotFoundf("media %s", m.ID)
	}
	m = copyMedia(m)
	m.CreatedAt = old.CreatedAt
	put(o, o.st.media, m.ID, m)
	return nil
}

func (o op) DeleteMedia(ctx context.Context, id string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.media, id) {
		return store.NotFoundf("media %s", id)
	}
	return nil
}

func (o op) UnusedMedia(ctx context.Context, usedBefore time.Time, limit int) ([]store.Media, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if limit <= 0 {
		return nil, store.Invalidf("unused media: limit must be positive, got %d", limit)
	}
	usedBefore = norm(usedBefore)
	var hits []store.Media
	for _, m := range o.st.media {
		if m.LastUsedAt.Before(usedBefore) {
			hits = append(hits, m)
		}
	}
	slices.SortFunc(hits, func(a, b store.Media) int {
		return cmp.Or(a.LastUsedAt.Compare(b.LastUsedAt), cmp.Compare(a.ID, b.ID))
	})
	hits = hits[:min(limit, len(hits))]
	out := make([]store.Media, 0, len(hits))
	for _, m := range hits {
		out = append(out, copyMedia(m))
	}
	return out, nil
}
