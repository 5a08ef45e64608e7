package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

type uploadFileIn struct {
	SandboxID   string `json:"sandbox_id" jsonschema:"the sandbox id"`
	LocalPath   string `json:"local_path" jsonschema:"the file on this machine to send"`
	SandboxPath string `json:"sandbox_path,omitempty" jsonschema:"destination relative to /workspace (default: the local file's name)"`
}

type downloadFileIn struct {
	SandboxID   string `json:"sandbox_id" jsonschema:"the sandbox id"`
	SandboxPath string `json:"sandbox_path" jsonschema:"the file to fetch, relative to /workspace"`
	LocalPath   string `json:"local_path,omitempty" jsonschema:"where to write it on this machine (default: the file's name)"`
	Overwrite   bool   `json:"overwrite,omitempty" jsonschema:"replace an existing local file"`
}

type transferOut struct {
	SandboxPath string `json:"sandbox_path"`
	LocalPath   string `json:"local_path"`
	Bytes       int64  `json:"bytes"`
}

// addLocalTools registers upload_file and download_file.
func (p *proxy) addLocalTools(srv *sdk.Server) {
	limit := fmt.Sprintf("at most %d bytes", p.o.MaxTransferBytes)
	if p.o.LocalRoot != "" {
		limit += "; local paths must be inside " + p.o.LocalRoot
	}
	srv.AddTool(&sdk.Tool{
		Name: toolUploadFile,
		Description: "Send a file from this machine into a sandbox's workspace, streamed (" + limit + "). " +
			"Parent directories in the sandbox are created.",
		InputSchema:  inputSchema[uploadFileIn](func(p props) { p.pattern("sandbox_id", sandboxIDPattern) }),
		OutputSchema: outputSchema[transferOut](),
		Annotations:  &sdk.ToolAnnotations{},
	}, p.localTool(p.uploadFile))
	srv.AddTool(&sdk.Tool{
		Name: toolDownloadFile,
		Description: "Fetch a file of a sandbox's workspace onto this machine, streamed into a temporary file then renamed (" + limit + "). " +
			"An existing local file is kept unless overwrite is true; parent directories are created.",
		InputSchema:  inputSchema[downloadFileIn](func(p props) { p.pattern("sandbox_id", sandboxIDPattern).def("overwrite", false) }),
		OutputSchema: outputSchema[transferOut](),
		Annotations:  &sdk.ToolAnnotations{},
	}, p.localTool(p.downloadFile))
}

// localTool wraps a local tool's work: its failures are isError results
// (their messages describe this machine, which is the caller's own).
func (p *proxy) localTool(run func(ctx context.Context, a args) (transferOut, string, error)) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		a, err := parseArgs(req.Params.Arguments)
		var out transferOut
		requestID := ""
		if err == nil {
			out, requestID, err = run(ctx, a)
		}
		if requestID == "" {
			requestID = newRequestID()
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil, err
			}
			ce := core.AsError(err)
			if ce == nil {
				ce = core.Errorf(core.CodeInternal, "%v", err)
			}
			return errorResult(ce, requestID), nil
		}
		return jsonResult(out), nil
	}
}

// outsideRoot refuses a local path outside BAY_MCP_LOCAL_ROOT.
func (p *proxy) outsideRoot(field, path string) error {
	return (&core.Error{Code: core.CodeInvalidPath, Message: fmt.Sprintf("%s %s is outside BAY_MCP_LOCAL_ROOT (%s)", field, path, p.o.LocalRoot)}).
		WithDetails(map[string]any{"field": field, "reason": "outside_local_root"})
}

// localPath resolves a local path: relative to the root when one is set
// (else to the working directory), cleaned, and refused outside the root.
func (p *proxy) localPath(field, raw string) (string, error) {
	if raw == "" || strings.IndexByte(raw, 0) >= 0 {
		return "", (&core.Error{Code: core.CodeInvalidPath, Message: field + " cannot be empty"}).
			WithDetails(map[string]any{"field": field, "reason": core.PathEmpty})
	}
	abs := raw
	if !filepath.IsAbs(abs) && p.o.LocalRoot != "" {
		abs = filepath.Join(p.o.LocalRoot, abs)
	}
	abs, err := filepath.Abs(abs)
	if err != nil {
		return "", core.Errorf(core.CodeInvalidPath, "%s %s: %v", field, raw, err)
	}
	if p.o.LocalRoot != "" {
		root, err := filepath.Abs(p.o.LocalRoot)
		if err != nil || !within(root, abs) {
			return "", p.outsideRoot(field, raw)
		}
	}
	return abs, nil
}

