// Package wire is the HTTP contract between Bay and Ship (spec/ship.md): the
// paths, the request and response bodies of every route Bay calls, /meta and
// /health, the error body, and the bearer-token rule. Ship's server,
// cmd/fakeship and Bay's adapters/shipclient all import it, so a field
// renamed here is renamed on both sides of the wire at once.
//
// Optional request fields are pointers (nil is "not sent", so Ship applies
// its default); a response field is a pointer where the contract allows
// null.
//
// It imports the standard library only.
package wire
