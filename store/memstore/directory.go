package memstore

import (
	"context"
	"time"

	"github.com/waent/waent/store"
)

// Contacts.

func (o op) GetContacts(ctx context.Context, inputs []string) ([]store.Contact, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := []store.Contact{}
	for _, in := range inputs {
		if c, ok := o.st.contacts[in]; ok {
			out = append(out, copyContact(c))
		}
	}
	return out, nil
}

func (o op) PutContacts(ctx context.Context, contacts []store.Contact) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for _, c := range contacts {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	for _, c := range contacts {
		put(o, o.st.contacts, c.Input, copyContact(c))
	}
	return nil
}

func (o op) PruneContacts(ctx context.Context, checkedBefore time.Time, limit int) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if limit <= 0 {
		return 0, store.Invalidf("prune contacts: limit must be positive, got %d", limit)
	}
	n := 0
	for in, c := range o.st.contacts {
		if n < limit && c.CheckedAt.Before(norm(checkedBefore)) {
			del(o, o.st.contacts, in)
			n++
		}
	}
	return n, nil
}

// Settings.

func (o op) GetSettings(ctx context.Context, name string) (store.SettingsDoc, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.SettingsDoc{}, err
	}
	defer leave()
	d, ok := o.st.settings[name]
	if !ok {
		return store.SettingsDoc{}, store.NotFoundf("settings %q", name)
	}
	return copySettings(d), nil
}

func (o op) PutSettings(ctx context.Context, name string, value []byte, expectVersion int64, at time.Time) (store.SettingsDoc, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.SettingsDoc{}, err
	}
	defer leave()
	if err := store.ValidateName("settings name", name); err != nil {
		return store.SettingsDoc{}, err
	}
	if expectVersion < 0 {
		return store.SettingsDoc{}, store.Invalidf("settings %q: negative expected version %d", name, expectVersion)
	}
	old, ok := o.st.settings[name]
	switch {
	case !ok && expectVersion != 0:
		return store.SettingsDoc{}, store.Conflictf("settings %q: expected version %d, document does not exist", name, expectVersion)
	case ok && old.Version != expectVersion:
		return store.SettingsDoc{}, store.Conflictf("settings %q: expected version %d, stored version %d", name, expectVersion, old.Version)
	}
	d := copySettings(store.SettingsDoc{Name: name, Version: expectVersion + 1, Value: value, UpdatedAt: at})
	put(o, o.st.settings, name, d)
	return copySettings(d), nil
}

func (o op) DeleteSettings(ctx context.Context, name string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.settings, name) {
		return store.NotFoundf("settings %q", name)
	}
	return nil
}
