package core

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. The set copies the table of
// the API contract (bay-api.md §3.2) exactly, plus upgrade_required
// (agent-reach.md §0) and service_unavailable (start-up).
type Code string

// Error codes of the API contract.
const (
	CodeValidation             Code = "validation_error"
	CodeInvalidPath            Code = "invalid_path"
	CodeCapabilityNotSupported Code = "capability_not_supported"
	CodeUnauthorized           Code = "unauthorized"
	CodeForbidden              Code = "forbidden"
	CodeNotFound               Code = "not_found"
	CodeFileNotFound           Code = "file_not_found"
	CodeMethodNotAllowed       Code = "method_not_allowed"
	CodeConflict               Code = "conflict"
	CodeSandboxExpired         Code = "sandbox_expired"
	CodeSandboxTTLInfinite     Code = "sandbox_ttl_infinite"
	CodePayloadTooLarge        Code = "payload_too_large"
	CodeGCRunning              Code = "gc_running"
	CodeUpgradeRequired        Code = "upgrade_required" // a plain request to a WebSocket-only endpoint
	CodeQuotaExceeded          Code = "quota_exceeded"
	CodeInternal               Code = "internal_error"
	CodeShipError              Code = "ship_error"
	CodeSessionNotReady        Code = "session_not_ready"
	CodeTimeout                Code = "timeout"
	// CodeServiceUnavailable: Bay is starting and does not serve the API
	// yet (its database is not migrated); only GET /health answers.
	CodeServiceUnavailable Code = "service_unavailable"
)

// Codes lists every code, in the order of the contract's table.
var Codes = []Code{
	CodeValidation, CodeInvalidPath, CodeCapabilityNotSupported, CodeUnauthorized,
	CodeForbidden, CodeNotFound, CodeFileNotFound, CodeMethodNotAllowed, CodeConflict,
	CodeSandboxExpired, CodeSandboxTTLInfinite, CodePayloadTooLarge, CodeGCRunning,
	CodeUpgradeRequired, CodeQuotaExceeded, CodeInternal, CodeShipError, CodeSessionNotReady,
	CodeTimeout, CodeServiceUnavailable,
}

// Error is Bay's one error type. Code selects the HTTP status at the boundary;
// Message is human text; Details is the optional structured part of the error
// envelope; Err keeps the underlying cause for logs.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails sets Details and returns e.
func (e *Error) WithDetails(details map[string]any) *Error {
	e.Details = details
	return e
}

// Wrap returns an *Error with the given code and message whose cause is err.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// NotFound returns a not_found error with the given message.
func NotFound(format string, args ...any) *Error { return Errorf(CodeNotFound, format, args...) }

// Conflict returns a conflict error with the given message.
func Conflict(format string, args ...any) *Error { return Errorf(CodeConflict, format, args...) }

// Invalid returns a validation_error with the given message.
func Invalid(format string, args ...any) *Error { return Errorf(CodeValidation, format, args...) }
