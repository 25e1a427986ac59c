package memstore

import (
	"context"
	"time"

	"github.com/waent/waent/store"
)

func (o op) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Lease{}, err
	}
	defer leave()
	if err := store.ValidateName("lease name", name); err != nil {
		return store.Lease{}, err
	}
	if err := store.ValidateName("lease holder", holder); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, store.Invalidf("lease %q: ttl must be positive, got %s", name, ttl)
	}
	l, ok := o.st.leases[name]
	switch {
	case ok && l.Holder == holder:
		// Renewal: same hands, same token.
	case !ok || l.Holder == "" || !l.ExpiresAt.After(norm(now)):
		// Free or expired: changes hands.
		l.Name = name
		l.Holder = holder
		l.Token++
	default:
		return store.Lease{}, store.Conflictf("lease %q held by %q until %s", name, l.Holder, l.ExpiresAt.Format(time.RFC3339Nano))
	}
	l.ExpiresAt = norm(now.Add(ttl))
	put(o, o.st.leases, name, l)
	return copyLease(l), nil
}

func (o op) ReleaseLease(ctx context.Context, name, holder string, token int64) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := store.ValidateName("lease holder", holder); err != nil {
		return err
	}
	l, ok := o.st.leases[name]
	if !ok {
		return store.NotFoundf("lease %q", name)
	}
	if l.Holder != holder || l.Token != token {
		return store.Conflictf("lease %q is held by %q with token %d, not %q with token %d", name, l.Holder, l.Token, holder, token)
	}
	l.Holder = ""
	l.ExpiresAt = time.Time{}
	put(o, o.st.leases, name, l)
	return nil
}

func (o op) GetLease(ctx context.Context, name string) (store.Lease, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Lease{}, err
	}
	defer leave()
	l, ok := o.st.leases[name]
	if !ok {
		return store.Lease{}, store.NotFoundf("lease %q", name)
	}
	return copyLease(l), nil
}
