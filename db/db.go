// Package db embeds Bay's SQL: the goose migrations of both engines. The
// queries next to them are compiled by sqlc into each store adapter.
//
// db imports only embed and io/fs.
package db

import (
	"embed"
	"io/fs"
)

//go:embed schema/sqlite/*.sql schema/postgres/*.sql
var schema embed.FS

// SQLiteMigrations holds the goose migrations for SQLite.
var SQLiteMigrations = sub("schema/sqlite")

// PostgresMigrations holds the goose migrations for Postgres.
var PostgresMigrations = sub("schema/postgres")

func sub(dir string) fs.FS {
	f, err := fs.Sub(schema, dir)
	if err != nil {
		panic(err) // the directories are embedded above; this cannot fail
	}
	return f
}
