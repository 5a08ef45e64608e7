package wire

import "strings"

// MountPath is where the workspace is mounted in the browser container.
const MountPath = "/workspace"

// Path validation failure reasons (lifecycle.md §11).
const (
	PathEmpty     = "empty_path"
	PathNullByte  = "null_byte"
	PathAbsolute  = "absolute_path"
	PathTraversal = "path_traversal"
)

// NormalizePath validates a path field of a command and returns it
// relative to the workspace (browser.md §3.2): a leading "/workspace/" is
// stripped, then lifecycle.md §11 applies (no empty path, NUL byte,
// absolute path or escape with ".."; "." for the workspace itself). field
// names the field in the message. A failure is an Invalid with Reason set
// (400 invalid_path).
func NormalizePath(field, p string) (string, *Invalid) {
	fail := func(reason, msg string) *Invalid {
		return &Invalid{Loc: []any{field}, Msg: field + " " + msg, Reason: reason}
	}
	if p == MountPath {
		p = "."
	} else if rest, ok := strings.CutPrefix(p, MountPath+"/"); ok {
		p = rest
		if p == "" {
			p = "."
		}
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

// PathDetail is the detail of a 400 invalid_path answer.
type PathDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// CodeInvalidPath is PathDetail.Code.
const CodeInvalidPath = "invalid_path"
