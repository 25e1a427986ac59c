package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type preKeyRow struct {
	bun.BaseModel `bun:"table:waent_prekeys"`

	KeyID    uint32 `bun:"key_id,pk"`
	Pub      []byte `bun:"pub"`
	Priv     []byte `bun:"priv"`
	Uploaded bool   `bun:"uploaded"`
}

func (r preKeyRow) record() store.PreKey {
	return store.PreKey{ID: r.KeyID, Key: store.KeyPair{Public: r.Pub, Private: r.Priv}, Uploaded: r.Uploaded}
}

// PutPreKeys implements store.PreKeyStore.
func (s *Store) PutPreKeys(ctx context.Context, keys []store.PreKey) error {
	rows := make([]preKeyRow, len(keys))
	for i, k := range keys {
		if err := k.Validate(); err != nil {
			return err
		}
		rows[i] = preKeyRow{KeyID: k.ID, Pub: k.Key.Public, Priv: k.Key.Private, Uploaded: k.Uploaded}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []preKeyRow) error {
			_, err := tx.w.NewInsert().Model(&part).Exec(ctx)
			return tx.wrap(err, "put prekeys")
		})
	})
}

// GetPreKey implements store.PreKeyStore.
func (s *Store) GetPreKey(ctx context.Context, id uint32) (store.PreKey, error) {
	var r preKeyRow
	if err := s.r.NewSelect().Model(&r).Where("key_id = ?", id).Scan(ctx); err != nil {
		return store.PreKey{}, s.wrap(err, "get prekey %d", id)
	}
	return r.record(), nil
}

// DeletePreKey implements store.PreKeyStore.
func (s *Store) DeletePreKey(ctx context.Context, id uint32) error {
	res, err := s.w.NewDelete().Model((*preKeyRow)(nil)).Where("key_id = ?", id).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete prekey %d", id)
	}
	if affected(res) == 0 {
		return store.NotFoundf("prekey %d", id)
	}
	return nil
}

// MarkPreKeysUploaded implements store.PreKeyStore.
func (s *Store) MarkPreKeysUploaded(ctx context.Context, throughID uint32) error {
	_, err := s.w.NewUpdate().Model((*preKeyRow)(nil)).Set("uploaded = ?", true).
		Where("key_id <= ? AND uploaded = ?", throughID, false).Exec(ctx)
	return s.wrap(err, "mark prekeys uploaded")
}

