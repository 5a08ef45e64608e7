package core

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// HistoryLimits bound what an execution row stores (agent-reach.md §1.3).
// Only the row is bounded: sync answers and streams carry everything.
type HistoryLimits struct {
	MaxCodeBytes   int
	MaxOutputBytes int
	MaxErrorBytes  int
	// MaxImageBytes bounds the decoded PNG bytes kept per execution.
	MaxImageBytes int
}

// DefaultHistoryLimits are the limits of config.md's history section.
var DefaultHistoryLimits = HistoryLimits{
	MaxCodeBytes: 64 << 10, MaxOutputBytes: 64 << 10, MaxErrorBytes: 16 << 10, MaxImageBytes: 256 << 10,
}

// Annotation limits (agent-reach.md §1.2).
const (
	MaxDescriptionChars = 4096
	MaxNotesChars       = 16384
	MaxTags             = 16
	MaxTagChars         = 64
)

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/@+-]{1,64}$`)

// omittedMarker is the line that replaces the middle of a bounded output or
// the head of a bounded error.
func omittedMarker(n int) string { return fmt.Sprintf("…[bay: %d bytes omitted]…", n) }

// NormalizeTags trims the tags, drops empty ones, removes duplicates and
// sorts them; it refuses more than MaxTags or a tag outside the allowed
// characters and lengths (validation_error naming the "tags" field).
func NormalizeTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !tagPattern.MatchString(t) {
			return nil, fieldInvalid("tags", "Tag %q must be 1–%d characters from A–Z a–z 0–9 _ . : / @ + -", t, MaxTagChars)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, fieldInvalid("tags", "At most %d tags are allowed", MaxTags)
	}
	return out, nil
}

// SplitTags splits a comma-separated tag string, the form the original
// project's clients send.
func SplitTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// CheckDescription refuses a description longer than MaxDescriptionChars.
func CheckDescription(d *string) error {
	if d != nil && utf8.RuneCountInString(*d) > MaxDescriptionChars {
		return fieldInvalid("description", "description must be at most %d characters", MaxDescriptionChars)
	}
	return nil
}

// CheckNotes refuses notes longer than MaxNotesChars.
func CheckNotes(n *string) error {
	if n != nil && utf8.RuneCountInString(*n) > MaxNotesChars {
		return fieldInvalid("notes", "notes must be at most %d characters", MaxNotesChars)
	}
	return nil
}

// fieldInvalid is a validation_error about one body field; details.loc
// names it as a 422 item does.
func fieldInvalid(field, format string, args ...any) *Error {
	return Invalid(format, args...).WithDetails(map[string]any{"loc": []any{"body", field}})
}

// cutHead returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutHead(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cutTail returns the longest suffix of s of at most n bytes that starts on
// a UTF-8 sequence boundary.
func cutTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// boundCode keeps the head of code: the stored code, whether it was cut,
// and the original size.
func boundCode(code string, max int) (string, bool, int64) {
	if len(code) <= max {
		return code, false, int64(len(code))
	}
	return cutHead(code, max), true, int64(len(code))
}

// boundError keeps the tail of an error text (the exception line is last)
// after a marker.
func boundError(e *string, max int) (*string, bool) {
	if e == nil || len(*e) <= max {
		return e, false
	}
	tail := cutTail(*e, max)
	s := omittedMarker(len(*e)-len(tail)) + "\n" + tail
	return &s, true
}

// boundImages keeps base64 PNGs in order while their decoded size fits in
// max.
func boundImages(images []string, max int) ([]string, bool) {
	var kept []string
	used := 0
	for i, img := range images {
		n := base64.StdEncoding.DecodedLen(len(img))
		if used+n > max {
			return kept, i < len(images)
		}
		used += n
		kept = append(kept, img)
	}
	return kept, false
}

// textBound folds a text into a bounded form as it arrives, holding at
// most max bytes: the first quarter and a ring of the last three quarters.
// Its result keeps the head and the tail around a marker when the text was
// longer than max. With trim, leading and trailing white space is dropped
// as Ship trims a cell's text.
type textBound struct {
	max, headMax int
	trim         bool
	head         []byte
	ring         []byte // the last bytes after the head, at most max-headMax
	ringStart    int    // index of the oldest byte when the ring is full
	ringFull     bool
	rest         int64 // bytes after the head, whether or not the ring kept them
	started      bool  // a non-space byte was seen (with trim)
	trailing     int64 // white space bytes at the end of the text so far
}

func newTextBound(max int, trim bool) *textBound {
	if max < 4 {
		max = 4
	}
	return &textBound{max: max, headMax: max / 4, trim: trim}
}

// Write folds p in.
func (b *textBound) Write(p []byte) {
	if b.trim && !b.started {
		i := 0
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		p = p[i:]
		if len(p) == 0 {
			return
		}
		b.started = true
	}
	n := len(p)
	for n > 0 && isSpace(p[n-1]) {
		n--
	}
	if n == 0 {
		b.trailing += int64(len(p))
	} else {
		b.trailing = int64(len(p) - n)
	}
	if room := b.headMax - len(b.head); room > 0 && b.rest == 0 {
		n := min(room, len(p))
		b.head = append(b.head, p[:n]...)
		p = p[n:]
	}
	b.rest += int64(len(p))
	tailMax := b.max - b.headMax
	for len(p) > 0 {
		if !b.ringFull {
			n := min(tailMax-len(b.ring), len(p))
			b.ring = append(b.ring, p[:n]...)
			p = p[n:]
			b.ringFull = len(b.ring) == tailMax
			continue
		}
		if len(p) >= tailMax {
			copy(b.ring, p[len(p)-tailMax:])
			b.ringStart = 0
			return
		}
		n := copy(b.ring[b.ringStart:], p)
		p = p[n:]
		b.ringStart = (b.ringStart + n) % tailMax
	}
}

// WriteString folds s in.
func (b *textBound) WriteString(s string) { b.Write([]byte(s)) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (b *textBound) tail() []byte {
	if !b.ringFull || b.ringStart == 0 {
		return b.ring
	}
	out := make([]byte, 0, len(b.ring))
	out = append(out, b.ring[b.ringStart:]...)
	return append(out, b.ring[:b.ringStart]...)
}

// Result returns the bounded text, whether it was cut, and the size of the
// whole text.
func (b *textBound) Result() (string, bool, int64) {
	head, tail, rest := b.head, b.tail(), b.rest
	if b.trim {
		drop := b.trailing
		if drop >= rest {
			head = head[:len(head)-int(drop-rest)]
			tail, rest = nil, 0
		} else {
			tail = tail[:len(tail)-int(min(drop, int64(len(tail))))]
			rest -= drop
		}
	}
	total := int64(len(head)) + rest
	if total <= int64(b.max) {
		// Nothing was dropped: the ring holds all that followed the head.
		return string(head) + string(tail), false, total
	}
	head = head[:len(cutIncomplete(head))]
	for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
		tail = tail[1:]
	}
	omitted := total - int64(len(head)) - int64(len(tail))
	return string(head) + "\n" + omittedMarker(int(omitted)) + "\n" + string(tail), true, total
}

// cutIncomplete drops a UTF-8 sequence cut short at the end of p.
func cutIncomplete(p []byte) []byte {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return p[:i]
			}
			break
		}
	}
	return p
}

// boundOutput bounds a whole output text as textBound does (without
// trimming).
func boundOutput(s string, max int) (string, bool, int64) {
	b := newTextBound(max, false)
	b.WriteString(s)
	return b.Result()
}

// storable makes a text storable on every engine: NUL, which Postgres
// text cannot hold, becomes U+FFFD as other bytes that are not text do.
func storable(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func storablePtr(s *string) *string {
	if s == nil || strings.IndexByte(*s, 0) < 0 {
		return s
	}
	v := storable(*s)
	return &v
}
