package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// maxPathPartBytes caps the multipart "path" field, which is read into
// memory.
const maxPathPartBytes = 4096

// ExecPython runs Python code; the execution is recorded (agent-reach.md
// §1).
func (s *Server) ExecPython(ctx context.Context, req oapigen.ExecPythonRequestObject) (oapigen.ExecPythonResponseObject, error) {
	b := deref(req.Body, oapigen.ExecPythonJSONRequestBody{})
	out, err := s.executions.Exec(ctx, ownerFrom(ctx), req.SandboxId,
		execInput(core.ExecPython, b.Code, b.Timeout, nil, b.Description, b.Tags, received(ctx)))
	if err != nil {
		return nil, fieldShape(err)
	}
	res, e := out.Python, out.Execution
	data := res.Data
	if data == nil {
		data = map[string]any{}
	}
	reply := oapigen.PythonExecResult{
		Success: res.Success, Output: res.Output, Error: res.Error,
		Data: oapigen.PythonExecData{
			ExecutionCount:  res.ExecutionCount,
			Output:          data,
			KernelRestarted: res.KernelRestarted,
		},
		ExecutionId: e.ID, ExecutionTimeMs: deref(e.ExecutionTimeMs, 0),
	}
	if deref(b.IncludeCode, false) {
		reply.Code = &b.Code
	}
	return newReply(http.StatusOK, reply)
}

// ExecShell runs a shell command; the execution is recorded.
func (s *Server) ExecShell(ctx context.Context, req oapigen.ExecShellRequestObject) (oapigen.ExecShellResponseObject, error) {
	b := deref(req.Body, oapigen.ExecShellJSONRequestBody{})
	out, err := s.executions.Exec(ctx, ownerFrom(ctx), req.SandboxId,
		execInput(core.ExecShell, b.Command, b.Timeout, b.Cwd, b.Description, b.Tags, received(ctx)))
	if err != nil {
		return nil, fieldShape(err)
	}
	res, e := out.Shell, out.Execution
	reply := oapigen.ShellExecResult{
		Success: res.Success, Output: res.Output, Error: res.Error, ExitCode: res.ExitCode,
		ExecutionId: e.ID, ExecutionTimeMs: deref(e.ExecutionTimeMs, 0),
	}
	if deref(b.IncludeCode, false) {
		reply.Command = &b.Command
	}
	return newReply(http.StatusOK, reply)
}

// ReadFile reads a text file from a sandbox.
func (s *Server) ReadFile(ctx context.Context, req oapigen.ReadFileRequestObject) (oapigen.ReadFileResponseObject, error) {
	content, err := s.sandboxes.ReadFile(ctx, ownerFrom(ctx), req.SandboxId, req.Params.Path)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.FileContent{Content: content})
}

// WriteFile writes a text file into a sandbox.
func (s *Server) WriteFile(ctx context.Context, req oapigen.WriteFileRequestObject) (oapigen.WriteFileResponseObject, error) {
	body := deref(req.Body, oapigen.WriteFileJSONRequestBody{})
	if err := s.sandboxes.WriteFile(ctx, ownerFrom(ctx), req.SandboxId, body.Path, body.Content); err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.StatusOK{Status: oapigen.StatusOKStatusOk})
}

// DeleteFile deletes a file or directory in a sandbox.
func (s *Server) DeleteFile(ctx context.Context, req oapigen.DeleteFileRequestObject) (oapigen.DeleteFileResponseObject, error) {
	if err := s.sandboxes.DeleteFile(ctx, ownerFrom(ctx), req.SandboxId, req.Params.Path); err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.StatusOK{Status: oapigen.StatusOKStatusOk})
}

// ListDirectory lists a directory in a sandbox.
func (s *Server) ListDirectory(ctx context.Context, req oapigen.ListDirectoryRequestObject) (oapigen.ListDirectoryResponseObject, error) {
	entries, err := s.sandboxes.ListDir(ctx, ownerFrom(ctx), req.SandboxId, deref(req.Params.Path, "."))
	if err != nil {
		return nil, err
	}
	out := oapigen.DirectoryListing{Entries: make([]oapigen.FileEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, oapigen.FileEntry{
			Name:         e.Name,
			Path:         e.Path,
			IsFile:       e.IsFile,
			IsDir:        e.IsDir,
			Size:         e.Size,
			ModifiedTime: e.ModifiedTime,
		})
	}
	return newReply(http.StatusOK, out)
}

// UploadFile streams the multipart "file" part into the sandbox. When
// "path" comes first the part goes straight through; when "file" comes
// first it is spooled to a temporary file (never memory) until "path"
// arrives.
func (s *Server) UploadFile(ctx context.Context, req oapigen.UploadFileRequestObject) (oapigen.UploadFileResponseObject, error) {
	u := &upload{s: s, ctx: ctx, owner: ownerFrom(ctx), id: req.SandboxId}
	defer u.cleanup()
	res, err := u.run(req.Body)
	if isShape(err) && !u.sent {
		// A malformed upload the service never saw: its first checks still
		// come first.
		err = s.refused(ctx, req.SandboxId, err)
	}
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.UploadResult{Status: oapigen.Ok, Path: res.Path, Size: res.Size})
}

