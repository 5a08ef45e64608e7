// Package test holds Bay's black-box tests: the architecture rules checked
// over `go list`, and the end-to-end tests that build cmd/bay and drive it
// over HTTP against real SQLite, Postgres, Docker and the Ship image.
package test
