// Package shipclient implements core.Ship over the Ship runtime's HTTP API
// (ship.md; bay-api.md Appendix A): keep-alive connections, no proxies from
// the environment, the contract's per-call timeouts, and its error mapping.
// Streamed executions (agent-reach.md §2.7) read Ship's NDJSON answer line
// by line and hand each event on as it arrives.
// The bodies are ship/wire's types, which Ship itself serves; the client
// maps them to core's types.
//
// It imports core, ship/wire (the one Ship package Bay may import) and the
// standard library.
package shipclient
