package fsx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/bayhq/bay/ship/runas"
)

// Errors of the file operations, matched with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrNotFile      = errors.New("not a file")
	ErrNotDir       = errors.New("not a directory")
	ErrIsRoot       = errors.New("refusing to delete the workspace root")
	ErrEncoding     = errors.New("unsupported encoding")
	ErrNotUTF8      = errors.New("file is not valid UTF-8")
	ErrSameStrings  = errors.New("'old_string' and 'new_string' must differ")
	ErrNoMatch      = errors.New("'old_string' not found in file")
	ErrUnknownType  = errors.New("unknown path type")
	errMultiMatches = errors.New("multiple matches")
)

// MultipleMatchesError reports an edit whose old string occurs N > 1 times.
type MultipleMatchesError struct{ N int }

func (e *MultipleMatchesError) Error() string {
	return fmt.Sprintf("'old_string' appears %d times in file; set replace_all=true to replace all occurrences", e.N)
}

// Unwrap lets errors.Is match the multiple-matches case generically.
func (e *MultipleMatchesError) Unwrap() error { return errMultiMatches }

// FS performs file operations inside a workspace root. Files and
// directories it creates are given to the sandbox identity.
type FS struct {
	Root *Root
	ID   runas.Identity
}

// CheckEncoding accepts the usual spellings of UTF-8.
func CheckEncoding(enc string) error {
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "", "utf-8", "utf8":
		return nil
	}
	return fmt.Errorf("%w: %s", ErrEncoding, enc)
}