// realWithinRoot checks that an existing path, symbolic links resolved,
// is still inside the root.
func (p *proxy) realWithinRoot(field, raw, existing string) error {
	if p.o.LocalRoot == "" {
		return nil
	}
	root, err := filepath.EvalSymlinks(p.o.LocalRoot)
	if err != nil {
		return core.Errorf(core.CodeInvalidPath, "BAY_MCP_LOCAL_ROOT %s: %v", p.o.LocalRoot, err)
	}
	root, _ = filepath.Abs(root)
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return localError(field, raw, err)
	}
	if !within(root, resolved) {
		return p.outsideRoot(field, raw)
	}
	return nil
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// localError maps a failure on this machine's file system.
func localError(field, raw string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return core.Errorf(core.CodeFileNotFound, "Local file not found: %s", raw).WithDetails(map[string]any{"field": field})
	case errors.Is(err, fs.ErrPermission):
		return core.Errorf(core.CodeForbidden, "Permission denied: %s", raw).WithDetails(map[string]any{"field": field})
	}
	return core.Errorf(core.CodeValidation, "%s %s: %v", field, raw, err).WithDetails(map[string]any{"field": field})
}

func (p *proxy) uploadFile(ctx context.Context, a args) (transferOut, string, error) {
	sandboxID, err := sandboxArg(a)
	if err != nil {
		return transferOut{}, "", err
	}
	if err := a.require("local_path"); err != nil {
		return transferOut{}, "", err
	}
	var in uploadFileIn
	if err := a.decode(&in); err != nil {
		return transferOut{}, "", err
	}
	local, err := p.localPath("local_path", in.LocalPath)
	if err != nil {
		return transferOut{}, "", err
	}
	if err := p.realWithinRoot("local_path", in.LocalPath, local); err != nil {
		return transferOut{}, "", err
	}
	// #nosec G304 -- the desktop user's own file, named by their agent; confined to BAY_MCP_LOCAL_ROOT when set (checked above)
	f, err := os.Open(local)
	if err != nil {
		return transferOut{}, "", localError("local_path", in.LocalPath, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return transferOut{}, "", localError("local_path", in.LocalPath, err)
	}
	if !st.Mode().IsRegular() {
		return transferOut{}, "", argInvalid("local_path", "local_path %s is not a regular file", in.LocalPath)
	}
	if st.Size() > p.o.MaxTransferBytes {
		return transferOut{}, "", tooLarge(st.Size(), p.o.MaxTransferBytes)
	}
	dest := in.SandboxPath
	if dest == "" {
		dest = filepath.Base(local)
	}

	// Stream the multipart body, "path" before "file" so that Bay passes
	// the file straight through.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("path", dest)
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", filepath.Base(local)); err == nil {
				var n int64
				n, err = io.Copy(part, io.LimitReader(f, p.o.MaxTransferBytes+1))
				if err == nil && n > p.o.MaxTransferBytes {
					err = tooLarge(-1, p.o.MaxTransferBytes) // it grew while being sent
				}
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/v1/sandboxes/"+sandboxID+"/filesystem/upload", pr)
	if err != nil {
		pr.CloseWithError(err)
		return transferOut{}, "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.http.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		if ce := core.AsError(err); ce != nil {
			return transferOut{}, "", ce
		}
		if ctx.Err() != nil {
			return transferOut{}, "", ctx.Err()
		}
		return transferOut{}, "", core.Errorf(core.CodeInternal, "Bay did not answer: %v", err)
	}
	defer resp.Body.Close()
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusOK {
		return transferOut{}, rid, restError(resp)
	}
	var res struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return transferOut{}, rid, core.Errorf(core.CodeInternal, "Bay's upload answer is not JSON: %v", err)
	}
	return transferOut{SandboxPath: res.Path, LocalPath: local, Bytes: res.Size}, rid, nil
}

