// Package httpapi serves Bay's REST API (openapi/bay.yaml) over net/http.
//
// It implements the strict server generated into ./oapigen on top of small
// consumer-side interfaces (Sandboxes, Lockers, GC, Idempotency) that the
// core services satisfy, and owns everything HTTP-specific: authentication,
// request IDs, request-shape validation (422), the one table from core error
// codes to HTTP statuses, the error envelope, body limits, streaming uploads
// and downloads, access logs, /openapi.json and /docs.
//
// It imports core, ./oapigen, the standard library and the oapi-codegen
// runtime the generated code needs; never another adapter.
package httpapi
