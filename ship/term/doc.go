// Package term serves an interactive bash in a PTY over a WebSocket
// (Ship's /term/ws).
//
// It imports the standard library, creack/pty, coder/websocket and
// ship/runas only.
package term
