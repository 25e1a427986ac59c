package memstore

import (
	"context"

	"github.com/waent/waent/store"
)

func (o op) GetAccount(ctx context.Context) (store.Account, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Account{}, err
	}
	defer leave()
	if o.st.account == nil {
		return store.Account{}, store.NotFoundf("account")
	}
	return copyAccount(*o.st.account), nil
}

func (o op) PutAccount(ctx context.Context, a store.Account) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := a.Validate(); err != nil {
		return err
	}
	a = copyAccount(a)
	if old := o.st.account; old != nil {
		a.CreatedAt = old.CreatedAt
	}
	set(o, &o.st.account, &a)
	return nil
}
