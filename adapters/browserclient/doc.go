// Package browserclient implements core.Browser over the browser runtime's
// HTTP API (browserd, browser.md §3 and §5.1): keep-alive connections, no
// proxies from the environment, the bearer token on every call but
// /health, the client timeouts of browser.md §3.1 (the command's timeout
// plus 5 s, a batch's plus 10 s) and the error mapping of the Ship client
// (ship_error, timeout, core.ErrUnreachable for a refused connection).
//
// Check applies browser/wire's grammar, the one browserd applies again,
// so that Bay refuses a malformed command before it starts a session.
//
// It imports core, browser/wire (the browser runtime's contract) and the
// standard library.
package browserclient
