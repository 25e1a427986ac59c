package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type userRow struct {
	bun.BaseModel `bun:"table:waent_users"`

	Username           string `bun:"username,pk"`
	PasswordHash       string `bun:"password_hash"`
	Role               string `bun:"role"`
	MustChangePassword bool   `bun:"must_change_password"`
	CreatedAt          int64  `bun:"created_at"`
	UpdatedAt          int64  `bun:"updated_at"`
}

func (r userRow) record() store.User {
	return store.User{
		Username: r.Username, PasswordHash: r.PasswordHash, Role: store.Role(r.Role),
		MustChangePassword: r.MustChangePassword, CreatedAt: fromUS(r.CreatedAt), UpdatedAt: fromUS(r.UpdatedAt),
	}
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	r := userRow{
		Username: u.Username, PasswordHash: u.PasswordHash, Role: string(u.Role), MustChangePassword: u.MustChangePassword,
		CreatedAt: us(u.CreatedAt), UpdatedAt: us(u.UpdatedAt),
	}
	inserted, err := s.insertIfAbsent(ctx, s.w.NewInsert().Model(&r), "username")
	if err != nil {
		return s.wrap(err, "create user %q", u.Username)
	}
	if !inserted {
		return store.Conflictf("user %q exists", u.Username)
	}
	return nil
}

// GetUser implements store.UserStore.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	var r userRow
	if err := s.r.NewSelect().Model(&r).Where("username = ?", username).Scan(ctx); err != nil {
		return store.User{}, s.wrap(err, "get user %q", username)
	}
	return r.record(), nil
}

// UpdateUser implements store.UserStore.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	res, err := s.w.NewUpdate().Model((*userRow)(nil)).
		Set("password_hash = ?", u.PasswordHash).Set("role = ?", string(u.Role)).
		Set("must_change_password = ?", u.MustChangePassword).Set("updated_at = ?", us(u.UpdatedAt)).
		Where("username = ?", u.Username).Exec(ctx)
	if err != nil {
		return s.wrap(err, "update user %q", u.Username)
	}
	if affected(res) == 0 {
		return store.NotFoundf("user %q", u.Username)
	}
	return nil
}

// DeleteUser implements store.UserStore.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.atomic(ctx, func(tx *Store) error {
		res, err := tx.w.NewDelete().Model((*userRow)(nil)).Where("username = ?", username).Exec(ctx)
		if err != nil {
			return tx.wrap(err, "delete user %q", username)
		}
		if affected(res) == 0 {
			return store.NotFoundf("user %q", username)
		}
		_, err = tx.w.NewDelete().Model((*tokenRow)(nil)).Where("username = ?", username).Exec(ctx)
		return tx.wrap(err, "delete tokens of %q", username)
	})
}

// ListUsers implements store.UserStore.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	var rows []userRow
	if err := s.r.NewSelect().Model(&rows).Order("username").Scan(ctx); err != nil {
		return nil, s.wrap(err, "list users")
	}
	out := make([]store.User, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

type tokenRow struct {
	bun.BaseModel `bun:"table:waent_tokens"`

	Hash      []byte `bun:"hash,pk"`
	Username  string `bun:"username"`
	CreatedAt int64  `bun:"created_at"`
	ExpiresAt int64  `bun:"expires_at"`
	RevokedAt int64  `bun:"revoked_at"`
}

// CreateToken implements store.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.atomic(ctx, func(tx *Store) error {
		// Checked inside the transaction so a token cannot outlive a user
		// deleted concurrently (DeleteUser removes tokens in its own
		// transaction, after the user row).
		n, err := tx.w.NewSelect().Model((*userRow)(nil)).Where("username = ?", t.Username).Count(ctx)
		if err != nil {
			return tx.wrap(err, "create token")
		}
		if n == 0 {
			return store.NotFoundf("user %q", t.Username)
		}
		r := tokenRow{Hash: t.Hash, Username: t.Username, CreatedAt: us(t.CreatedAt), ExpiresAt: us(t.ExpiresAt), RevokedAt: us(t.RevokedAt)}
		inserted, err := tx.insertIfAbsent(ctx, tx.w.NewInsert().Model(&r), "hash")
		if err != nil {
			return tx.wrap(err, "create token")
		}
		if !inserted {
			return store.Conflictf("token exists")
		}
		return nil
	})
}

