package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"reflect"
	"strings"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

// batchRows bounds the rows of one multi-row INSERT, keeping statements
// well under every server's packet limit.
const batchRows = 500

// upsert turns q into an insert-or-update on the conflict key, updating
// cols from the proposed row.
func (s *Store) upsert(q *bun.InsertQuery, key string, cols ...string) *bun.InsertQuery {
	if s.backend == MySQL {
		q = q.On("DUPLICATE KEY UPDATE")
		for _, c := range cols {
			q = q.Set(c + " = VALUES(" + c + ")")
		}
		return q
	}
	q = q.On("CONFLICT (" + key + ") DO UPDATE")
	for _, c := range cols {
		q = q.Set(c + " = EXCLUDED." + c)
	}
	return q
}

// insertIgnore makes q skip rows whose key exists. MySQL's INSERT IGNORE
// would also swallow truncation and other errors, so it is spelled as a
// no-op update there; rows affected then cannot tell inserted from
// skipped, which insertIfAbsent can.
func (s *Store) insertIgnore(q *bun.InsertQuery, key string) *bun.InsertQuery {
	if s.backend == MySQL {
		first, _, _ := strings.Cut(key, ",")
		return q.On("DUPLICATE KEY UPDATE " + first + " = " + first)
	}
	return q.On("CONFLICT (" + key + ") DO NOTHING")
}

// insertIfAbsent inserts q's single row unless its key exists and reports
// whether it did. On MySQL a duplicate-key error rolls back only the
// statement, so it is caught rather than prevented.
func (s *Store) insertIfAbsent(ctx context.Context, q *bun.InsertQuery, key string) (bool, error) {
	if s.backend == MySQL {
		_, err := q.Exec(ctx)
		if err != nil && errKind(err) == store.ErrConflict {
			return false, nil
		}
		return err == nil, err
	}
	res, err := q.On("CONFLICT (" + key + ") DO NOTHING").Exec(ctx)
	return affected(res) == 1, err
}

func affected(res sql.Result) int {
	if res == nil {
		return 0
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return int(n)
}

func clone(b []byte) []byte { return bytes.Clone(b) }

// chunks calls fn for consecutive slices of at most batchRows elements.
func chunks[T any](items []T, fn func(part []T) error) error {
	for len(items) > 0 {
		n := min(len(items), batchRows)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func checkLimit(limit int, what string) error {
	if limit <= 0 {
		return store.Invalidf("%s: limit must be positive, got %d", what, limit)
	}
	return nil
}

func live(ctx context.Context) error { return ctx.Err() }

// pruneByKey deletes up to limit rows of model that where selects: it
// reads their keys first and deletes by key, as MySQL refuses DELETE ...
// LIMIT with a subquery on the same table and PostgreSQL has no DELETE
// ... LIMIT. keys points to a slice of the key column's Go type.
func (s *Store) pruneByKey(ctx context.Context, what string, model any, key string, keys any,
	where func(*bun.SelectQuery) *bun.SelectQuery, limit int) (int, error) {
	n := 0
	err := s.atomic(ctx, func(tx *Store) error {
		q := where(tx.w.NewSelect().Model(model).Column(key)).Limit(int64(limit))
		if err := q.Scan(ctx, keys); err != nil {
			return tx.wrap(err, "%s: select", what)
		}
		if reflect.ValueOf(keys).Elem().Len() == 0 {
			return nil
		}
		res, err := tx.w.NewDelete().Model(model).Where("? IN (?)", bun.Ident(key), bun.In(reflect.ValueOf(keys).Elem().Interface())).Exec(ctx)
		n = affected(res)
		return tx.wrap(err, "%s", what)
	})
	return n, err
}