// PreKeysToUpload implements store.PreKeyStore.
func (s *Store) PreKeysToUpload(ctx context.Context, limit int) ([]store.PreKey, error) {
	if err := checkLimit(limit, "prekeys to upload"); err != nil {
		return nil, err
	}
	var rows []preKeyRow
	if err := s.r.NewSelect().Model(&rows).Where("uploaded = ?", false).Order("key_id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, s.wrap(err, "prekeys to upload")
	}
	out := make([]store.PreKey, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// CountPreKeys implements store.PreKeyStore.
func (s *Store) CountPreKeys(ctx context.Context) (total, uploaded int, err error) {
	err = s.r.NewSelect().Model((*preKeyRow)(nil)).
		ColumnExpr("COUNT(*)").
		ColumnExpr("COALESCE(SUM(CASE WHEN uploaded THEN 1 ELSE 0 END), 0)").
		Scan(ctx, &total, &uploaded)
	return total, uploaded, s.wrap(err, "count prekeys")
}

// LastPreKeyID implements store.PreKeyStore.
func (s *Store) LastPreKeyID(ctx context.Context) (uint32, error) {
	var id int64
	err := s.r.NewSelect().Model((*preKeyRow)(nil)).ColumnExpr("COALESCE(MAX(key_id), 0)").Scan(ctx, &id)
	return uint32(id), s.wrap(err, "last prekey id")
}

type signedPreKeyRow struct {
	bun.BaseModel `bun:"table:waent_signed_prekeys"`

	KeyID     uint32 `bun:"key_id,pk"`
	Pub       []byte `bun:"pub"`
	Priv      []byte `bun:"priv"`
	Signature []byte `bun:"signature"`
	CreatedAt int64  `bun:"created_at"`
}

func (r signedPreKeyRow) record() store.SignedPreKey {
	return store.SignedPreKey{ID: r.KeyID, Key: store.KeyPair{Public: r.Pub, Private: r.Priv}, Signature: r.Signature, CreatedAt: fromUS(r.CreatedAt)}
}

// PutSignedPreKey implements store.SignedPreKeyStore.
func (s *Store) PutSignedPreKey(ctx context.Context, k store.SignedPreKey) error {
	if err := k.Validate(); err != nil {
		return err
	}
	r := signedPreKeyRow{KeyID: k.ID, Pub: k.Key.Public, Priv: k.Key.Private, Signature: k.Signature, CreatedAt: us(k.CreatedAt)}
	_, err := s.upsert(s.w.NewInsert().Model(&r), "key_id", "pub", "priv", "signature", "created_at").Exec(ctx)
	return s.wrap(err, "put signed prekey %d", k.ID)
}

// GetSignedPreKey implements store.SignedPreKeyStore.
func (s *Store) GetSignedPreKey(ctx context.Context, id uint32) (store.SignedPreKey, error) {
	var r signedPreKeyRow
	if err := s.r.NewSelect().Model(&r).Where("key_id = ?", id).Scan(ctx); err != nil {
		return store.SignedPreKey{}, s.wrap(err, "get signed prekey %d", id)
	}
	return r.record(), nil
}

// ListSignedPreKeys implements store.SignedPreKeyStore.
func (s *Store) ListSignedPreKeys(ctx context.Context) ([]store.SignedPreKey, error) {
	var rows []signedPreKeyRow
	if err := s.r.NewSelect().Model(&rows).Order("key_id").Scan(ctx); err != nil {
		return nil, s.wrap(err, "list signed prekeys")
	}
	out := make([]store.SignedPreKey, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// DeleteSignedPreKey implements store.SignedPreKeyStore.
func (s *Store) DeleteSignedPreKey(ctx context.Context, id uint32) error {
	res, err := s.w.NewDelete().Model((*signedPreKeyRow)(nil)).Where("key_id = ?", id).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete signed prekey %d", id)
	}
	if affected(res) == 0 {
		return store.NotFoundf("signed prekey %d", id)
	}
	return nil
}

type sessionRow struct {
	bun.BaseModel `bun:"table:waent_sessions"`

	Address  string `bun:"address,pk"`
	Name     string `bun:"name"`
	DeviceID uint32 `bun:"device_id"`
	Record   []byte `bun:"record"`
}

// GetSession implements store.SessionStore.
func (s *Store) GetSession(ctx context.Context, addr store.Address) ([]byte, error) {
	var rec []byte
	err := s.r.NewSelect().Model((*sessionRow)(nil)).Column("record").Where("address = ?", addr.String()).Scan(ctx, &rec)
	if err != nil {
		return nil, s.wrap(err, "get session %s", addr)
	}
	return rec, nil
}

// PutSessions implements store.SessionStore.
func (s *Store) PutSessions(ctx context.Context, sessions []store.Session) error {
	rows := make([]sessionRow, 0, len(sessions))
	index := map[string]int{}
	for _, ss := range sessions {
		if err := ss.Validate(); err != nil {
			return err
		}
		// One statement cannot upsert the same key twice (PostgreSQL
		// refuses it); the last record for an address wins.
		r := sessionRow{Address: ss.Address.String(), Name: ss.Address.Name, DeviceID: ss.Address.DeviceID, Record: ss.Record}
		if i, dup := index[r.Address]; dup {
			rows[i] = r
			continue
		}
		index[r.Address] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []sessionRow) error {
			_, err := tx.upsert(tx.w.NewInsert().Model(&part), "address", "record").Exec(ctx)
			return tx.wrap(err, "put sessions")
		})
	})
}

// SessionDevices implements store.SessionStore.
func (s *Store) SessionDevices(ctx context.Context, name string) ([]uint32, error) {
	var ids []uint32
	err := s.r.NewSelect().Model((*sessionRow)(nil)).Column("device_id").Where("name = ?", name).Order("device_id").Scan(ctx, &ids)
	return ids, s.wrap(err, "session devices of %s", name)
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, addr store.Address) error {
	res, err := s.w.NewDelete().Model((*sessionRow)(nil)).Where("address = ?", addr.String()).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete session %s", addr)
	}
	if affected(res) == 0 {
		return store.NotFoundf("session %s", addr)
	}
	return nil
}

// DeleteSessions implements store.SessionStore.
func (s *Store) DeleteSessions(ctx context.Context, name string) (int, error) {
	res, err := s.w.NewDelete().Model((*sessionRow)(nil)).Where("name = ?", name).Exec(ctx)
	if err != nil {
		return 0, s.wrap(err, "delete sessions of %s", name)
	}
	return affected(res), nil
}

// DeleteAllSessions implements store.SessionStore.
func (s *Store) DeleteAllSessions(ctx context.Context) error {
	_, err := s.w.NewDelete().Model((*sessionRow)(nil)).Where("1 = 1").Exec(ctx)
	return s.wrap(err, "delete all sessions")
}

type peerIdentityRow struct {
	bun.BaseModel `bun:"table:waent_peer_identities"`

	Address      string `bun:"address,pk"`
	Name         string `bun:"name"`
	DeviceID     uint32 `bun:"device_id"`
	IdentityKey  []byte `bun:"identity_key"`
	Acknowledged bool   `bun:"acknowledged"`
	CreatedAt    int64  `bun:"created_at"`
}

