package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Errors returned by path resolution; callers map them to HTTP statuses.
var (
	// ErrOutside: the path resolves outside the workspace (403).
	ErrOutside = errors.New("path outside workspace")
	// ErrInvalid: the path is malformed, e.g. contains a NUL byte (400).
	ErrInvalid = errors.New("invalid path")
)

// maxLinks bounds symlink expansion, like the kernel's ELOOP limit.
const maxLinks = 40

// Root is a workspace root directory.
//
// Paths are first resolved here, lexically and through symlinks, to decide
// 403s and to report canonical paths; the I/O itself then goes through an
// os.Root on the same directory, which refuses to leave it even if a
// component is swapped for a symlink after resolution (the server is root,
// the user owns the workspace).
type Root struct {
	// Dir is the root's canonical absolute path (symlinks resolved).
	Dir string
	os  *os.Root
}

// NewRoot returns the Root for dir, resolving symlinks in dir itself.
func NewRoot(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", dir, err)
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", dir, err)
	}
	return &Root{Dir: real, os: r}, nil
}

// Close releases the root directory handle.
func (r *Root) Close() error { return r.os.Close() }

// rel turns a resolved absolute path inside the root into a path relative
// to it ("." for the root itself), for os.Root calls.
func (r *Root) rel(abs string) string {
	if abs == r.Dir {
		return "."
	}
	if r.Dir == "/" {
		return strings.TrimPrefix(abs, "/")
	}
	return strings.TrimPrefix(abs, r.Dir+string(filepath.Separator))
}

// Within reports whether the absolute, clean path p is the root or below it.
func (r *Root) Within(p string) bool {
	return p == r.Dir || strings.HasPrefix(p, r.Dir+string(filepath.Separator)) || r.Dir == "/"
}

// abs joins a relative path to the root and cleans it. "" and "." mean the
// root. Absolute paths are taken as they are.
func (r *Root) abs(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL byte", ErrInvalid)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Dir, p)
	}
	return filepath.Clean(p), nil
}

// Resolve returns the canonical path of p with every existing symlink
// followed, including the last component. Components that do not exist are
// kept as they are, so new files can be created. The result must lie in
// the root; otherwise ErrOutside.
func (r *Root) Resolve(p string) (string, error) {
	a, err := r.abs(p)
	if err != nil {
		return "", err
	}
	real, err := realpath(a)
	if err != nil {
		return "", err
	}
	if !r.Within(real) {
		return "", fmt.Errorf("%w: %s", ErrOutside, p)
	}
	return real, nil
}

// ResolveNoFollow resolves the parent of p and appends its last component
// without following it, so the result names a symlink itself rather than
// its target (used by delete).
func (r *Root) ResolveNoFollow(p string) (string, error) {
	a, err := r.abs(p)
	if err != nil {
		return "", err
	}
	if a == r.Dir || a == "/" {
		return r.Resolve(p)
	}
	parent, err := realpath(filepath.Dir(a))
	if err != nil {
		return "", err
	}
	real := filepath.Join(parent, filepath.Base(a))
	if !r.Within(real) {
		return "", fmt.Errorf("%w: %s", ErrOutside, p)
	}
	return real, nil
}

// realpath resolves symlinks component by component. Unlike
// filepath.EvalSymlinks it tolerates missing trailing components and
// resolves dangling links to their (missing) targets, so a link to
// /etc/newfile cannot be used to create a file outside the root.
func realpath(abs string) (string, error) {
	todo := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	cur := "/"
	links := 0
	missing := false
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		if missing {
			cur = next
			continue
		}
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR):
			missing = true
			cur = next
		case err != nil:
			return "", fmt.Errorf("resolve %s: %w", next, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			links++
			if links > maxLinks {
				return "", fmt.Errorf("resolve %s: too many levels of symbolic links", abs)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", fmt.Errorf("resolve %s: %w", next, err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			cur = next
		}
	}
	return cur, nil
}
