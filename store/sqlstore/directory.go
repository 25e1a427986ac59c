package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type contactRow struct {
	bun.BaseModel `bun:"table:waent_contacts"`

	Input     string `bun:"input,pk"`
	WAID      string `bun:"wa_id"`
	Status    string `bun:"status"`
	CheckedAt int64  `bun:"checked_at"`
}

// GetContacts implements store.ContactStore.
func (s *Store) GetContacts(ctx context.Context, inputs []string) ([]store.Contact, error) {
	found := make(map[string]store.Contact, len(inputs))
	err := chunks(inputs, func(part []string) error {
		var rows []contactRow
		if err := s.r.NewSelect().Model(&rows).Where("input IN (?)", bun.In(part)).Scan(ctx); err != nil {
			return s.wrap(err, "get contacts")
		}
		for _, r := range rows {
			found[r.Input] = store.Contact{Input: r.Input, WAID: r.WAID, Status: store.ContactStatus(r.Status), CheckedAt: fromUS(r.CheckedAt)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Contact, 0, len(found))
	for _, in := range inputs {
		if c, ok := found[in]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// PutContacts implements store.ContactStore.
func (s *Store) PutContacts(ctx context.Context, contacts []store.Contact) error {
	rows := make([]contactRow, 0, len(contacts))
	index := map[string]int{}
	for _, c := range contacts {
		if err := c.Validate(); err != nil {
			return err
		}
		r := contactRow{Input: c.Input, WAID: c.WAID, Status: string(c.Status), CheckedAt: us(c.CheckedAt)}
		if i, dup := index[r.Input]; dup {
			rows[i] = r // the last entry for an input wins
			continue
		}
		index[r.Input] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []contactRow) error {
			_, err := tx.upsert(tx.w.NewInsert().Model(&part), "input", "wa_id", "status", "checked_at").Exec(ctx)
			return tx.wrap(err, "put contacts")
		})
	})
}

// PruneContacts implements store.ContactStore.
func (s *Store) PruneContacts(ctx context.Context, checkedBefore time.Time, limit int) (int, error) {
	if err := checkLimit(limit, "prune contacts"); err != nil {
		return 0, err
	}
	var keys []string
	return s.pruneByKey(ctx, "prune contacts", (*contactRow)(nil), "input", &keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("checked_at < ?", us(checkedBefore)) }, limit)
}

type settingsRow struct {
	bun.BaseModel `bun:"table:waent_settings"`

	Name      string `bun:"name,pk"`
	Version   int64  `bun:"version"`
	Value     []byte `bun:"value"`
	UpdatedAt int64  `bun:"updated_at"`
}

// GetSettings implements store.SettingsStore.
func (s *Store) GetSettings(ctx context.Context, name string) (store.SettingsDoc, error) {
	var r settingsRow
	if err := s.r.NewSelect().Model(&r).Where("name = ?", name).Scan(ctx); err != nil {
		return store.SettingsDoc{}, s.wrap(err, "get settings %q", name)
	}
	return store.SettingsDoc{Name: r.Name, Version: r.Version, Value: r.Value, UpdatedAt: fromUS(r.UpdatedAt)}, nil
}

// PutSettings implements store.SettingsStore.
func (s *Store) PutSettings(ctx context.Context, name string, value []byte, expectVersion int64, at time.Time) (store.SettingsDoc, error) {
	if err := store.ValidateName("settings name", name); err != nil {
		return store.SettingsDoc{}, err
	}
	if expectVersion < 0 {
		return store.SettingsDoc{}, store.Invalidf("settings %q: negative version", name)
	}
	if value == nil {
		value = []byte{}
	}
	doc := store.SettingsDoc{Name: name, Version: expectVersion + 1, Value: value, UpdatedAt: store.NormalizeTime(at)}
	var written bool
	if expectVersion == 0 {
		r := settingsRow{Name: name, Version: 1, Value: value, UpdatedAt: us(at)}
		inserted, err := s.insertIfAbsent(ctx, s.w.NewInsert().Model(&r), "name")
		if err != nil {
			return store.SettingsDoc{}, s.wrap(err, "put settings %q", name)
		}
		written = inserted
	} else {
		res, err := s.w.NewUpdate().Model((*settingsRow)(nil)).
			Set("value = ?", value).Set("version = ?", doc.Version).Set("updated_at = ?", us(at)).
			Where("name = ? AND version = ?", name, expectVersion).Exec(ctx)
		if err != nil {
			return store.SettingsDoc{}, s.wrap(err, "put settings %q", name)
		}
		written = affected(res) == 1
	}
	if !written {
		return store.SettingsDoc{}, store.Conflictf("settings %q: stored version is not %d", name, expectVersion)
	}
	doc.Value = clone(value)
	return doc, nil
}

// DeleteSettings implements store.SettingsStore.
func (s *Store) DeleteSettings(ctx context.Context, name string) error {
	res, err := s.w.NewDelete().Model((*settingsRow)(nil)).Where("name = ?", name).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete settings %q", name)
	}
	if affected(res) == 0 {
		return store.NotFoundf("settings %q", name)
	}
	return nil
}