// GetToken implements store.TokenStore.
func (s *Store) GetToken(ctx context.Context, hash []byte) (store.Token, error) {
	var r tokenRow
	if err := s.r.NewSelect().Model(&r).Where("hash = ?", hash).Scan(ctx); err != nil {
		return store.Token{}, s.wrap(err, "get token")
	}
	return store.Token{Hash: r.Hash, Username: r.Username, CreatedAt: fromUS(r.CreatedAt), ExpiresAt: fromUS(r.ExpiresAt), RevokedAt: fromUS(r.RevokedAt)}, nil
}

// RevokeUserTokens implements store.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, username string, at time.Time) (int, error) {
	if at.IsZero() {
		return 0, store.Invalidf("revoke tokens of %q: no time", username)
	}
	res, err := s.w.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", us(at)).
		Where("username = ? AND revoked_at = 0", username).Exec(ctx)
	return affected(res), s.wrap(err, "revoke tokens of %q", username)
}

// PruneTokens implements store.TokenStore.
func (s *Store) PruneTokens(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	if err := checkLimit(limit, "prune tokens"); err != nil {
		return 0, err
	}
	var keys [][]byte
	return s.pruneByKey(ctx, "prune tokens", (*tokenRow)(nil), "hash", &keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("expires_at < ?", us(expiredBefore)) }, limit)
}

type templateRow struct {
	bun.BaseModel `bun:"table:waent_templates"`

	Namespace  string `bun:"namespace,pk"`
	Name       string `bun:"name,pk"`
	Language   string `bun:"language,pk"`
	Category   string `bun:"category"`
	Status     string `bun:"status"`
	Components []byte `bun:"components"`
	UpdatedAt  int64  `bun:"updated_at"`
}

func (r templateRow) record() store.Template {
	return store.Template{
		TemplateKey: store.TemplateKey{Namespace: r.Namespace, Name: r.Name, Language: r.Language},
		Category:    r.Category, Status: store.TemplateStatus(r.Status), Components: r.Components, UpdatedAt: fromUS(r.UpdatedAt),
	}
}

// PutTemplates implements store.TemplateStore.
func (s *Store) PutTemplates(ctx context.Context, ts []store.Template) error {
	rows := make([]templateRow, 0, len(ts))
	index := map[store.TemplateKey]int{}
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			return err
		}
		r := templateRow{
			Namespace: t.Namespace, Name: t.Name, Language: t.Language, Category: t.Category,
			Status: string(t.Status), Components: t.Components, UpdatedAt: us(t.UpdatedAt),
		}
		if i, dup := index[t.TemplateKey]; dup {
			rows[i] = r
			continue
		}
		index[t.TemplateKey] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []templateRow) error {
			_, err := tx.upsert(tx.w.NewInsert().Model(&part), "namespace, name, language",
				"category", "status", "components", "updated_at").Exec(ctx)
			return tx.wrap(err, "put templates")
		})
	})
}

// GetTemplate implements store.TemplateStore.
func (s *Store) GetTemplate(ctx context.Context, key store.TemplateKey) (store.Template, error) {
	var r templateRow
	err := s.r.NewSelect().Model(&r).Where("namespace = ? AND name = ? AND language = ?", key.Namespace, key.Name, key.Language).Scan(ctx)
	if err != nil {
		return store.Template{}, s.wrap(err, "get template %s/%s/%s", key.Namespace, key.Name, key.Language)
	}
	return r.record(), nil
}

// ListTemplates implements store.TemplateStore.
func (s *Store) ListTemplates(ctx context.Context, f store.TemplateFilter) ([]store.Template, error) {
	var rows []templateRow
	q := s.r.NewSelect().Model(&rows).Order("namespace", "name", "language")
	if f.Namespace != "" {
		q = q.Where("namespace = ?", f.Namespace)
	}
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, s.wrap(err, "list templates")
	}
	out := make([]store.Template, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// DeleteTemplate implements store.TemplateStore.
func (s *Store) DeleteTemplate(ctx context.Context, key store.TemplateKey) error {
	res, err := s.w.NewDelete().Model((*templateRow)(nil)).
		Where("namespace = ? AND name = ? AND language = ?", key.Namespace, key.Name, key.Language).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete template")
	}
	if affected(res) == 0 {
		return store.NotFoundf("template %s/%s/%s", key.Namespace, key.Name, key.Language)
	}
	return nil
}

