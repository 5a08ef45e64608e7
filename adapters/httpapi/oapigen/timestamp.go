package oapigen

import (
	"fmt"
	"time"
)

// TimestampLayout is how Bay renders timestamps: UTC, always six fractional
// digits and a Z, so that the strings sort like the instants they name.
const TimestampLayout = "2006-01-02T15:04:05.000000Z"

// Timestamp is an OpenAPI date-time with Bay's fixed rendering. It decodes
// any RFC 3339 value.
type Timestamp time.Time

// NewTimestamp returns t as a Timestamp.
func NewTimestamp(t time.Time) Timestamp { return Timestamp(t) }

// Time returns the instant.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// String renders the timestamp in TimestampLayout.
func (t Timestamp) String() string { return time.Time(t).UTC().Format(TimestampLayout) }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("timestamp must be a JSON string, got %s", b)
	}
	parsed, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	*t = Timestamp(parsed)
	return nil
}
