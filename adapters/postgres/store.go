package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/db"
)

// Store implements core.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	q    *pgdb.Queries
	tx   pgx.Tx // set when the Store is bound to a transaction
}

var _ core.Store = (*Store)(nil)

// Open connects to the database at url (postgres://… or postgresql://…). It
// does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{pool: pool, q: pgdb.New(pool)}, nil
}

// Migrations returns a goose provider over the embedded Postgres migrations
// holding goose's session lock, and the database/sql handle it runs on,
// which the caller closes when done.
func (s *Store) Migrations() (*goose.Provider, *sql.DB, error) {
	sqldb := stdlib.OpenDBFromPool(s.pool)
	// The advisory lock is per database while migrations are per schema, so
	// the lock id is derived from the schema: instances sharing a schema
	// serialise, separate schemas (as in tests) do not wait on each other.
	var schema string
	if err := s.pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		_ = sqldb.Close()
		return nil, nil, fmt.Errorf("read current schema: %w", err)
	}
	lockID := int64(crc32.ChecksumIEEE([]byte("bay-goose:" + schema)))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		_ = sqldb.Close()
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, db.PostgresMigrations,
		goose.WithSessionLocker(locker))
	if err != nil {
		_ = sqldb.Close()
		return nil, nil, err
	}
	return p, sqldb, nil
}

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	p, sqldb, err := s.Migrations()
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer sqldb.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Sandboxes implements core.Store.
func (s *Store) Sandboxes() core.SandboxStore { return sandboxStore{s} }

// Sessions implements core.Store.
func (s *Store) Sessions() core.SessionStore { return sessionStore{s} }

// Lockers implements core.Store.
func (s *Store) Lockers() core.LockerStore { return lockerStore{s} }

// Idempotency implements core.Store.
func (s *Store) Idempotency() core.IdempotencyStore { return idempotencyStore{s} }

// Executions implements core.Store.
func (s *Store) Executions() core.ExecutionStore { return executionStore{s} }

// InTx implements core.Store.
func (s *Store) InTx(ctx context.Context, fn func(tx core.Store) error) (err error) {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(&Store{pool: s.pool, q: s.q.WithTx(tx), tx: tx}); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// LockOwner implements core.Store with a transaction-scoped advisory lock
// keyed by the owner's hash: a collision only serialises two owners.
func (s *Store) LockOwner(ctx context.Context, owner string) error {
	if s.tx == nil {
		return core.Errorf(core.CodeInternal, "LockOwner outside a transaction")
	}
	return translate(s.q.OwnerLock(ctx, owner))
}

// Ping implements core.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements core.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Postgres error codes Bay translates.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	// pgCharacterNotInRepertoire is raised for a NUL byte or invalid UTF-8
	// in a text value: Postgres text cannot hold either.
	pgCharacterNotInRepertoire  = "22021"
	pgInvalidTextRepresentation = "22P02"
	// pgProgramLimitExceeded is raised for a value too large for an index row.
	pgProgramLimitExceeded = "54000"
)

// translate turns driver errors into core errors, keeping the cause.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return core.Wrap(err, core.CodeNotFound, "not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return core.Wrap(err, core.CodeConflict, "already exists")
		case pgForeignKeyViolation:
			return core.Wrap(err, core.CodeNotFound, "referenced row not found")
		case pgCharacterNotInRepertoire, pgInvalidTextRepresentation:
			return core.Wrap(err, core.CodeValidation, "text contains a NUL byte or invalid UTF-8")
		case pgProgramLimitExceeded:
			return core.Wrap(err, core.CodeValidation, "value too large")
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return core.Wrap(err, core.CodeTimeout, "database timed out")
	}
	return err
}

func notFound(kind, id string) error {
	return core.NotFound("%s not found: %s", kind, id)
}

// notFoundOr names the missing entity for pgx.ErrNoRows and translates any
// other error.
func notFoundOr(err error, kind, id string) error {
	err = translate(err)
	if core.CodeOf(err) == core.CodeNotFound {
		return notFound(kind, id)
	}
	return err
}

// ts converts a time for storage: UTC at microsecond precision, which is
// what timestamptz keeps.
func ts(t time.Time) time.Time { return core.Micro(t) }

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := core.Micro(*t)
	return &u
}

// utc converts a time read back from the database to UTC.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullable maps "" to NULL for the optional id columns.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stateStrings binds session states as a text array.
func stateStrings(states []core.SessionState) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}
