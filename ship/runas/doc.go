// Package runas describes the account that user-facing processes (kernel,
// shell commands, terminal) run as, and builds their credentials and
// environment.
//
// When the server runs as root, children get uid/gid 1000 (user shipyard)
// with supplementary groups reset; otherwise they run as the current user.
// It imports the standard library only.
package runas
