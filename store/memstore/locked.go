package memstore

import (
	"context"
	"time"

	"github.com/waent/waent/store"
)

// The methods of Store take the mutex and run the operation outside any
// transaction (no undo log). The operations themselves are in the files named
// after the store package's files.

// op returns the non-transactional operation runner. The caller holds s.mu.
func (s *Store) op() op { return op{st: s.st} }

func (s *Store) GetAccount(ctx context.Context) (store.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetAccount(ctx)
}

func (s *Store) PutAccount(ctx context.Context, a store.Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutAccount(ctx, a)
}

func (s *Store) PutPreKeys(ctx context.Context, keys []store.PreKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutPreKeys(ctx, keys)
}

func (s *Store) GetPreKey(ctx context.Context, id uint32) (store.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetPreKey(ctx, id)
}

func (s *Store) DeletePreKey(ctx context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeletePreKey(ctx, id)
}

func (s *Store) MarkPreKeysUploaded(ctx context.Context, throughID uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().MarkPreKeysUploaded(ctx, throughID)
}

func (s *Store) PreKeysToUpload(ctx context.Context, limit int) ([]store.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PreKeysToUpload(ctx, limit)
}

func (s *Store) CountPreKeys(ctx context.Context) (total, uploaded int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().CountPreKeys(ctx)
}

func (s *Store) LastPreKeyID(ctx context.Context) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().LastPreKeyID(ctx)
}

func (s *Store) PutSignedPreKey(ctx context.Context, k store.SignedPreKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutSignedPreKey(ctx, k)
}

func (s *Store) GetSignedPreKey(ctx context.Context, id uint32) (store.SignedPreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetSignedPreKey(ctx, id)
}

func (s *Store) ListSignedPreKeys(ctx context.Context) ([]store.SignedPreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().ListSignedPreKeys(ctx)
}

func (s *Store) DeleteSignedPreKey(ctx context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteSignedPreKey(ctx, id)
}

func (s *Store) GetSession(ctx context.Context, addr store.Address) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetSession(ctx, addr)
}

func (s *Store) PutSessions(ctx context.Context, sessions []store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutSessions(ctx, sessions)
}

func (s *Store) SessionDevices(ctx context.Context, name string) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().SessionDevices(ctx, name)
}

func (s *Store) DeleteSession(ctx context.Context, addr store.Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteSession(ctx, addr)
}

func (s *Store) DeleteSessions(ctx context.Context, name string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteSessions(ctx, name)
}

func (s *Store) DeleteAllSessions(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteAllSessions(ctx)
}

func (s *Store) GetPeerIdentity(ctx context.Context, addr store.Address) (store.PeerIdentity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetPeerIdentity(ctx, addr)
}

func (s *Store) PutPeerIdentity(ctx context.Context, p store.PeerIdentity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutPeerIdentity(ctx, p)
}

func (s *Store) DeletePeerIdentity(ctx context.Context, addr store.Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeletePeerIdentity(ctx, addr)
}

func (s *Store) GetSenderKey(ctx context.Context, groupID, sender string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetSenderKey(ctx, groupID, sender)
}

func (s *Store) PutSenderKey(ctx context.Context, groupID, sender string, record []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutSenderKey(ctx, groupID, sender, record)
}

func (s *Store) DeleteSenderKey(ctx context.Context, groupID, sender string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteSenderKey(ctx, groupID, sender)
}

func (s *Store) PutDecrypted(ctx context.Context, hash, plaintext []byte, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutDecrypted(ctx, hash, plaintext, at)
}

func (s *Store) GetDecrypted(ctx context.Context, hash []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetDecrypted(ctx, hash)
}

func (s *Store) PruneDecrypted(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PruneDecrypted(ctx, before)
}

func (s *Store) AddMessages(ctx context.Context, msgs []store.Message) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().AddMessages(ctx, msgs)
}

func (s *Store) GetMessage(ctx context.Context, id string) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetMessage(ctx, id)
}

func (s *Store) ApplyStatuses(ctx context.Context, events []store.StatusEvent) ([]store.StatusOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().ApplyStatuses(ctx, events)
}

