package core

import "strings"

// Path validation failure reasons (lifecycle.md §11).
const (
	PathEmpty     = "empty_path"
	PathNullByte  = "null_byte"
	PathAbsolute  = "absolute_path"
	PathTraversal = "path_traversal"
)

// NormalizePath validates a client path relative to /workspace and returns
// its normalized form ("." for the workspace itself). field names the
// request field ("path" or "cwd") in the invalid_path error.
func NormalizePath(field, p string) (string, error) {
	fail := func(reason, msg string) error {
		return (&Error{Code: CodeInvalidPath, Message: field + " " + msg}).
			WithDetails(map[string]any{"field": field, "reason": reason})
	}
	switch {
	case p == "":
		return "", fail(PathEmpty, "cannot be empty")
	case strings.IndexByte(p, 0) >= 0:
		return "", fail(PathNullByte, "contains invalid characters")
	case strings.HasPrefix(p, "/"):
		return "", fail(PathAbsolute, "must be a relative path")
	}
	var kept []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(kept) == 0 {
				return "", fail(PathTraversal, "escapes workspace boundary")
			}
			kept = kept[:len(kept)-1]
		default:
			kept = append(kept, seg)
		}
	}
	if len(kept) == 0 {
		return ".", nil
	}
	return strings.Join(kept, "/"), nil
}
