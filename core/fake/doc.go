// Package fake holds in-memory implementations of core's non-store ports —
// Runtime, Clock and IDs — for the unit tests of core's services. The fake
// Runtime passes the same conformance suite as the Docker adapter, except
// for the HTTP check of a started runtime: it starts no server.
//
// It imports core and the standard library only.
package fake
