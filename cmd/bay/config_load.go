package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadConfig builds the configuration from defaults, the first existing YAML
// file (flagPath, then $BAY_CONFIG_FILE, ./config.yaml, /etc/bay/config.yaml)
// and the environment. It returns warnings (unknown keys) and an error
// listing every problem at once.
//
// The file and the BAY_* variables are read into one YAML tree, the
// variables replacing the leaves they name; the tree is checked against the
// document type (unknown keys, wrong types), decoded over defaults() and
// mapped onto Config.
func LoadConfig(flagPath string, environ []string) (Config, []string, error) {
	l := &loader{sources: map[string]string{}, dropped: map[string]bool{}}
	tree := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	file, err := configFile(flagPath, environ)
	if err != nil {
		return Config{}, nil, err
	}
	if file != "" {
		raw, err := os.ReadFile(file) // #nosec G304 -- the operator names the file (-config or BAY_CONFIG_FILE)
		if err != nil {
			return Config{}, nil, fmt.Errorf("read config %s: %w", file, err)
		}
		if tree, err = parseYAML(raw); err != nil {
			return Config{}, nil, fmt.Errorf("parse config %s: %w", file, err)
		}
		l.file = "file " + file
		foldAliases(tree)
	}
	l.readEnv(tree, environ)
	l.check(tree, reflect.TypeFor[document](), where{})

	doc := defaults()
	clearSetMaps(tree, reflect.ValueOf(&doc).Elem())
	if err := tree.Decode(&doc); err != nil {
		// check leaves only what decodes; this is a bug if it happens.
		l.problems = append(l.problems, fmt.Sprintf("decode: %v", err))
	}
	c, problems := doc.config()
	for _, p := range problems {
		// An entry check reported whole (not a mapping) is an empty one
		// now: what it lacks is no news.
		if i, _, ok := strings.Cut(p.msg, ": "); !ok || !l.dropped[p.leaf+" "+i] {
			l.problem(p.leaf, p.msg)
		}
	}
	var invalid *ConfigError
	if errors.As(c.Validate(), &invalid) {
		l.problems = append(l.problems, invalid.Problems...)
	}
	if len(l.problems) > 0 {
		return c, l.warnings, &ConfigError{Problems: l.problems}
	}
	return c, l.warnings, nil
}

func configFile(flagPath string, environ []string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("config file %s: %w", flagPath, err)
		}
		return flagPath, nil
	}
	candidates := []string{}
	if p := lookupEnv(environ, "BAY_CONFIG_FILE"); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "config.yaml", "/etc/bay/config.yaml")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// loader collects what LoadConfig finds, naming where each value came from.
type loader struct {
	file     string            // "file <path>", or empty
	sources  map[string]string // leaf path → the variable that set it
	dropped  map[string]bool   // "leaf [i]": list entries check reported whole
	problems []string
	warnings []string
}

// source names where the leaf's value came from.
func (l *loader) source(leaf string) string {
	if s, ok := l.sources[leaf]; ok {
		return s
	}
	if l.file != "" {
		return l.file
	}
	return "defaults"
}

func (l *loader) problem(leaf, msg string) {
	l.problems = append(l.problems, fmt.Sprintf("%s (%s): %s", leaf, l.source(leaf), msg))
}

// parseYAML parses a configuration file into a mapping node; an empty
// file is an empty mapping. It goes through map[string]any, where yaml.v3
// resolves anchors and merge keys (<<) and refuses a key given twice, so
// that the node holds every key where it takes effect.
func parseYAML(raw []byte) (*yaml.Node, error) {
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	if tree == nil {
		tree = map[string]any{}
	}
	var n yaml.Node
	if err := n.Encode(tree); err != nil {
		return nil, err
	}
	return &n, nil
}

// aliases are the reference's names for two of Bay's keys (config.md §2.4,
// §2.7), beside them under the same parent. Bay's name wins, key by key.
var aliases = []struct{ parent, alias, name string }{
	{"", "workspace", "locker"},
	{"gc", "orphan_workspace", "orphan_locker"},
}

