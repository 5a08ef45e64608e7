package oapigen

import (
	"bytes"
	"encoding/json"
)

// Nullable is a field of a JSON merge patch (RFC 7396), where leaving a
// field out and sending null mean different things: the zero value is an
// absent field (leave it as it is), Specified with a nil Value is null
// (clear it), Specified with a Value sets it. The schemas' x-go-type names it
// for such fields, with x-omitzero so that an absent field stays absent when
// the client encodes a patch.
type Nullable[T any] struct {
	// Specified is true when the field was present, null included.
	Specified bool
	// Value is the field's value; nil when absent or null.
	Value *T
}

// NullableOf returns a Nullable that sets the field to v.
func NullableOf[T any](v T) Nullable[T] { return Nullable[T]{Specified: true, Value: &v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Specified: true} }

// IsNull reports whether the field was sent as null.
func (n Nullable[T]) IsNull() bool { return n.Specified && n.Value == nil }

// IsZero reports whether the field is absent; encoding/json's omitzero
// leaves such a field out.
func (n Nullable[T]) IsZero() bool { return !n.Specified }

// MarshalJSON implements json.Marshaler: null or the value. (An absent
// field never gets here when the struct field is tagged omitzero.)
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*n.Value)
}

// UnmarshalJSON implements json.Unmarshaler. encoding/json calls it for a
// present field only, null included.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Specified = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}
