// Command browserd is the browser runtime that runs inside a session's
// browser container (browser.md §5.1): Chromium driven over a pipe, behind
// the HTTP API of browser/wire.
//
// It refuses to start without BAY_RUNTIME_TOKEN, the per-session token
// the control plane generates: every request but GET /health must carry
// it as "Authorization: Bearer <token>". browserd removes the variable
// from its environment at start and starts Chromium with an environment of
// its own. Settings (BROWSERD_PORT, BROWSERD_CHROMIUM_SANDBOX, …) are
// listed by -help and in images/README.md.
package main
