package memstore

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/waent/waent/store"
)

// Prekeys.

func (o op) PutPreKeys(ctx context.Context, keys []store.PreKey) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	seen := make(map[uint32]bool, len(keys))
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return err
		}
		if _, ok := o.st.preKeys[k.ID]; ok || seen[k.ID] {
			return store.Conflictf("prekey %d exists", k.ID)
		}
		seen[k.ID] = true
	}
	for _, k := range keys {
		put(o, o.st.preKeys, k.ID, copyPreKey(k))
	}
	return nil
}

func (o op) GetPreKey(ctx context.Context, id uint32) (store.PreKey, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.PreKey{}, err
	}
	defer leave()
	k, ok := o.st.preKeys[id]
	if !ok {
		return store.PreKey{}, store.NotFoundf("prekey %d", id)
	}
	return copyPreKey(k), nil
}

func (o op) DeletePreKey(ctx context.Context, id uint32) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.preKeys, id) {
		return store.NotFoundf("prekey %d", id)
	}
	return nil
}

func (o op) MarkPreKeysUploaded(ctx context.Context, throughID uint32) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for id, k := range o.st.preKeys {
		if id <= throughID && !k.Uploaded {
			k.Uploaded = true
			put(o, o.st.preKeys, id, k)
		}
	}
	return nil
}

func (o op) PreKeysToUpload(ctx context.Context, limit int) ([]store.PreKey, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if limit <= 0 {
		return nil, store.Invalidf("prekeys to upload: limit must be positive, got %d", limit)
	}
	var ids []uint32
	for id, k := range o.st.preKeys {
		if !k.Uploaded {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = ids[:min(limit, len(ids))]
	out := make([]store.PreKey, 0, len(ids))
	for _, id := range ids {
		out = append(out, copyPreKey(o.st.preKeys[id]))
	}
	return out, nil
}

func (o op) CountPreKeys(ctx context.Context) (total, uploaded int, err error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer leave()
	for _, k := range o.st.preKeys {
		if k.Uploaded {
			uploaded++
		}
	}
	return len(o.st.preKeys), uploaded, nil
}

func (o op) LastPreKeyID(ctx context.Context) (uint32, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	var last uint32
	for id := range o.st.preKeys {
		last = max(last, id)
	}
	return last, nil
}

// Signed prekeys.

func (o op) PutSignedPreKey(ctx context.Context, k store.SignedPreKey) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := k.Validate(); err != nil {
		return err
	}
	put(o, o.st.signedPreKeys, k.ID, copySignedPreKey(k))
	return nil
}

func (o op) GetSignedPreKey(ctx context.Context, id uint32) (store.SignedPreKey, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.SignedPreKey{}, err
	}
	defer leave()
	k, ok := o.st.signedPreKeys[id]
	if !ok {
		return store.SignedPreKey{}, store.NotFoundf("signed prekey %d", id)
	}
	return copySignedPreKey(k), nil
}

func (o op) ListSignedPreKeys(ctx context.Context) ([]store.SignedPreKey, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := make([]store.SignedPreKey, 0, len(o.st.signedPreKeys))
	for _, k := range o.st.signedPreKeys {
		out = append(out, copySignedPreKey(k))
	}
	slices.SortFunc(out, func(a, b store.SignedPreKey) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (o op) DeleteSignedPreKey(ctx context.Context, id uint32) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.signedPreKeys, id) {
		return store.NotFoundf("signed prekey %d", id)
	}
	return nil
}

// Sessions.

func (o op) GetSession(ctx context.Context, addr store.Address) ([]byte, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	rec, ok := o.st.sessions[addr]
	if !ok {
		return nil, store.NotFoundf("session %s", addr)
	}
	return bytes.Clone(rec), nil
}

func (o op) PutSessions(ctx context.Context, sessions []store.Session) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for _, s := range sessions {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	for _, s := range sessions {
		put(o, o.st.sessions, s.Address, bytes.Clone(s.Record))
	}
	return nil
}

func (o op) SessionDevices(ctx context.Context, name string) ([]uint32, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := []uint32{}
	for addr := range o.st.sessions {
		if addr.Name == name {
			out = append(out, addr.DeviceID)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (o op) DeleteSession(ctx context.Context, addr store.Address) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.sessions, addr) {
		return store.NotFoundf("session %s", addr)
	}
	return nil
}

func (o op) DeleteSessions(ctx context.Context, name string) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	n := 0
	for addr := range o.st.sessions {
		if addr.Name == name {
			del(o, o.st.sessions, addr)
			n++
		}
	}
	return n, nil
}

func (o op) DeleteAllSessions(ctx context.Context) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for addr := range o.st.sessions {
		del(o, o.st.sessions, addr)
	}
	return nil
}

// Peer identities.

func (o op) GetPeerIdentity(ctx context.Context, addr store.Address) (store.PeerIdentity, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.PeerIdentity{}, err
	}
	defer leave()
	p, ok := o.st.peerIdentities[addr]
	if !ok {
		return store.PeerIdentity{}, store.NotFoundf("peer identity %s", addr)
	}
	return copyPeerIdentity(p), nil
}

func (o op) PutPeerIdentity(ctx context.Context, p store.PeerIdentity) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := p.Validate(); err != nil {
		return err
	}
	put(o, o.st.peerIdentities, p.Address, copyPeerIdentity(p))
	return nil
}

func (o op) DeletePeerIdentity(ctx context.Context, addr store.Address) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.peerIdentities, addr) {
		return store.NotFoundf("peer identity %s", addr)
	}
	return nil
}

// Sender keys.

func (o op) GetSenderKey(ctx context.Context, groupID, sender string) ([]byte, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	rec, ok := o.st.senderKeys[senderKeyID{groupID, sender}]
	if !ok {
		return nil, store.NotFoundf("sender key %s/%s", groupID, sender)
	}
	return bytes.Clone(rec), nil
}

func (o op) PutSenderKey(ctx context.Context, groupID, sender string, record []byte) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := store.ValidateSenderKey(groupID, sender, record); err != nil {
		return err
	}
	put(o, o.st.senderKeys, senderKeyID{groupID, sender}, bytes.Clone(record))
	return nil
}

func (o op) DeleteSenderKey(ctx context.Context, groupID, sender string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.senderKeys, senderKeyID{groupID, sender}) {
		return store.NotFoundf("sender key %s/%s", groupID, sender)
	}
	return nil
}

// Decrypt buffer.

func (o op) PutDecrypted(ctx context.Context, hash, plaintext []byte, at time.Time) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if len(hash) != store.HashLen {
		return store.Invalidf("decrypted: hash must be %d bytes, got %d", store.HashLen, len(hash))
	}
	if _, ok := o.st.decrypted[string(hash)]; ok {
		return nil // the first plaintext stays
	}
	put(o, o.st.decrypted, string(hash), decryptedEntry{plaintext: bytes.Clone(plaintext), at: norm(at)})
	return nil
}

func (o op) GetDecrypted(ctx context.Context, hash []byte) ([]byte, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	e, ok := o.st.decrypted[string(hash)]
	if !ok {
		return nil, store.NotFoundf("decrypted %x", hash)
	}
	return bytes.Clone(e.plaintext), nil
}

func (o op) PruneDecrypted(ctx context.Context, before time.Time, limit int) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if limit <= 0 {
		return 0, store.Invalidf("prune decrypted: limit must be positive, got %d", limit)
	}
	n := 0
	for h, e := range o.st.decrypted {
		if n < limit && e.at.Before(norm(before)) {
			del(o, o.st.decrypted, h)
			n++
		}
	}
	return n, nil
}
