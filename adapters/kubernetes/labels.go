package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// labelValue returns v as a label value (63 characters at most, letters,
// digits, '-', '_' and '.', beginning and ending with a letter or digit):
// v itself when it is one, otherwise its allowed characters (the others
// replaced by '_'), cut short, followed by a hash of v, so that two values
// stay apart. Owners are the usual case: "alice@example.com".
func labelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < 50; i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(v))
	hash := hex.EncodeToString(sum[:6])
	if s := strings.Trim(b.String(), "-_."); s != "" {
		return s + "-" + hash
	}
	return hash
}

// objectLabels returns the labels of an object for the given values,
// sanitised with labelValue, and the annotations that keep each value a
// label could not hold as it is, under the label's own key.
func objectLabels(values map[string]string) (map[string]string, map[string]string) {
	out := make(map[string]string, len(values))
	var notes map[string]string
	for k, v := range values {
		lv := labelValue(v)
		out[k] = lv
		if lv != v {
			if notes == nil {
				notes = map[string]string{}
			}
			notes[k] = v
		}
	}
	return out, notes
}

// originalLabels undoes objectLabels: each label whose annotation holds a
// value that sanitises to it gets that value back.
func originalLabels(lbls, notes map[string]string) map[string]string {
	out := maps.Clone(lbls)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range lbls {
		if orig, ok := notes[k]; ok && labelValue(orig) == v {
			out[k] = orig
		}
	}
	return out
}

// selector returns the label selector of the given values (sanitised). It
// may match more objects than the values do, when two values sanitise
// alike: matches checks the originals.
func selector(values map[string]string) string {
	lbls, _ := objectLabels(values)
	return labels.SelectorFromSet(lbls).String()
}

// matches reports whether every given value is the object's (original)
// label value.
func matches(orig, want map[string]string) bool {
	for k, v := range want {
		if got, ok := orig[k]; !ok || got != v {
			return false
		}
	}
	return true
}
