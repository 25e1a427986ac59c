package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type accountRow struct {
	bun.BaseModel `bun:"table:waent_account"`

	ID             int    `bun:"id,pk"`
	WAID           string `bun:"wa_id"`
	State          string `bun:"state"`
	CC             string `bun:"cc"`
	PhoneNumber    string `bun:"phone_number"`
	VerifiedName   string `bun:"verified_name"`
	VName          string `bun:"vname"`
	NoisePub       []byte `bun:"noise_pub"`
	NoisePriv      []byte `bun:"noise_priv"`
	IdentityPub    []byte `bun:"identity_pub"`
	IdentityPriv   []byte `bun:"identity_priv"`
	RegistrationID uint32 `bun:"registration_id"`
	Shards         int    `bun:"shards"`
	CreatedAt      int64  `bun:"created_at"`
	UpdatedAt      int64  `bun:"updated_at"`
}

// GetAccount implements store.AccountStore.
func (s *Store) GetAccount(ctx context.Context) (store.Account, error) {
	var r accountRow
	if err := s.r.NewSelect().Model(&r).Where("id = 1").Scan(ctx); err != nil {
		return store.Account{}, s.wrap(err, "get account")
	}
	return store.Account{
		WAID: r.WAID, State: store.RegistrationState(r.State), CC: r.CC, PhoneNumber: r.PhoneNumber,
		VerifiedName: r.VerifiedName, VName: r.VName,
		NoiseKey:       store.KeyPair{Public: r.NoisePub, Private: r.NoisePriv},
		IdentityKey:    store.KeyPair{Public: r.IdentityPub, Private: r.IdentityPriv},
		RegistrationID: r.RegistrationID, Shards: r.Shards,
		CreatedAt: fromUS(r.CreatedAt), UpdatedAt: fromUS(r.UpdatedAt),
	}, nil
}

// PutAccount implements store.AccountStore.
func (s *Store) PutAccount(ctx context.Context, a store.Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	r := accountRow{
		ID: 1, WAID: a.WAID, State: string(a.State), CC: a.CC, PhoneNumber: a.PhoneNumber,
		VerifiedName: a.VerifiedName, VName: a.VName,
		NoisePub: a.NoiseKey.Public, NoisePriv: a.NoiseKey.Private,
		IdentityPub: a.IdentityKey.Public, IdentityPriv: a.IdentityKey.Private,
		RegistrationID: a.RegistrationID, Shards: a.Shards,
		CreatedAt: us(a.CreatedAt), UpdatedAt: us(a.UpdatedAt),
	}
	// created_at is deliberately not in the update list: the first write's
	// creation time survives replacements.
	_, err := s.upsert(s.w.NewInsert().Model(&r), "id",
		"wa_id", "state", "cc", "phone_number", "verified_name", "vname", "noise_pub", "noise_priv",
		"identity_pub", "identity_priv", "registration_id", "shards", "updated_at").Exec(ctx)
	return s.wrap(err, "put account")
}
