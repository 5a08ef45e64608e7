package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/bayhq/bay/adapters/postgres"
	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
)

// openStore opens the configured database. It does not migrate.
func openStore(ctx context.Context, cfg Config) (core.Store, error) {
	kind, addr, err := ParseDatabaseURL(cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case DatabasePostgres:
		return postgres.Open(ctx, addr)
	default:
		return sqlite.Open(ctx, addr)
	}
}

// migrations returns the goose provider of the store and a function that
// releases what it opened.
func migrations(s core.Store) (*goose.Provider, func(), error) {
	switch st := s.(type) {
	case *sqlite.Store:
		p, err := st.Migrations()
		return p, func() {}, err
	case *postgres.Store:
		p, sqldb, err := st.Migrations()
		if err != nil {
			return nil, nil, err
		}
		return p, func() { _ = sqldb.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("store %T has no migrations", s)
	}
}

func applyMigrations(ctx context.Context, s core.Store, logger *slog.Logger) error {
	p, release, err := migrations(s)
	if err != nil {
		return err
	}
	defer release()
	// At a restart the database is usually up to date: one look at the
	// version table, without the migration lock (an advisory lock on
	// Postgres), says so. On any doubt Up decides, under the lock.
	if pending, err := p.HasPending(ctx); err == nil && !pending {
		return nil
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		logger.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

func migrate(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return &usageError{"migrate takes one of up, down, status"}
	}
	s, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	p, release, err := migrations(s)
	if err != nil {
		return err
	}
	defer release()
	switch args[0] {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			fmt.Fprintf(stdout, "applied %05d %s (%s)\n", r.Source.Version, r.Source.Path, r.Duration)
		}
		if err != nil {
			return err
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "database is up to date")
		}
		return nil
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back %05d %s (%s)\n", r.Source.Version, r.Source.Path, r.Duration)
		return nil
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, st := range statuses {
			applied := "pending"
			if st.State == goose.StateApplied {
				applied = "applied " + st.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(stdout, "%05d %-40s %s\n", st.Source.Version, st.Source.Path, applied)
		}
		return nil
	default:
		return &usageError{fmt.Sprintf("unknown migrate command %q", args[0])}
	}
}