type leaseRow struct {
	bun.BaseModel `bun:"table:waent_leases"`

	Name      string `bun:"name,pk"`
	Holder    string `bun:"holder"`
	Token     int64  `bun:"token"`
	ExpiresAt int64  `bun:"expires_at"`
}

// AcquireLease implements store.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateName("lease name", name); err != nil {
		return store.Lease{}, err
	}
	if err := store.ValidateName("lease holder", holder); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, store.Invalidf("lease %q: ttl must be positive", name)
	}
	expires := us(now.Add(ttl))
	var lease store.Lease
	err := s.atomic(ctx, func(tx *Store) error {
		fresh := leaseRow{Name: name, Holder: holder, Token: 1, ExpiresAt: expires}
		inserted, err := tx.insertIfAbsent(ctx, tx.w.NewInsert().Model(&fresh), "name")
		if err != nil {
			return tx.wrap(err, "acquire lease %q", name)
		}
		if !inserted {
			// The row exists: take it if free, expired or ours. token is
			// assigned first because MySQL evaluates SET left to right
			// with the new values.
			res, err := tx.w.NewUpdate().Model((*leaseRow)(nil)).
				Set("token = CASE WHEN holder = ? THEN token ELSE token + 1 END", holder).
				Set("holder = ?", holder).
				Set("expires_at = ?", expires).
				Where("name = ? AND (holder = ? OR holder = '' OR expires_at <= ?)", name, holder, us(now)).
				Exec(ctx)
			if err != nil {
				return tx.wrap(err, "acquire lease %q", name)
			}
			if affected(res) != 1 {
				return store.Conflictf("lease %q is held by another holder", name)
			}
		}
		var r leaseRow
		if err := tx.w.NewSelect().Model(&r).Where("name = ?", name).Scan(ctx); err != nil {
			return tx.wrap(err, "acquire lease %q", name)
		}
		lease = store.Lease{Name: r.Name, Holder: r.Holder, Token: r.Token, ExpiresAt: fromUS(r.ExpiresAt)}
		return nil
	})
	return lease, err
}

// ReleaseLease implements store.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token int64) error {
	if err := store.ValidateName("lease holder", holder); err != nil {
		return err
	}
	return s.atomic(ctx, func(tx *Store) error {
		res, err := tx.w.NewUpdate().Model((*leaseRow)(nil)).
			Set("holder = ''").Set("expires_at = 0").
			Where("name = ? AND holder = ? AND token = ?", name, holder, token).Exec(ctx)
		if err != nil {
			return tx.wrap(err, "release lease %q", name)
		}
		if affected(res) == 1 {
			return nil
		}
		n, err := tx.w.NewSelect().Model((*leaseRow)(nil)).Where("name = ?", name).Count(ctx)
		if err != nil {
			return tx.wrap(err, "release lease %q", name)
		}
		if n == 0 {
			return store.NotFoundf("lease %q", name)
		}
		return store.Conflictf("lease %q is not held by %q with token %d", name, holder, token)
	})
}

// GetLease implements store.LeaseStore.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	var r leaseRow
	if err := s.r.NewSelect().Model(&r).Where("name = ?", name).Scan(ctx); err != nil {
		return store.Lease{}, s.wrap(err, "get lease %q", name)
	}
	return store.Lease{Name: r.Name, Holder: r.Holder, Token: r.Token, ExpiresAt: fromUS(r.ExpiresAt)}, nil
}
