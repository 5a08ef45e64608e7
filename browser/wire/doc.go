// Package wire is the HTTP contract of the browser runtime (browserd,
// browser.md §3 and §5.1): its routes, the runtime token rule, the bodies
// of /health, /meta, /exec and /exec_batch, the command grammar (typed
// commands and the compatibility command strings) and the limits.
//
// browserd serves these types and Bay's browser client sends them, so the
// grammar has one home: Bay validates a request with it before it starts a
// session (bay-api.md §3.4), and browserd validates again on arrival.
//
// It imports the standard library only.
package wire
