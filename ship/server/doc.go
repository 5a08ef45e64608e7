// Package server is Ship's HTTP API (spec/ship.md, agent-reach.md §2.7 and
// §6.1): meta, capabilities and health, Python execution in the kernel,
// shell commands (both also streamed as NDJSON and cancellable by exec
// id), workspace files and the terminal WebSocket.
//
// It imports the standard library and the other ship/ packages; nothing of
// Bay's core or adapters.
package server
