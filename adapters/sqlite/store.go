package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/bayhq/bay/adapters/sqlite/internal/sqlitedb"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/db"
)

// Store implements core.Store on one SQLite database file.
type Store struct {
	db    *sql.DB
	stmts *stmtCache
	q     *sqlitedb.Queries
	tx    *sql.Tx // set when the Store is bound to a transaction
}

var _ core.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path; ":memory:"
// opens a private in-memory database. It does not migrate; call Migrate.
//
// The connection runs with foreign keys on, WAL, a busy timeout and
// _txlock=immediate, so every transaction takes the write lock at BEGIN:
// read-modify-write closures are serialised without upgrade deadlocks. There
// is one connection, so code inside a transaction must use the transaction's
// Store, never the outer one, or it waits on itself.
func Open(ctx context.Context, path string) (*Store, error) {
	v := url.Values{}
	v.Set("_foreign_keys", "on")
	v.Set("_busy_timeout", "10000")
	v.Set("_txlock", "immediate")
	v.Set("_synchronous", "NORMAL")
	if path != ":memory:" {
		v.Set("_journal_mode", "WAL")
	}
	dsn := "file:" + path + "?" + v.Encode()
	sqldb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	stmts := newStmtCache(sqldb)
	return &Store{db: sqldb, stmts: stmts, q: sqlitedb.New(cachedDB{stmts})}, nil
}

// Migrations returns a goose provider over the embedded SQLite migrations.
func (s *Store) Migrations() (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, s.db, db.SQLiteMigrations)
}

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.Migrations()
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(&Store{db: s.db, stmts: s.stmts, q: sqlitedb.New(cachedTx{s.stmts, tx}), tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// LockOwner implements core.Store. Nothing to take: every transaction
// starts with BEGIN IMMEDIATE (the DSN's _txlock), which holds the
// database's write lock, across processes, until it ends.
func (s *Store) LockOwner(ctx context.Context, owner string) error {
	if s.tx == nil {
		return core.Errorf(core.CodeInternal, "LockOwner outside a transaction")
	}
	return nil
}

// Ping implements core.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements core.Store.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// DB returns the database handle, for tools such as migrations.
func (s *Store) DB() *sql.DB { return s.db }

// translate turns driver errors into core errors, keeping the cause.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return core.Wrap(err, core.CodeNotFound, "not found")
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return core.Wrap(err, core.CodeConflict, "already exists")
		case sqlite3.ErrConstraintForeignKey:
			return core.Wrap(err, core.CodeNotFound, "referenced row not found")
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return core.Wrap(err, core.CodeTimeout, "database timed out")
	}
	return err
}

// notFound returns a not_found error naming the entity.
func notFound(kind, id string) error {
	return core.NotFound("%s not found: %s", kind, id)
}

// notFoundOr names the missing entity for sql.ErrNoRows and translates any
// other error.
func notFoundOr(err error, kind, id string) error {
	err = translate(err)
	if core.CodeOf(err) == core.CodeNotFound {
		return notFound(kind, id)
	}
	return err
}

// timeLayout is how times are stored: UTC, fixed width, six fractional
// digits, so that comparing the strings compares the times. SQLite's own
// date functions are never used on these columns.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func timeString(t time.Time) string { return t.UTC().Format(timeLayout) }

func timePtrString(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timeString(*t)
	return &s
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func parseTimePtr(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := parseTime(*s)
	if err != nil {
		return nil, err
	}
	return &t, nil
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

// stateStrings binds session states as a list of text.
func stateStrings(states []core.SessionState) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}

// timeParser collects the first parse error over several conversions.
type timeParser struct{ err error }

func (p *timeParser) t(s string) time.Time {
	t, err := parseTime(s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}

func (p *timeParser) ptr(s *string) *time.Time {
	t, err := parseTimePtr(s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}