// canonical returns a dotted path with an alias replaced by Bay's name.
func canonical(path string) string {
	for _, a := range aliases {
		from, to := a.alias, a.name
		if a.parent != "" {
			from, to = a.parent+"."+from, a.parent+"."+to
		}
		if path == from || strings.HasPrefix(path, from+".") {
			return to + path[len(from):]
		}
	}
	return path
}

// foldAliases moves what the file gives under an alias to Bay's name,
// where Bay's name does not give it already.
func foldAliases(root *yaml.Node) {
	for _, a := range aliases {
		parent := root
		if a.parent != "" {
			parent = get(root, a.parent)
		}
		if parent == nil || parent.Kind != yaml.MappingNode {
			continue
		}
		v := remove(parent, a.alias)
		switch cur := get(parent, a.name); {
		case v == nil:
		case cur == nil:
			set(parent, a.name, v)
		default:
			fillMissing(cur, v)
		}
	}
}

// clearSetMaps empties the maps of v (a document struct) that node sets,
// and so on down, before node is decoded over v: yaml.v3 adds a mapping's
// entries to a map that has some, but a map is a leaf, which the file or a
// variable replaces (as it replaces a list). Without this, setting
// driver.k8s.bay_pod_labels kept the default app=bay beside the given
// labels, and sandbox pods admitted only pods carrying both.
func clearSetMaps(node *yaml.Node, v reflect.Value) {
	if node == nil || node.Kind != yaml.MappingNode || v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case slices.Contains(strings.Split(opts, ","), "inline"):
			clearSetMaps(node, fv)
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		child := get(node, name)
		switch {
		case child == nil:
		case fv.Kind() == reflect.Map:
			fv.SetZero()
		case fv.Kind() == reflect.Struct:
			clearSetMaps(child, fv)
		}
	}
}

// fillMissing adds to dst the keys of src it lacks, and so on down.
func fillMissing(dst, src *yaml.Node) {
	if dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		if cur := get(dst, k.Value); cur != nil {
			fillMissing(cur, v)
		} else {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

// readEnv sets the leaves that BAY_* variables name (config.md §3):
// BAY_A__B__C is a.b.c, in any case; a list or map is JSON; an empty value
// is null. Variables naming no leaf (BAY_CONFIG_FILE, a section, a typo)
// are ignored. The reference's alias names go first, so Bay's names win.
func (l *loader) readEnv(tree *yaml.Node, environ []string) {
	type variable struct {
		name, value, path string
		alias             bool
		t                 reflect.Type
	}
	var vars []variable
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(strings.ToUpper(name), "BAY_") {
			continue
		}
		raw := strings.ToLower(strings.ReplaceAll(name[len("BAY_"):], "__", "."))
		path := canonical(raw)
		if t, ok := leafType(path); ok {
			vars = append(vars, variable{name, value, path, path != raw, t})
		}
	}
	slices.SortStableFunc(vars, func(a, b variable) int {
		if a.alias != b.alias {
			if a.alias {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	for _, v := range vars {
		l.sources[v.path] = "environment variable " + v.name
		n, err := envNode(v.value, v.t)
		if err != nil {
			l.problem(v.path, err.Error())
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
		}
		segs := strings.Split(v.path, ".")
		m := tree
		for _, seg := range segs[:len(segs)-1] {
			next := get(m, seg)
			if next == nil || next.Kind != yaml.MappingNode {
				next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				set(m, seg, next)
			}
			m = next
		}
		set(m, segs[len(segs)-1], n)
	}
}

// envNode turns a variable's value into the node of a leaf of type t.
func envNode(value string, t reflect.Type) (*yaml.Node, error) {
	if value == "" || (t.Kind() != reflect.String && strings.TrimSpace(value) == "") {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, nil
	}
	if k := t.Kind(); k != reflect.Slice && k != reflect.Map {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}, nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("want JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("want JSON: more after the value")
	}
	var n yaml.Node
	if err := n.Encode(fromJSON(v)); err != nil {
		return nil, fmt.Errorf("want JSON: %v", err)
	}
	return &n, nil
}

// fromJSON turns json.Number into int or float64, as YAML would have them.
func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
	}
	return v
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set sets the value of key in mapping m.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// remove deletes key from mapping m and returns its value, or nil.
func remove(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = slices.Delete(m.Content, i, i+2)
			return v
		}
	}
	return nil
}
