// Package server is Ship's HTTP API (spec/ship.md): meta and health,
// Python execution in the kernel, shell commands, workspace files and the
// terminal WebSocket.
//
// It imports the standard library and the other ship/ packages; nothing of
// Bay's core or adapters.
package server