// GetPeerIdentity implements store.PeerIdentityStore.
func (s *Store) GetPeerIdentity(ctx context.Context, addr store.Address) (store.PeerIdentity, error) {
	var r peerIdentityRow
	if err := s.r.NewSelect().Model(&r).Where("address = ?", addr.String()).Scan(ctx); err != nil {
		return store.PeerIdentity{}, s.wrap(err, "get peer identity %s", addr)
	}
	return store.PeerIdentity{
		Address: store.Address{Name: r.Name, DeviceID: r.DeviceID}, Key: r.IdentityKey,
		Acknowledged: r.Acknowledged, CreatedAt: fromUS(r.CreatedAt),
	}, nil
}

// PutPeerIdentity implements store.PeerIdentityStore.
func (s *Store) PutPeerIdentity(ctx context.Context, p store.PeerIdentity) error {
	if err := p.Validate(); err != nil {
		return err
	}
	r := peerIdentityRow{
		Address: p.Address.String(), Name: p.Address.Name, DeviceID: p.Address.DeviceID,
		IdentityKey: p.Key, Acknowledged: p.Acknowledged, CreatedAt: us(p.CreatedAt),
	}
	_, err := s.upsert(s.w.NewInsert().Model(&r), "address", "identity_key", "acknowledged", "created_at").Exec(ctx)
	return s.wrap(err, "put peer identity %s", p.Address)
}

// DeletePeerIdentity implements store.PeerIdentityStore.
func (s *Store) DeletePeerIdentity(ctx context.Context, addr store.Address) error {
	res, err := s.w.NewDelete().Model((*peerIdentityRow)(nil)).Where("address = ?", addr.String()).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete peer identity %s", addr)
	}
	if affected(res) == 0 {
		return store.NotFoundf("peer identity %s", addr)
	}
	return nil
}

type senderKeyRow struct {
	bun.BaseModel `bun:"table:waent_sender_keys"`

	GroupID string `bun:"group_id,pk"`
	Sender  string `bun:"sender,pk"`
	Record  []byte `bun:"record"`
}

// GetSenderKey implements store.SenderKeyStore.
func (s *Store) GetSenderKey(ctx context.Context, groupID, sender string) ([]byte, error) {
	var rec []byte
	err := s.r.NewSelect().Model((*senderKeyRow)(nil)).Column("record").
		Where("group_id = ? AND sender = ?", groupID, sender).Scan(ctx, &rec)
	if err != nil {
		return nil, s.wrap(err, "get sender key %s/%s", groupID, sender)
	}
	return rec, nil
}

// PutSenderKey implements store.SenderKeyStore.
func (s *Store) PutSenderKey(ctx context.Context, groupID, sender string, record []byte) error {
	if err := store.ValidateSenderKey(groupID, sender, record); err != nil {
		return err
	}
	r := senderKeyRow{GroupID: groupID, Sender: sender, Record: record}
	_, err := s.upsert(s.w.NewInsert().Model(&r), "group_id, sender", "record").Exec(ctx)
	return s.wrap(err, "put sender key %s/%s", groupID, sender)
}

// DeleteSenderKey implements store.SenderKeyStore.
func (s *Store) DeleteSenderKey(ctx context.Context, groupID, sender string) error {
	res, err := s.w.NewDelete().Model((*senderKeyRow)(nil)).Where("group_id = ? AND sender = ?", groupID, sender).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete sender key %s/%s", groupID, sender)
	}
	if affected(res) == 0 {
		return store.NotFoundf("sender key %s/%s", groupID, sender)
	}
	return nil
}

type decryptedRow struct {
	bun.BaseModel `bun:"table:waent_decrypted"`

	Hash      []byte `bun:"hash,pk"`
	Plaintext []byte `bun:"plaintext"`
	CreatedAt int64  `bun:"created_at"`
}

// PutDecrypted implements store.DecryptBufferStore.
func (s *Store) PutDecrypted(ctx context.Context, hash, plaintext []byte, at time.Time) error {
	if len(hash) != store.HashLen {
		return store.Invalidf("decrypt buffer: hash must be %d bytes, got %d", store.HashLen, len(hash))
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	r := decryptedRow{Hash: hash, Plaintext: plaintext, CreatedAt: us(at)}
	_, err := s.insertIgnore(s.w.NewInsert().Model(&r), "hash").Exec(ctx)
	return s.wrap(err, "put decrypted")
}

// GetDecrypted implements store.DecryptBufferStore.
func (s *Store) GetDecrypted(ctx context.Context, hash []byte) ([]byte, error) {
	var pt []byte
	err := s.r.NewSelect().Model((*decryptedRow)(nil)).Column("plaintext").Where("hash = ?", hash).Scan(ctx, &pt)
	if err != nil {
		return nil, s.wrap(err, "get decrypted")
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// PruneDecrypted implements store.DecryptBufferStore.
func (s *Store) PruneDecrypted(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := checkLimit(limit, "prune decrypted"); err != nil {
		return 0, err
	}
	var keys [][]byte
	return s.pruneByKey(ctx, "prune decrypted", (*decryptedRow)(nil), "hash", &keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("created_at < ?", us(before)) }, limit)
}
