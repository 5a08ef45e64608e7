// Command ship is the runtime server that runs inside every sandbox
// container: see spec/ship.md.
//
// It refuses to start without BAY_RUNTIME_TOKEN, the per-session token the
// control plane generates: every request but GET /health must carry it as
// "Authorization: Bearer <token>". Ship removes the variable from its
// environment at start, so the kernel, shell commands and the terminal do
// not inherit it. Other settings (SHIP_PORT, SHIP_WORKSPACE, ...) are listed
// by -help and in images/README.md.
package main
