package main

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The checks below walk the YAML tree against the document type before
// yaml.v3 decodes it, because yaml.v3 neither names the key of a value it
// cannot decode nor is as loose as configuration files and variables are.

// leafType returns the type of the leaf at a dotted path of document.
func leafType(path string) (reflect.Type, bool) {
	t := reflect.TypeFor[document]()
	for _, seg := range strings.Split(path, ".") {
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		ft, ok := yamlFields(t)[seg]
		if !ok {
			return nil, false
		}
		t = ft
	}
	return t, t.Kind() != reflect.Struct
}

// yamlFields maps the keys of a struct, as yaml.v3 names them, to their
// types, pointers removed.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case slices.Contains(strings.Split(opts, ","), "inline"):
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[name] = ft
	}
	return out
}

// where is the position of a node in the document: the leaf key it is or
// is inside of and, inside a leaf, the path to it (list indexes and the
// keys of entries).
type where struct {
	leaf  string
	inner []string
}

// field is the position of a struct's key: a section's key names a leaf,
// an entry's key is a step inside the leaf.
func (w where) field(k string) where {
	if w.entry() {
		return w.elem(k)
	}
	if w.leaf != "" {
		k = w.leaf + "." + k
	}
	return where{leaf: k}
}

// elem is the position of a map's or list's element.
func (w where) elem(k string) where {
	return where{w.leaf, append(slices.Clip(w.inner), k)}
}

// entry reports whether w is inside an entry of a list or map.
func (w where) entry() bool { return len(w.inner) > 0 }

func (l *loader) problemAt(at where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at.entry() {
		var b strings.Builder
		for i, s := range at.inner {
			switch {
			case i == 0 || strings.HasPrefix(s, "["):
			case strings.HasPrefix(at.inner[i-1], "["):
				b.WriteString(": ")
			default:
				b.WriteString(".")
			}
			b.WriteString(s)
		}
		msg = b.String() + ": " + msg
	}
	l.problem(at.leaf, msg)
}

// shorthand is implemented by a struct that may be written as a bare
// scalar, which stands for the one key shorthand names.
type shorthand interface{ shorthand() string }

// check walks n against the type t it decodes into, before it is decoded.
// It warns about unknown keys in sections and reports them in entries, turns
// scalars into the form yaml.v3 decodes into t (so "yes" or "8001" from a
// variable is a boolean or an integer, and null is zero), and reports what
// does not fit, which it removes: check returns false for n to be dropped.
func (l *loader) check(n *yaml.Node, t reflect.Type, at where) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if s, ok := reflect.Zero(t).Interface().(shorthand); ok && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
			v := *n
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.shorthand()}, &v,
			}}
		}
		if n.ShortTag() == "!!null" {
			return true
		}
		if n.Kind != yaml.MappingNode {
			l.problemAt(at, "want a mapping, got %s", describe(n))
			return false
		}
		fields := yamlFields(t)
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, known := fields[k.Value]
			switch {
			case !known && at.entry():
				l.problemAt(at, "unknown key %s", k.Value)
			case !known:
				path := at.field(k.Value).leaf
				l.warnings = append(l.warnings, fmt.Sprintf("unknown configuration key %q in %s is ignored", path, l.source(path)))
			case l.check(v, ft, at.field(k.Value)):
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
	case reflect.Slice:
		if n.ShortTag() == "!!null" {
			return true
		}
		if n.Kind != yaml.SequenceNode {
			l.problemAt(at, "want a list, got %s", describe(n))
			return false
		}
		for i, v := range n.Content {
			if !l.check(v, t.Elem(), at.elem(fmt.Sprintf("[%d]", i))) {
				// Keep the indexes of the rest: an empty entry or a zero value.
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
				if t.Elem().Kind() == reflect.Struct {
					n.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
					l.dropped[fmt.Sprintf("%s [%d]", at.leaf, i)] = true
				}
			}
		}
	case reflect.Map:
		if n.ShortTag() == "!!null" {
			return true
		}
		if n.Kind != yaml.MappingNode {
			l.problemAt(at, "want a mapping, got %s", describe(n))
			return false
		}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			k.Tag, k.Style = "!!str", 0
			if l.check(v, t.Elem(), at.elem(k.Value)) {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
	default:
		return l.scalar(n, t.Kind(), at)
	}
	return true
}

// scalar checks a leaf of kind k and rewrites it in the form yaml.v3
// decodes: configuration files and variables are looser than YAML.
func (l *loader) scalar(n *yaml.Node, k reflect.Kind, at where) bool {
	null := n.ShortTag() == "!!null"
	var tag, value string
	switch k {
	case reflect.String:
		// A section's string must be one; in an entry a number is taken as
		// written (memory: 1073741824, env: {PORT: 8080}).
		if n.Kind != yaml.ScalarNode || (!at.entry() && !null && n.ShortTag() != "!!str") {
			l.problemAt(at, "want a string, got %s", describe(n))
			return false
		}
		tag, value = "!!str", n.Value
		if null {
			value = ""
		}
	case reflect.Bool:
		b, ok := false, null
		if n.Kind == yaml.ScalarNode && !null {
			switch strings.ToLower(strings.TrimSpace(n.Value)) {
			case "true", "1", "yes", "on":
				b, ok = true, true
			case "false", "0", "no", "off", "":
				ok = true
			}
		}
		if !ok {
			l.problemAt(at, "want a boolean (true/false/1/0/yes/no/on/off), got %s", describe(n))
			return false
		}
		tag, value = "!!bool", strconv.FormatBool(b)
	case reflect.Int, reflect.Int64:
		x, err := toInt(n)
		if err == nil && k == reflect.Int && (x > math.MaxInt32 || x < math.MinInt32) {
			err = fmt.Errorf("%d is out of range", x)
		}
		if err != nil {
			l.problemAt(at, "%v", err)
			return false
		}
		tag, value = "!!int", strconv.FormatInt(x, 10)
	case reflect.Float64:
		switch {
		case null:
			tag, value = "!!float", "0"
		case n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float"):
			return true
		default:
			l.problemAt(at, "want a number, got %s", describe(n))
			return false
		}
	default:
		l.problemAt(at, "unsupported type %s", k) // a document field of a kind check does not know
		return false
	}
	n.Tag, n.Value, n.Style = tag, value, 0
	return true
}

// toInt reads an integer leaf: a YAML integer, a float without a fraction,
// a string of decimal digits (as variables are), or null for zero.
func toInt(n *yaml.Node) (int64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want an integer, got %s", describe(n))
	}
	switch n.ShortTag() {
	case "!!null":
		return 0, nil
	case "!!int":
		var x int64
		if err := n.Decode(&x); err == nil {
			return x, nil
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int64(f), nil
		}
	case "!!str":
		if x, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64); err == nil {
			return x, nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %s", describe(n))
}

// describe shows a node in a message.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.ShortTag() == "!!str":
		return strconv.Quote(n.Value)
	default:
		return n.Value
	}
}