type mediaRow struct {
	bun.BaseModel `bun:"table:waent_media"`

	ID            string `bun:"id,pk"`
	Origin        string `bun:"origin"`
	MimeType      string `bun:"mime_type"`
	Size          int64  `bun:"size"`
	SHA256        []byte `bun:"sha256"`
	Filename      string `bun:"filename"`
	CreatedAt     int64  `bun:"created_at"`
	LastUsedAt    int64  `bun:"last_used_at"`
	MediaKey      []byte `bun:"media_key"`
	FileEncSHA256 []byte `bun:"file_enc_sha256"`
	DirectPath    string `bun:"direct_path"`
	UploadedAt    int64  `bun:"uploaded_at"`
}

func newMediaRow(m store.Media) mediaRow {
	return mediaRow{
		ID: m.ID, Origin: string(m.Origin), MimeType: m.MimeType, Size: m.Size, SHA256: m.SHA256, Filename: m.Filename,
		CreatedAt: us(m.CreatedAt), LastUsedAt: us(m.LastUsedAt),
		MediaKey: m.MediaKey, FileEncSHA256: m.FileEncSHA256, DirectPath: m.DirectPath, UploadedAt: us(m.UploadedAt),
	}
}

func (r mediaRow) record() store.Media {
	return store.Media{
		ID: r.ID, Origin: store.MediaOrigin(r.Origin), MimeType: r.MimeType, Size: r.Size, SHA256: r.SHA256, Filename: r.Filename,
		CreatedAt: fromUS(r.CreatedAt), LastUsedAt: fromUS(r.LastUsedAt),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, DirectPath: r.DirectPath, UploadedAt: fromUS(r.UploadedAt),
	}
}

// CreateMedia implements store.MediaMetaStore.
func (s *Store) CreateMedia(ctx context.Context, m store.Media) error {
	if err := m.Validate(); err != nil {
		return err
	}
	r := newMediaRow(m)
	inserted, err := s.insertIfAbsent(ctx, s.w.NewInsert().Model(&r), "id")
	if err != nil {
		return s.wrap(err, "create media %s", m.ID)
	}
	if !inserted {
		return store.Conflictf("media %s exists", m.ID)
	}
	return nil
}

// GetMedia implements store.MediaMetaStore.
func (s *Store) GetMedia(ctx context.Context, id string) (store.Media, error) {
	var r mediaRow
	if err := s.r.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx); err != nil {
		return store.Media{}, s.wrap(err, "get media %s", id)
	}
	return r.record(), nil
}

// UpdateMedia implements store.MediaMetaStore.
func (s *Store) UpdateMedia(ctx context.Context, m store.Media) error {
	if err := m.Validate(); err != nil {
		return err
	}
	r := newMediaRow(m)
	res, err := s.w.NewUpdate().Model(&r).ExcludeColumn("id", "created_at").WherePK().Exec(ctx)
	if err != nil {
		return s.wrap(err, "update media %s", m.ID)
	}
	if affected(res) == 0 {
		return store.NotFoundf("media %s", m.ID)
	}
	return nil
}

// DeleteMedia implements store.MediaMetaStore.
func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	res, err := s.w.NewDelete().Model((*mediaRow)(nil)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return s.wrap(err, "delete media %s", id)
	}
	if affected(res) == 0 {
		return store.NotFoundf("media %s", id)
	}
	return nil
}

// UnusedMedia implements store.MediaMetaStore.
func (s *Store) UnusedMedia(ctx context.Context, usedBefore time.Time, limit int) ([]store.Media, error) {
	if err := checkLimit(limit, "unused media"); err != nil {
		return nil, err
	}
	var rows []mediaRow
	err := s.r.NewSelect().Model(&rows).Where("last_used_at < ?", us(usedBefore)).Order("last_used_at", "id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, s.wrap(err, "unused media")
	}
	out := make([]store.Media, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}
