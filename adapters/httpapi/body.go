package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON request bodies are checked here rather than by the generated
// decoder, because the contract asks for more than encoding/json does:
// 422 items naming the field, lenient integers (30.0 and "30"), range
// checks, "{}" for an absent body where the body is optional, and a
// canonical form with every declared field present, defaults applied, in
// declaration order (the idempotency fingerprint input, lifecycle.md §9).
// The canonical bytes then replace the body, so the generated decoder always
// succeeds.
//
// The rules themselves come from the embedded OpenAPI document (see
// spec.go), so openapi/bay.yaml is their only source: this file only knows
// how to apply them.

type fieldKind int

const (
	kindString fieldKind = iota
	kindInt
	kindStringList
)

// bodyField is one property of a request body schema.
type bodyField struct {
	name     string
	kind     fieldKind
	required bool
	nullable bool
	// def is the canonical default of an optional field; nil renders null.
	def      any
	min, max *int64
}

// bodySpec is the schema of one route's JSON request body.
type bodySpec struct {
	// emptyIsObject treats an absent or blank body as {} (the spec's
	// requestBody.required is false).
	emptyIsObject bool
	// fields are in declaration order (x-order).
	fields []bodyField
}

// readBody reads and checks a JSON body and returns its canonical form. A
// failure is a *shapeError, or the *http.MaxBytesError of an oversized body.
func readBody(body io.Reader, spec *bodySpec) ([]byte, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	// encoding/json would quietly turn invalid bytes into U+FFFD, storing
	// a string the client never sent; JSON text is UTF-8 (RFC 8259 §8.1).
	if !utf8.Valid(raw) {
		return nil, shape(fieldErr("JSON decode error: the body is not valid UTF-8", "json_invalid", "body", firstInvalidUTF8(raw)))
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if !spec.emptyIsObject {
			return nil, shape(fieldErr("Field required", "missing", "body"))
		}
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, shape(jsonError(err))
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, shape(fieldErr("JSON decode error: unexpected data after the JSON value", "json_invalid", "body", end))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, shape(fieldErr("Input should be a valid dictionary or object to extract fields from", "model_attributes_type", "body"))
	}
	var items []fieldError
	var out bytes.Buffer
	out.WriteByte('{')
	for i, f := range spec.fields {
		val, present := obj[f.name]
		canon, item := checkField(f, val, present)
		if item != nil {
			items = append(items, *item)
			continue
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(strconv.Quote(f.name))
		out.WriteByte(':')
		b, err := marshal(canon)
		if err != nil {
			return nil, err
		}
		out.Write(bytes.TrimRight(b, "\n"))
	}
	out.WriteByte('}')
	if len(items) > 0 {
		return nil, shape(items...)
	}
	return out.Bytes(), nil
}

// firstInvalidUTF8 returns the offset of the first byte that does not start
// a valid UTF-8 sequence.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func jsonError(err error) fieldError {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fieldErr("JSON decode error: "+syn.Error(), "json_invalid", "body", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr("JSON decode error: unexpected end of input", "json_invalid", "body")
	}
	return fieldErr("JSON decode error: "+err.Error(), "json_invalid", "body")
}

// checkField returns the canonical value of one field, or the reason it is
// unacceptable.
func checkField(f bodyField, val any, present bool) (any, *fieldError) {
	fail := func(msg, typ string) (any, *fieldError) {
		e := fieldErr(msg, typ, "body", f.name)
		return nil, &e
	}
	if !present {
		if f.required {
			return fail("Field required", "missing")
		}
		return f.def, nil
	}
	if val == nil {
		if f.nullable {
			return nil, nil
		}
		switch f.kind {
		case kindInt:
			return fail("Input should be a valid integer", "int_type")
		case kindStringList:
			return fail("Input should be a valid list", "list_type")
		default:
			return fail("Input should be a valid string", "string_type")
		}
	}
	switch f.kind {
	case kindString:
		s, ok := val.(string)
		if !ok {
			return fail("Input should be a valid string", "string_type")
		}
		return s, nil
	case kindStringList:
		list, ok := val.([]any)
		if !ok {
			return fail("Input should be a valid list", "list_type")
		}
		out := make([]string, 0, len(list))
		for i, el := range list {
			s, ok := el.(string)
			if !ok {
				e := fieldErr("Input should be a valid string", "string_type", "body", f.name, i)
				return nil, &e
			}
			out = append(out, s)
		}
		return out, nil
	default:
		n, msg, typ := lenientInt(val)
		if msg != "" {
			return fail(msg, typ)
		}
		if f.min != nil && n < *f.min {
			return fail("Input should be greater than or equal to "+strconv.FormatInt(*f.min, 10), "greater_than_equal")
		}
		if f.max != nil && n > *f.max {
			return fail("Input should be less than or equal to "+strconv.FormatInt(*f.max, 10), "less_than_equal")
		}
		return n, nil
	}
}

// lenientInt accepts JSON integers, integral floats and numeric strings
// (bay-api.md §0.4). Values outside int64 are rejected rather than wrapped.
func lenientInt(val any) (int64, string, string) {
	switch v := val.(type) {
	case json.Number:
		return numberToInt(string(v), "int_from_float")
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, "Input should be a valid integer, unable to parse string as an integer", "int_parsing"
		}
		return numberToInt(s, "int_parsing")
	default:
		return 0, "Input should be a valid integer", "int_type"
	}
}

func numberToInt(s, fracType string) (int64, string, string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, "", ""
	}
	f, ok := new(big.Float).SetString(s)
	if !ok {
		return 0, "Input should be a valid integer, unable to parse string as an integer", "int_parsing"
	}
	if f.IsInf() {
		return 0, "Input should be a finite number", "finite_number"
	}
	if !f.IsInt() {
		return 0, "Input should be a valid integer, got a number with a fractional part", fracType
	}
	n, acc := f.Int64()
	if acc != big.Exact || n == math.MinInt64 {
		return 0, "Input should be a valid integer, the number is out of range", "int_parsing"
	}
	return n, "", ""
}