func (s *Store) StatusHistory(ctx context.Context, id string) ([]store.StatusEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().StatusHistory(ctx, id)
}

func (s *Store) DeleteMessages(ctx context.Context, ids []string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteMessages(ctx, ids)
}

func (s *Store) PruneMessages(ctx context.Context, q store.PruneQuery) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PruneMessages(ctx, q)
}

func (s *Store) EnqueueOutbox(ctx context.Context, items []store.OutboxItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().EnqueueOutbox(ctx, items)
}

func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DueOutbox(ctx, now, limit)
}

func (s *Store) RescheduleOutbox(ctx context.Context, messageID string, attempts int, next time.Time, lastError string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().RescheduleOutbox(ctx, messageID, attempts, next, lastError)
}

func (s *Store) DeleteOutbox(ctx context.Context, messageIDs []string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteOutbox(ctx, messageIDs)
}

func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().OutboxLen(ctx)
}

func (s *Store) EnqueueCallbacks(ctx context.Context, cbs []store.Callback) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().EnqueueCallbacks(ctx, cbs)
}

func (s *Store) PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PendingCallbacks(ctx, afterSeq, limit)
}

func (s *Store) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().RescheduleCallback(ctx, seq, attempts, next)
}

func (s *Store) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().AckCallbacks(ctx, seqs)
}

func (s *Store) CallbackQueueLen(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().CallbackQueueLen(ctx)
}

func (s *Store) GetContacts(ctx context.Context, inputs []string) ([]store.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetContacts(ctx, inputs)
}

func (s *Store) PutContacts(ctx context.Context, contacts []store.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutContacts(ctx, contacts)
}

func (s *Store) PruneContacts(ctx context.Context, checkedBefore time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PruneContacts(ctx, checkedBefore)
}

func (s *Store) GetSettings(ctx context.Context, name string) (store.SettingsDoc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetSettings(ctx, name)
}

func (s *Store) PutSettings(ctx context.Context, name string, value []byte, expectVersion int64, at time.Time) (store.SettingsDoc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutSettings(ctx, name, value, expectVersion, at)
}

func (s *Store) DeleteSettings(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteSettings(ctx, name)
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().CreateUser(ctx, u)
}

func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetUser(ctx, username)
}

func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().UpdateUser(ctx, u)
}

func (s *Store) DeleteUser(ctx context.Context, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteUser(ctx, username)
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().ListUsers(ctx)
}

func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().CreateToken(ctx, t)
}

func (s *Store) GetToken(ctx context.Context, hash []byte) (store.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetToken(ctx, hash)
}

func (s *Store) RevokeUserTokens(ctx context.Context, username string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().RevokeUserTokens(ctx, username, at)
}

func (s *Store) PruneTokens(ctx context.Context, expiredBefore time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PruneTokens(ctx, expiredBefore)
}

func (s *Store) PutTemplates(ctx context.Context, ts []store.Template) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().PutTemplates(ctx, ts)
}

func (s *Store) GetTemplate(ctx context.Context, key store.TemplateKey) (store.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetTemplate(ctx, key)
}

func (s *Store) ListTemplates(ctx context.Context, f store.TemplateFilter) ([]store.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().ListTemplates(ctx, f)
}

func (s *Store) DeleteTemplate(ctx context.Context, key store.TemplateKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteTemplate(ctx, key)
}

func (s *Store) CreateMedia(ctx context.Context, m store.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().CreateMedia(ctx, m)
}

func (s *Store) GetMedia(ctx context.Context, id string) (store.Media, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetMedia(ctx, id)
}

func (s *Store) UpdateMedia(ctx context.Context, m store.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().UpdateMedia(ctx, m)
}

func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().DeleteMedia(ctx, id)
}

func (s *Store) UnusedMedia(ctx context.Context, usedBefore time.Time, limit int) ([]store.Media, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().UnusedMedia(ctx, usedBefore, limit)
}

func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().AcquireLease(ctx, name, holder, now, ttl)
}

func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().ReleaseLease(ctx, name, holder, token)
}

func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.op().GetLease(ctx, name)
}