type upload struct {
	s         *Server
	ctx       context.Context
	owner, id string

	path     *string
	spool    *os.File
	sawFile  bool
	sent     bool // the body was handed to the service
	uploaded *core.UploadResult
}

func (u *upload) run(mr *multipart.Reader) (*core.UploadResult, error) {
	if mr == nil {
		return nil, shape(fieldErr("Field required", "missing", "body"))
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, partError(err)
		}
		err = u.part(part)
		part.Close()
		if err != nil {
			return nil, err
		}
	}
	if u.uploaded != nil {
		return u.uploaded, nil
	}
	var missing []fieldError
	if !u.sawFile {
		missing = append(missing, fieldErr("Field required", "missing", "body", "file"))
	}
	if u.path == nil {
		missing = append(missing, fieldErr("Field required", "missing", "body", "path"))
	}
	if len(missing) > 0 {
		return nil, shape(missing...)
	}
	if _, err := u.spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload spool: %w", err)
	}
	return u.send(u.spool)
}

func (u *upload) part(part *multipart.Part) error {
	switch part.FormName() {
	case "path":
		if u.path != nil {
			return drain(part)
		}
		b, err := io.ReadAll(io.LimitReader(part, maxPathPartBytes+1))
		if err != nil {
			return partError(err)
		}
		if len(b) > maxPathPartBytes {
			return shape(fieldErr("String should have at most "+strconv.Itoa(maxPathPartBytes)+" characters", "string_too_long", "body", "path"))
		}
		p := string(b)
		if p == "" {
			return shape(fieldErr("String should have at least 1 character", "string_too_short", "body", "path"))
		}
		u.path = &p // a spooled file is sent after the loop
		return nil
	case "file":
		if u.sawFile {
			return drain(part)
		}
		u.sawFile = true
		if u.path != nil {
			res, err := u.send(part)
			if err != nil {
				return err
			}
			u.uploaded = res
			return nil
		}
		f, err := os.CreateTemp("", "bay-upload-*")
		if err != nil {
			return fmt.Errorf("create upload spool: %w", err)
		}
		u.spool = f
		if _, err := io.Copy(f, part); err != nil {
			return partError(err)
		}
		return nil
	default:
		return drain(part)
	}
}

// send hands body to the service. A body cut off by the size limit answers
// 413 and a malformed one 422, whatever the service made of the read error.
func (u *upload) send(body io.Reader) (*core.UploadResult, error) {
	tr := &trackingReader{r: body}
	u.sent = true
	res, err := u.s.sandboxes.Upload(u.ctx, u.owner, u.id, *u.path, tr)
	if tr.err != nil {
		// The request body itself broke (size limit or malformed multipart):
		// the client's fault, whatever the service made of it.
		return nil, partError(tr.err)
	}
	return res, err
}

func (u *upload) cleanup() {
	if u.spool != nil {
		u.spool.Close()
		os.Remove(u.spool.Name())
	}
}

// trackingReader remembers the first read error other than io.EOF.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

func drain(part *multipart.Part) error {
	if _, err := io.Copy(io.Discard, part); err != nil {
		return partError(err)
	}
	return nil
}

// partError maps a failure reading the multipart body: the size limit is
// 413, anything else a malformed body (422).
func partError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	return shape(fieldErr("Invalid multipart body: "+err.Error(), "value_error", "body"))
}

// DownloadFile streams a file out of a sandbox.
func (s *Server) DownloadFile(ctx context.Context, req oapigen.DownloadFileRequestObject) (oapigen.DownloadFileResponseObject, error) {
	d, err := s.sandboxes.Download(ctx, ownerFrom(ctx), req.SandboxId, req.Params.Path)
	if err != nil {
		return nil, err
	}
	return downloadReply{d: d}, nil
}

type downloadReply struct{ d *core.Download }

func (r downloadReply) VisitDownloadFileResponse(w http.ResponseWriter) error {
	defer r.d.Body.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(r.d.Name))
	if r.d.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(r.d.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, r.d.Body); err != nil {
		return fmt.Errorf("stream download: %w", err)
	}
	return nil
}

// contentDisposition renders `attachment; filename="<name>"`, adding an RFC
// 5987 filename* with the exact UTF-8 name when the name is not plain
// printable ASCII (the plain filename then carries a sanitized fallback).
func contentDisposition(name string) string {
	if name == "" {
		name = "download"
	}
	var fallback strings.Builder
	plain := true
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			plain = false
			fallback.WriteByte('_')
			continue
		}
		fallback.WriteRune(r)
	}
	v := `attachment; filename="` + fallback.String() + `"`
	if !plain {
		v += "; filename*=UTF-8''" + rfc5987Escape(name)
	}
	return v
}

// rfc5987Escape percent-encodes everything but RFC 5987 attr-chars.
func rfc5987Escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}