func (p *proxy) downloadFile(ctx context.Context, a args) (transferOut, string, error) {
	sandboxID, err := sandboxArg(a)
	if err != nil {
		return transferOut{}, "", err
	}
	if err := a.require("sandbox_path"); err != nil {
		return transferOut{}, "", err
	}
	var in downloadFileIn
	if err := a.decode(&in); err != nil {
		return transferOut{}, "", err
	}
	raw := in.LocalPath
	if raw == "" {
		raw = path.Base(strings.TrimRight(in.SandboxPath, "/"))
		if raw == "." || raw == "/" || raw == "" {
			return transferOut{}, "", argInvalid("local_path", "local_path is required when sandbox_path names no file")
		}
	}
	target, err := p.localPath("local_path", raw)
	if err != nil {
		return transferOut{}, "", err
	}
	if _, err := os.Lstat(target); err == nil && !in.Overwrite {
		return transferOut{}, "", core.Conflict("Local file exists: %s; pass overwrite=true to replace it", raw).
			WithDetails(map[string]any{"local_path": target})
	}
	dir := filepath.Dir(target)
	// #nosec G301 -- directories in the desktop user's own tree, as mkdir -p makes them (the umask applies)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return transferOut{}, "", localError("local_path", raw, err)
	}
	if err := p.realWithinRoot("local_path", raw, dir); err != nil {
		return transferOut{}, "", err
	}

	u := p.base + "/v1/sandboxes/" + sandboxID + "/filesystem/download?path=" + url.QueryEscape(in.SandboxPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return transferOut{}, "", err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return transferOut{}, "", ctx.Err()
		}
		return transferOut{}, "", core.Errorf(core.CodeInternal, "Bay did not answer: %v", err)
	}
	defer resp.Body.Close()
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusOK {
		return transferOut{}, rid, restError(resp)
	}
	if resp.ContentLength > p.o.MaxTransferBytes {
		return transferOut{}, rid, tooLarge(resp.ContentLength, p.o.MaxTransferBytes)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*.part")
	if err != nil {
		return transferOut{}, rid, localError("local_path", raw, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, p.o.MaxTransferBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return transferOut{}, rid, ctx.Err()
		}
		return transferOut{}, rid, core.Errorf(core.CodeInternal, "Download interrupted: %v", err)
	}
	if n > p.o.MaxTransferBytes {
		return transferOut{}, rid, tooLarge(-1, p.o.MaxTransferBytes)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return transferOut{}, rid, core.Errorf(core.CodeInternal, "Download interrupted after %d of %d bytes", n, resp.ContentLength)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return transferOut{}, rid, localError("local_path", raw, err)
	}
	if err := tmp.Close(); err != nil {
		return transferOut{}, rid, localError("local_path", raw, err)
	}
	if !in.Overwrite {
		// Appeared meanwhile: keep it, as asked.
		if _, err := os.Lstat(target); err == nil {
			return transferOut{}, rid, core.Conflict("Local file exists: %s; pass overwrite=true to replace it", raw).
				WithDetails(map[string]any{"local_path": target})
		}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return transferOut{}, rid, localError("local_path", raw, err)
	}
	done = true
	return transferOut{SandboxPath: in.SandboxPath, LocalPath: target, Bytes: n}, rid, nil
}

// restError reads the API's error envelope; a body that is not one keeps
// the status's meaning and a snippet.
func restError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Error struct {
			Code    core.Code      `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		return &core.Error{Code: env.Error.Code, Message: env.Error.Message, Details: env.Error.Details}
	}
	code := core.CodeInternal
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		code = core.CodeUnauthorized
	case http.StatusForbidden:
		code = core.CodeForbidden
	case http.StatusNotFound:
		code = core.CodeNotFound
	case http.StatusRequestEntityTooLarge:
		code = core.CodePayloadTooLarge
	case http.StatusBadGateway:
		code = core.CodeShipError
	case http.StatusServiceUnavailable:
		code = core.CodeSessionNotReady
	case http.StatusGatewayTimeout:
		code = core.CodeTimeout
	}
	snippet := string(body)
	if len(snippet) > 500 {
		snippet = snippet[:500]
	}
	return core.Errorf(code, "Bay answered %s", resp.Status).WithDetails(map[string]any{"body": snippet})
}
