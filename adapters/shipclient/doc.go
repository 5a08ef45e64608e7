// Package shipclient implements core.Ship over the Ship runtime's HTTP API
// (ship.md; bay-api.md Appendix A): keep-alive connections, no proxies from
// the environment, the contract's per-call timeouts, and its error mapping.
// The bodies are ship/wire's types, which Ship itself serves; the client
// maps them to core's types.
//
// It imports core, ship/wire (the one Ship package Bay may import) and the
// standard library.
package shipclient
