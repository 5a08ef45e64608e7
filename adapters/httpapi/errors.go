package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// statusOf is the one table from core error codes to HTTP statuses
// (bay-api.md §3.2). Request-shape failures are validation_error too but
// answer 422; they travel as *shapeError, not through this table.
var statusOf = map[core.Code]int{
	core.CodeValidation:             http.StatusBadRequest,
	core.CodeInvalidPath:            http.StatusBadRequest,
	core.CodeCapabilityNotSupported: http.StatusBadRequest,
	core.CodeUnauthorized:           http.StatusUnauthorized,
	core.CodeForbidden:              http.StatusForbidden,
	core.CodeNotFound:               http.StatusNotFound,
	core.CodeFileNotFound:           http.StatusNotFound,
	core.CodeMethodNotAllowed:       http.StatusMethodNotAllowed,
	core.CodeConflict:               http.StatusConflict,
	core.CodeSandboxExpired:         http.StatusConflict,
	core.CodeSandboxTTLInfinite:     http.StatusConflict,
	core.CodePayloadTooLarge:        http.StatusRequestEntityTooLarge,
	core.CodeGCRunning:              http.StatusLocked,
	core.CodeUpgradeRequired:        http.StatusUpgradeRequired,
	core.CodeQuotaExceeded:          http.StatusTooManyRequests,
	core.CodeInternal:               http.StatusInternalServerError,
	core.CodeShipError:              http.StatusBadGateway,
	core.CodeSessionNotReady:        http.StatusServiceUnavailable,
	core.CodeTimeout:                http.StatusGatewayTimeout,
	core.CodeServiceUnavailable:     http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status of an error code; unknown codes are 500.
func StatusOf(code core.Code) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

const (
	internalMessage  = "An internal error occurred"
	gcRunningDetail  = "GC is already running. Please wait for the current cycle to complete."
	validationFailed = "Request validation failed"
)

// fieldError is one item of a 422 body.
type fieldError = oapigen.ValidationErrorItem

// shapeError is a request-shape failure: 422 with the items in both
// error.details.errors and detail.
type shapeError struct{ items []fieldError }

func (e *shapeError) Error() string {
	msg := validationFailed
	for _, it := range e.items {
		msg += fmt.Sprintf("; %v: %s", it.Loc, it.Msg)
	}
	return msg
}

func shape(items ...fieldError) error { return &shapeError{items: items} }

func fieldErr(msg, typ string, loc ...any) fieldError {
	return fieldError{Loc: loc, Msg: msg, Type: typ}
}

type errorBody struct {
	Code      core.Code      `json:"code"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details,omitempty"`
}

type envelope struct {
	Error  errorBody `json:"error"`
	Detail any       `json:"detail,omitempty"`
}

// writeError writes err as the error envelope with the status of its code.
// It is the generated strict server's ResponseErrorHandlerFunc. Like every
// writer in this file it only renders: it never asks a service anything
// (the checks that must come before a 422 are refuse's, in routes.go).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	info := infoFrom(r.Context())
	if wroteHeader(w) {
		// A streamed response failed half-way; all that is left is the log.
		info.err = err
		return
	}
	var se *shapeError
	if errors.As(err, &se) {
		s.writeShape(w, r, se.items)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = tooLarge(mbe.Limit)
	}
	ce := core.AsError(err)
	if ce == nil {
		ce = core.Wrap(err, core.CodeInternal, internalMessage)
	}
	status := StatusOf(ce.Code)
	var detail any
	switch ce.Code {
	case core.CodeGCRunning:
		detail = gcRunningDetail
	case core.CodeUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="bay"`)
	case core.CodeSessionNotReady, core.CodeServiceUnavailable:
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(ce.Details), 10))
	}
	if status >= 500 {
		info.err = err
	}
	if ce.Code == core.CodeInternal {
		// Never show internals to the client; the chain is in the log.
		ce = core.Errorf(core.CodeInternal, internalMessage)
	}
	s.writeEnvelope(w, r, status, ce, detail)
}

// retryAfterSeconds is ceil(details.retry_after_ms / 1000), default 1.
func retryAfterSeconds(details map[string]any) int64 {
	var ms float64
	switch v := details["retry_after_ms"].(type) {
	case int:
		ms = float64(v)
	case int64:
		ms = float64(v)
	case float64:
		ms = v
	case json.Number:
		ms, _ = v.Float64()
	}
	if ms <= 0 || math.IsNaN(ms) || math.IsInf(ms, 0) {
		return 1
	}
	return int64(math.Ceil(ms / 1000))
}

// writeEnvelope writes {"error": {...}, "detail": detail}.
func (s *Server) writeEnvelope(w http.ResponseWriter, r *http.Request, status int, ce *core.Error, detail any) {
	body := envelope{
		Error: errorBody{
			Code:      ce.Code,
			Message:   ce.Message,
			RequestID: infoFrom(r.Context()).id,
			Details:   ce.Details,
		},
		Detail: detail,
	}
	if len(body.Error.Details) == 0 {
		body.Error.Details = nil
	}
	b, err := marshal(body)
	if err != nil {
		// Details that cannot be encoded must not turn into a broken body.
		infoFrom(r.Context()).err = fmt.Errorf("encode error details: %w", err)
		body.Error.Details = nil
		b, _ = marshal(body)
	}
	writeJSON(w, status, b)
}

// writeShape answers a request-shape failure: 422 with the items in both
// error.details.errors and detail.
func (s *Server) writeShape(w http.ResponseWriter, r *http.Request, items []fieldError) {
	ce := core.Errorf(core.CodeValidation, validationFailed).WithDetails(map[string]any{"errors": items})
	s.writeEnvelope(w, r, http.StatusUnprocessableEntity, ce, items)
}

// writeParamError is the generated router's ErrorHandlerFunc: path and query
// parameters that fail to bind. The request is refused before it reaches the
// service, so it goes through refuse.
func (s *Server) writeParamError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		required *oapigen.RequiredParamError
		invalid  *oapigen.InvalidParamFormatError
		many     *oapigen.TooManyValuesForParamError
	)
	switch {
	case errors.As(err, &required):
		if q := r.URL.Query(); q.Has(required.ParamName) && required.ParamName == "path" {
			// The binder treats an empty required value as missing; the
			// contract says an empty path is a path-validation failure,
			// which comes after the capability checks.
			_, err := core.NormalizePath("path", "")
			s.refuse(w, r, err)
			return
		}
		s.refuse(w, r, shape(fieldErr("Field required", "missing", "query", required.ParamName)))
	case errors.As(err, &invalid):
		s.refuse(w, r, shape(fieldErr(invalidParamMessage(invalid.Err), "int_parsing", paramLocation(r, invalid.ParamName), invalid.ParamName)))
	case errors.As(err, &many):
		s.refuse(w, r, shape(fieldErr("Expected a single value", "too_many_values", "query", many.ParamName)))
	default:
		s.refuse(w, r, shape(fieldErr(err.Error(), "value_error", "query")))
	}
}

func paramLocation(r *http.Request, name string) string {
	if r.PathValue(name) != "" {
		return "path"
	}
	return "query"
}

func invalidParamMessage(err error) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if ne.Func == "ParseBool" {
			return "Input should be a valid boolean"
		}
		return "Input should be a valid integer, unable to parse string as an integer"
	}
	return "Invalid value"
}

// writeRequestError is the strict server's RequestErrorHandlerFunc: a body
// the generated code could not decode. JSON bodies are checked and
// canonicalized before, so in practice this is a multipart body that is not
// multipart, refused before it reaches the service.
func (s *Server) writeRequestError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.writeError(w, r, err)
		return
	}
	s.refuse(w, r, shape(fieldErr("Invalid request body: "+err.Error(), "value_error", "body")))
}

// marshal encodes v as JSON without HTML escaping, with a final newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Disposition")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
