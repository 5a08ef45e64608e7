// Package httpapi serves Bay's REST API (openapi/bay.yaml) over net/http.
//
// It implements the strict server generated into ./oapigen on top of small
// consumer-side interfaces (Sandboxes, Executions, Lockers, GC, Idempotency)
// that the core services satisfy, and owns everything HTTP-specific:
// authentication, request IDs, request-shape validation (422), the one table
// from core error codes to HTTP statuses, the error envelope, body limits,
// streaming uploads and downloads, Server-Sent Events, the terminal's
// WebSocket relay, access logs, /openapi.json and the /docs explorer.
//
// It imports core, ./oapigen (whose embedded spec gives the body rules), the
// standard library, the oapi-codegen runtime, coder/websocket and the
// embedded Swagger UI assets; never another adapter.
package httpapi