// chown gives the resolved path p to the sandbox user when switching.
func (f *FS) chown(p string) error {
	if !f.ID.Switch {
		return nil
	}
	if err := f.Root.os.Lchown(f.Root.rel(p), f.ID.UID, f.ID.GID); err != nil {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	return nil
}

// mkdirAll creates the resolved dir and its missing parents, chowning each
// one created.
func (f *FS) mkdirAll(dir string) error {
	if !f.Root.Within(dir) {
		// Only the parent of the root itself gets here (writing to the root
		// path); the operation that follows fails on its own.
		return nil
	}
	if fi, err := f.Root.os.Stat(f.Root.rel(dir)); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", dir, ErrNotDir)
		}
		return nil
	}
	if dir == f.Root.Dir {
		return nil
	}
	if err := f.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := f.Root.os.Mkdir(f.Root.rel(dir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return f.chown(dir)
}

// openWrite opens the resolved path p for writing, creating parents and
// chowning what it creates. O_NOFOLLOW refuses a symlink swapped in after
// resolution.
func (f *FS) openWrite(p string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := f.mkdirAll(filepath.Dir(p)); err != nil {
		return nil, err
	}
	rel := f.Root.rel(p)
	_, statErr := f.Root.os.Lstat(rel)
	file, err := f.Root.os.OpenFile(rel, flag|os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := f.chown(p); err != nil {
			file.Close()
			return nil, err
		}
	}
	return file, nil
}

// CreateFile writes content to path (truncating) and chmods it to mode.
func (f *FS) CreateFile(path, content string, mode fs.FileMode) (string, error) {
	p, err := f.Root.Resolve(path)
	if err != nil {
		return "", err
	}
	file, err := f.openWrite(p, os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(file, content); err != nil {
		file.Close()
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	if err := file.Chmod(mode); err != nil {
		file.Close()
		return "", fmt.Errorf("chmod %s: %w", p, err)
	}
	return p, file.Close()
}

// WriteFile truncates (or, with appendMode, appends to) path and writes
// content. It returns the resolved path and the size after writing.
func (f *FS) WriteFile(path, content string, appendMode bool) (string, int64, error) {
	p, err := f.Root.Resolve(path)
	if err != nil {
		return "", 0, err
	}
	flag := os.O_TRUNC
	if appendMode {
		flag = os.O_APPEND
	}
	file, err := f.openWrite(p, flag, 0o644)
	if err != nil {
		return "", 0, err
	}
	defer file.Close()
	if _, err := io.WriteString(file, content); err != nil {
		return "", 0, fmt.Errorf("write %s: %w", p, err)
	}
	fi, err := file.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("stat %s: %w", p, err)
	}
	return p, fi.Size(), file.Close()
}

// statFile resolves path and checks that it is an existing regular file.
func (f *FS) statFile(path string) (string, fs.FileInfo, error) {
	p, err := f.Root.Resolve(path)
	if err != nil {
		return "", nil, err
	}
	fi, err := f.Root.os.Stat(f.Root.rel(p))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return "", nil, ErrNotFile
	}
	return p, fi, nil
}

// ReadFile returns the text of path. offset is a 1-based line number and
// limit a line count; lines keep their endings. Without both, the whole
// file is returned. size is the size of the whole file.
func (f *FS) ReadFile(path string, offset, limit *int) (content, resolved string, size int64, err error) {
	p, fi, err := f.statFile(path)
	if err != nil {
		return "", "", 0, err
	}
	b, err := f.Root.os.ReadFile(f.Root.rel(p))
	if err != nil {
		return "", "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	if !utf8.Valid(b) {
		return "", "", 0, ErrNotUTF8
	}
	s := string(b)
	if offset != nil || limit != nil {
		lines := strings.SplitAfter(s, "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		start := 0
		if offset != nil && *offset > 1 {
			start = *offset - 1
		}
		start = min(start, len(lines))
		end := len(lines)
		if limit != nil && *limit >= 0 {
			end = min(end, start+*limit)
		}
		s = strings.Join(lines[start:end], "")
	}
	return s, p, fi.Size(), nil
}

// EditFile replaces old with new in path: exactly one occurrence unless
// all is set. It returns the resolved path, the number of replacements and
// the new size.
func (f *FS) EditFile(path, old, new string, all bool) (string, int, int64, error) {
	p, fi, err := f.statFile(path)
	if err != nil {
		return "", 0, 0, err
	}
	if old == new {
		return "", 0, 0, ErrSameStrings
	}
	b, err := f.Root.os.ReadFile(f.Root.rel(p))
	if err != nil {
		return "", 0, 0, fmt.Errorf("read %s: %w", p, err)
	}
	s := string(b)
	n := strings.Count(s, old)
	if old == "" || n == 0 {
		return "", 0, 0, ErrNoMatch
	}
	if n > 1 && !all {
		return "", 0, 0, &MultipleMatchesError{N: n}
	}
	s = strings.ReplaceAll(s, old, new)
	if err := f.Root.os.WriteFile(f.Root.rel(p), []byte(s), fi.Mode().Perm()); err != nil {
		return "", 0, 0, fmt.Errorf("write %s: %w", p, err)
	}
	return p, n, int64(len(s)), nil
}

// Delete removes a file, a symlink (not its target) or a directory tree.
// It reports whether a directory was removed.
func (f *FS) Delete(path string) (string, bool, error) {
	p, err := f.Root.ResolveNoFollow(path)
	if err != nil {
		return "", false, err
	}
	if p == f.Root.Dir {
		return "", false, ErrIsRoot
	}
	rel := f.Root.rel(p)
	fi, err := f.Root.os.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", false, ErrNotFound
	}
	if err != nil {
		return "", false, fmt.Errorf("stat %s: %w", p, err)
	}
	switch {
	case fi.IsDir():
		if err := f.Root.os.RemoveAll(rel); err != nil {
			return "", false, fmt.Errorf("remove %s: %w", p, err)
		}
		return p, true, nil
	case fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 || fi.Mode()&(fs.ModeNamedPipe|fs.ModeSocket) != 0:
		if err := f.Root.os.Remove(rel); err != nil {
			return "", false, fmt.Errorf("remove %s: %w", p, err)
		}
		return p, false, nil
	default:
		return "", false, ErrUnknownType
	}
}

// FileInfo is one list_dir entry.
type FileInfo struct {
	Name         string  `json:"name"`
	Path         string  `json:"path"`
	IsFile       bool    `json:"is_file"`
	IsDir        bool    `json:"is_dir"`
	Size         *int64  `json:"size"`
	ModifiedTime float64 `json:"modified_time"`
}

// List returns the entries of a directory: directories first, then by
// case-insensitive name. Entries whose stat fails (dangling links) are
// skipped; links are reported by their target's type.
func (f *FS) List(path string, showHidden bool) (string, []FileInfo, error) {
	p, err := f.Root.Resolve(path)
	if err != nil {
		return "", nil, err
	}
	rel := f.Root.rel(p)
	fi, err := f.Root.os.Stat(rel)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.IsDir() {
		return "", nil, ErrNotDir
	}
	dir, err := f.Root.os.Open(rel)
	if err != nil {
		return "", nil, fmt.Errorf("open dir %s: %w", p, err)
	}
	des, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return "", nil, fmt.Errorf("read dir %s: %w", p, err)
	}
	files := make([]FileInfo, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !showHidden && strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(p, name)
		// Through os.Root, a link pointing outside fails to stat and is
		// skipped like a dangling one.
		st, err := f.Root.os.Stat(filepath.Join(rel, name))
		if err != nil {
			continue
		}
		info := FileInfo{
			Name:         name,
			Path:         full,
			IsFile:       st.Mode().IsRegular(),
			IsDir:        st.IsDir(),
			ModifiedTime: float64(st.ModTime().UnixNano()) / 1e9,
		}
		if !st.IsDir() {
			size := st.Size()
			info.Size = &size
		}
		files = append(files, info)
	}
	sort.SliceStable(files, func(i, j int) bool {
		if files[i].IsDir != files[j].IsDir {
			return files[i].IsDir
		}
		return strings.ToLower(files[i].Name) < strings.ToLower(files[j].Name)
	})
	return p, files, nil
}

