// Package shipclient implements core.Ship over the Ship runtime's HTTP API
// (ship.md; bay-api.md Appendix A): keep-alive connections, no proxies from
// the environment, the contract's per-call timeouts, and its error mapping.
//
// It imports core and the standard library.
package shipclient
