package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON request bodies are checked here rather than by the generated
// decoder, because the contract asks for more than encoding/json does:
// 422 items naming the field, lenient integers (30.0 and "30") and booleans
// ("true", 1), range, length and pattern checks, "{}" for an absent body
// where the body is optional, and a canonical form with every declared
// field present, defaults applied, in declaration order (the idempotency
// fingerprint input, lifecycle.md §9). The canonical bytes then replace the
// body, so the generated decoder always succeeds.
//
// A merge-patch body (bodySpec.patch) keeps absent fields absent instead:
// there, leaving a field out and sending null mean different things. A list
// that also accepts a comma-separated string (ExecTags) is canonically the
// list.
//
// The rules themselves come from the embedded OpenAPI document (see
// spec.go), so openapi/bay.yaml is their only source: this file only knows
// how to apply them.

type fieldKind int

const (
	kindString fieldKind = iota
	kindInt
	kindBool
	kindStringList
	// kindObject is a JSON object whose content the handler checks (a
	// schema of type object with no properties).
	kindObject
	// kindAnyList is a list whose items the handler checks (items: {}).
	kindAnyList
)

// bodyField is one property of a request body schema.
type bodyField struct {
	name     string
	kind     fieldKind
	required bool
	nullable bool
	// def is the canonical default of an optional field; nil renders null.
	def any
	// min and max bound an integer.
	min, max *int64
	// str holds a string's rules; item those of each item of a list.
	str, item stringRule
	// minItems and maxItems bound the length of a list.
	minItems, maxItems *int64
	// commaSeparated: the list may also come as one comma-separated string
	// (split, parts trimmed, empty parts dropped).
	commaSeparated bool
}

// stringRule bounds a string's length in characters (Unicode code points,
// as JSON Schema counts) and may require a pattern.
type stringRule struct {
	minLen, maxLen *int64
	pattern        *regexp.Regexp
}

// bodySpec is the schema of one route's JSON request body.
type bodySpec struct {
	// emptyIsObject treats an absent or blank body as {} (the spec's
	// requestBody.required is false).
	emptyIsObject bool
	// patch is a JSON merge patch (RFC 7396): absent fields stay absent in
	// the canonical form, with no default.
	patch bool
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
	first := true
	for _, f := range spec.fields {
		val, present := obj[f.name]
		if spec.patch && !present {
			continue
		}
		canon, errs := checkField(f, val, present)
		if len(errs) > 0 {
			items = append(items, errs...)
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
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

// checkField returns the canonical value of one field, or the reasons it is
// unacceptable.
func checkField(f bodyField, val any, present bool) (any, []fieldError) {
	fail := func(msg, typ string) (any, []fieldError) {
		return nil, []fieldError{fieldErr(msg, typ, "body", f.name)}
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
		case kindBool:
			return fail("Input should be a valid boolean", "bool_type")
		case kindStringList, kindAnyList:
			return fail("Input should be a valid list", "list_type")
		case kindObject:
			return fail("Input should be a valid dictionary", "dict_type")
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
		if msg, typ := f.str.check(s); msg != "" {
			return fail(msg, typ)
		}
		return s, nil
	case kindBool:
		b, msg, typ := lenientBool(val)
		if msg != "" {
			return fail(msg, typ)
		}
		return b, nil
	case kindStringList:
		return checkList(f, val)
	case kindObject:
		if _, ok := val.(map[string]any); !ok {
			return fail("Input should be a valid dictionary", "dict_type")
		}
		return val, nil
	case kindAnyList:
		list, ok := val.([]any)
		if !ok {
			return fail("Input should be a valid list", "list_type")
		}
		return checkLength(f, list)
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

// checkLength checks a list's length against minItems and maxItems.
func checkLength(f bodyField, list []any) (any, []fieldError) {
	n := int64(len(list))
	if f.maxItems != nil && n > *f.maxItems {
		return nil, []fieldError{fieldErr(fmt.Sprintf("List should have at most %d items after validation, not %d", *f.maxItems, n), "too_long", "body", f.name)}
	}
	if f.minItems != nil && n < *f.minItems {
		return nil, []fieldError{fieldErr(fmt.Sprintf("List should have at least %d items after validation, not %d", *f.minItems, n), "too_short", "body", f.name)}
	}
	return list, nil
}

// checkList checks a list of strings, or its comma-separated form, and
// returns it as a list. An item of the list is named by its index in loc;
// a part of a comma-separated string, which has no index of its own, in
// the message.
func checkList(f bodyField, val any) (any, []fieldError) {
	var list []any
	split := false
	switch v := val.(type) {
	case []any:
		list = v
	case string:
		if !f.commaSeparated {
			return nil, []fieldError{fieldErr("Input should be a valid list", "list_type", "body", f.name)}
		}
		list, split = splitComma(v), true
	default:
		if f.commaSeparated {
			return nil, []fieldError{fieldErr("Input should be a valid list or a comma-separated string", "list_type", "body", f.name)}
		}
		return nil, []fieldError{fieldErr("Input should be a valid list", "list_type", "body", f.name)}
	}
	if _, errs := checkLength(f, list); errs != nil {
		return nil, errs
	}
	out := make([]string, 0, len(list))
	var errs []fieldError
	for i, el := range list {
		s, ok := el.(string)
		msg, typ := "Input should be a valid string", "string_type"
		if ok {
			msg, typ = f.item.check(s)
		}
		switch {
		case msg == "":
			out = append(out, s)
		case split:
			errs = append(errs, fieldErr(fmt.Sprintf("%s (item %d of the comma-separated list: %q)", msg, i, s), typ, "body", f.name))
		default:
			errs = append(errs, fieldErr(msg, typ, "body", f.name, i))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// splitComma splits a comma-separated list, trimming the parts and dropping
// empty ones: "a, b,,c " is [a b c].
func splitComma(s string) []any {
	var out []any
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// check returns why s breaks the rule (pydantic's wording), or "".
func (r stringRule) check(s string) (msg, typ string) {
	n := int64(utf8.RuneCountInString(s))
	if r.minLen != nil && n < *r.minLen {
		return fmt.Sprintf("String should have at least %d %s", *r.minLen, plural(*r.minLen, "character")), "string_too_short"
	}
	if r.maxLen != nil && n > *r.maxLen {
		return fmt.Sprintf("String should have at most %d %s", *r.maxLen, plural(*r.maxLen, "character")), "string_too_long"
	}
	if r.pattern != nil && !r.pattern.MatchString(s) {
		return fmt.Sprintf("String should match pattern '%s'", r.pattern), "string_pattern_mismatch"
	}
	return "", ""
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// lenientBool accepts JSON booleans, the integers 0 and 1, and the strings
// pydantic accepts (true/false, 1/0, yes/no, on/off, t/f, y/n, any case).
func lenientBool(val any) (bool, string, string) {
	const unable = "Input should be a valid boolean, unable to interpret input"
	switch v := val.(type) {
	case bool:
		return v, "", ""
	case json.Number:
		switch string(v) {
		case "0":
			return false, "", ""
		case "1":
			return true, "", ""
		}
		return false, unable, "bool_parsing"
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes", "on", "t", "y":
			return true, "", ""
		case "false", "0", "no", "off", "f", "n":
			return false, "", ""
		}
		return false, unable, "bool_parsing"
	default:
		return false, "Input should be a valid boolean", "bool_type"
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
