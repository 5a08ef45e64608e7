// Package core holds Bay's domain: the entities (Sandbox, Session, Locker,
// Profile, idempotency records), the ports that adapters implement
// (SandboxStore, SessionStore, LockerStore, IdempotencyStore, Runtime, Clock,
// IDs) and the services that hold every rule.
//
// core imports only the standard library. It knows nothing about SQL, HTTP or
// Docker: adapters translate their technology's errors into *Error values at
// the boundary.
package core