// Open opens a regular file for download.
func (f *FS) Open(path string) (*os.File, fs.FileInfo, error) {
	p, _, err := f.statFile(path)
	if err != nil {
		return nil, nil, err
	}
	file, err := f.Root.os.OpenFile(f.Root.rel(p), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", p, err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", p, err)
	}
	return file, fi, nil
}

// Upload is a file being received; its bytes go to a hidden temporary file
// that Commit renames into place, so a failed upload leaves no partial file.
type Upload struct {
	fs   *FS
	file *os.File
	tmp  string // resolved absolute path of the temporary file
	size int64
}

// NewUpload starts an upload whose temporary file lives in dir (resolved
// inside the root; the root when dir is "").
func (f *FS) NewUpload(dir string) (*Upload, error) {
	d := f.Root.Dir
	if dir != "" {
		p, err := f.Root.Resolve(dir)
		if err != nil {
			return nil, err
		}
		if err := f.mkdirAll(p); err != nil {
			return nil, err
		}
		d = p
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(d, ".ship-upload-"+hex.EncodeToString(rnd[:]))
	file, err := f.Root.os.OpenFile(f.Root.rel(tmp), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return &Upload{fs: f, file: file, tmp: tmp}, nil
}

// Write appends to the upload.
func (u *Upload) Write(b []byte) (int, error) {
	n, err := u.file.Write(b)
	u.size += int64(n)
	return n, err
}

// Abort discards the upload.
func (u *Upload) Abort() {
	u.file.Close()
	u.remove()
}

func (u *Upload) remove() { _ = u.fs.Root.os.Remove(u.fs.Root.rel(u.tmp)) }

// Commit moves the upload to path and returns the resolved path and size.
func (u *Upload) Commit(path string) (string, int64, error) {
	p, err := u.fs.Root.Resolve(path)
	if err != nil {
		u.Abort()
		return "", 0, err
	}
	if err := u.fs.mkdirAll(filepath.Dir(p)); err != nil {
		u.Abort()
		return "", 0, err
	}
	if err := u.file.Chmod(0o644); err != nil {
		u.Abort()
		return "", 0, fmt.Errorf("chmod: %w", err)
	}
	if err := u.file.Close(); err != nil {
		u.remove()
		return "", 0, fmt.Errorf("close: %w", err)
	}
	if err := u.fs.chown(u.tmp); err != nil {
		u.remove()
		return "", 0, err
	}
	root := u.fs.Root
	if fi, err := root.os.Lstat(root.rel(p)); err == nil && fi.IsDir() {
		u.remove()
		return "", 0, fmt.Errorf("%s: %w", p, ErrNotFile)
	}
	if err := root.os.Rename(root.rel(u.tmp), root.rel(p)); err != nil {
		u.remove()
		return "", 0, fmt.Errorf("rename to %s: %w", p, err)
	}
	return p, u.size, nil
}
