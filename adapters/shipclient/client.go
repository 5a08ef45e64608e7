package shipclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/ship/wire"
)

// Timeouts of bay-api.md Appendix A.
const (
	metaTimeout   = 5 * time.Second
	execMargin    = 5 * time.Second
	fsTimeout     = 30 * time.Second
	healthTimeout = 2 * time.Second
	// cancelTimeout bounds POST /exec/{exec_id}/cancel, which only signals.
	cancelTimeout = 5 * time.Second
)

// Client implements core.Ship.
type Client struct {
	http *http.Client
}

var _ core.Ship = (*Client)(nil)

// New returns a Client. Calls to Ship never go through proxies configured in
// the environment (HTTP_PROXY and friends): Ship lives next to Bay.
func New() *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Client{http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Health implements core.Ship.
func (c *Client) Health(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+wire.PathHealth, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health answered %d", resp.StatusCode)
	}
	return nil
}

// Capabilities implements core.Ship.
func (c *Client) Capabilities(ctx context.Context, ep core.Endpoint) (core.RuntimeCapabilities, error) {
	var meta wire.Meta
	if err := c.getJSON(ctx, ep, wire.PathMeta, metaTimeout, &meta); err != nil {
		return nil, err
	}
	if meta.Runtime.Auth != wire.AuthBearer {
		// A runtime that does not check the token runs code for anyone
		// who can connect to it: refuse it rather than use it.
		return nil, core.Errorf(core.CodeInternal, "runtime image too old: its /meta does not declare bearer authentication (rebuild it with images/build.sh)")
	}
	if meta.Capabilities == nil {
		return nil, core.Errorf(core.CodeShipError, "Ship request error: /meta has no capabilities")
	}
	caps := make(core.RuntimeCapabilities, len(meta.Capabilities))
	for k, capability := range meta.Capabilities {
		ops := slices.Clone(capability.Operations)
		if ops == nil {
			ops = []string{}
		}
		caps[k] = ops
	}
	return caps, nil
}

// Python implements core.Ship.
func (c *Client) Python(ctx context.Context, ep core.Endpoint, code string, timeout int, execID string) (*core.PythonResult, error) {
	var out wire.PythonExecResponse
	silent := false
	body := wire.PythonExecRequest{Code: code, Timeout: &timeout, Silent: &silent, ExecID: execID}
	if err := c.postJSON(ctx, ep, wire.PathPythonExec, execTimeout(timeout), body, &out); err != nil {
		return nil, err
	}
	res := &core.PythonResult{
		Success: out.Success, Output: out.Output.Text, Error: out.Error,
		Data: pythonData(out.Output), KernelRestarted: out.KernelRestarted, Cancelled: out.Cancelled,
		ExecutionCount: int64p(out.ExecutionCount),
	}
	return res, nil
}

// WarmKernel implements core.Ship with a silent execution of "pass".
func (c *Client) WarmKernel(ctx context.Context, ep core.Endpoint, timeout int) error {
	var out wire.PythonExecResponse
	silent := true
	body := wire.PythonExecRequest{Code: "pass", Timeout: &timeout, Silent: &silent}
	if err := c.postJSON(ctx, ep, wire.PathPythonExec, execTimeout(timeout), body, &out); err != nil {
		return err
	}
	if !out.Success {
		msg := ""
		if out.Error != nil {
			msg = *out.Error
		}
		return core.Errorf(core.CodeShipError, "kernel warm-up failed: %s", msg)
	}
	return nil
}

// execTimeout is the client's deadline for an execution of timeout
// seconds: Ship answers at the timeout, the margin covers the rest.
func execTimeout(timeout int) time.Duration { return time.Duration(timeout)*time.Second + execMargin }

// int64p widens an optional int of the wire.
func int64p(n *int) *int64 {
	if n == nil {
		return nil
	}
	v := int64(*n)
	return &v
}

// pythonData is Ship's output object as the generic JSON value Bay's API
// passes on: {"text": ..., "images": [{"image/png": ...}, ...]}.
func pythonData(o wire.PythonOutput) map[string]any {
	images := make([]any, 0, len(o.Images))
	for _, img := range o.Images {
		m := make(map[string]any, len(img))
		for k, v := range img {
			m[k] = v
		}
		images = append(images, m)
	}
	return map[string]any{"text": o.Text, "images": images}
}

// Shell implements core.Ship.
func (c *Client) Shell(ctx context.Context, ep core.Endpoint, in core.ShellInput) (*core.ShellResult, error) {
	var out wire.ShellExecResponse
	timeout := in.Timeout
	body := wire.ShellExecRequest{Command: in.Command, Timeout: &timeout, Cwd: in.Cwd, ExecID: in.ExecID}
	if err := c.postJSON(ctx, ep, wire.PathShellExec, execTimeout(in.Timeout), body, &out); err != nil {
		return nil, err
	}
	return &core.ShellResult{
		Success: out.Success, Output: out.Stdout, ExitCode: int64p(out.ReturnCode),
		Error: shellError(out.Error, out.Stderr), Cancelled: out.Cancelled,
	}, nil
}

// shellError is Bay's error of a shell command: Ship's error, or when that
// is empty, the command's stderr (spec/ship.md §7).
func shellError(shipError *string, stderr string) *string {
	switch {
	case shipError != nil && *shipError != "":
		return shipError
	case stderr != "":
		return &stderr
	}
	return nil
}

// Cancel implements core.Ship.
func (c *Client) Cancel(ctx context.Context, ep core.Endpoint, execID string) error {
	path := wire.ExecCancelPath(url.PathEscape(execID))
	var (
		out wire.CancelResponse
		err error
	)
	if execID != "" {
		err = c.postJSON(ctx, ep, path, cancelTimeout, struct{}{}, &out)
	}
	if execID == "" || shipStatus(err) == http.StatusNotFound || (err == nil && !out.Cancelled) {
		return core.Errorf(core.CodeNotFound, "Runtime has no running execution %s", execID).
			WithDetails(map[string]any{"execution_id": execID, "ship_path": path})
	}
	return err
}

// RuntimeInfo implements core.Ship.
func (c *Client) RuntimeInfo(ctx context.Context, ep core.Endpoint) (map[string]any, error) {
	var out map[string]any
	err := c.getJSON(ctx, ep, wire.PathCapabilities, metaTimeout, &out)
	switch {
	case shipStatus(err) == http.StatusNotFound:
		return nil, core.Errorf(core.CodeNotFound, "Runtime does not serve %s", wire.PathCapabilities).
			WithDetails(map[string]any{"ship_path": wire.PathCapabilities})
	case err != nil:
		return nil, err
	case out == nil:
		return nil, core.Errorf(core.CodeShipError, "Ship request error: unusable answer from %s", wire.PathCapabilities)
	}
	return out, nil
}

// shipStatus returns the HTTP status of an error status of Ship that err
// carries (statusError), or 0.
func shipStatus(err error) int {
	if err == nil || core.CodeOf(err) != core.CodeShipError {
		return 0
	}
	status, _ := core.AsError(err).Details["status"].(int)
	return status
}

// ReadFile implements core.Ship.
func (c *Client) ReadFile(ctx context.Context, ep core.Endpoint, path string) (string, error) {
	var out wire.ReadFileResponse
	if err := c.postJSON(ctx, ep, wire.PathReadFile, fsTimeout, wire.ReadFileRequest{Path: path}, &out); err != nil {
		return "", err
	}
	if out.Content == nil {
		return "", core.Errorf(core.CodeShipError, "Ship request error: read_file answered no content")
	}
	return *out.Content, nil
}

// WriteFile implements core.Ship.
func (c *Client) WriteFile(ctx context.Context, ep core.Endpoint, path, content string) error {
	mode := wire.WriteModeTruncate
	return c.postJSON(ctx, ep, wire.PathWriteFile, fsTimeout,
		wire.WriteFileRequest{Path: path, Content: content, Mode: &mode}, &wire.WriteFileResponse{})
}

// DeleteFile implements core.Ship.
func (c *Client) DeleteFile(ctx context.Context, ep core.Endpoint, path string) error {
	return c.postJSON(ctx, ep, wire.PathDeleteFile, fsTimeout, wire.DeleteFileRequest{Path: path}, &wire.DeleteFileResponse{})
}

// ListDir implements core.Ship.
func (c *Client) ListDir(ctx context.Context, ep core.Endpoint, path string) ([]core.FileEntry, error) {
	var out wire.ListDirResponse
	if err := c.postJSON(ctx, ep, wire.PathListDir, fsTimeout, wire.ListDirRequest{Path: path}, &out); err != nil {
		return nil, err
	}
	entries := make([]core.FileEntry, 0, len(out.Files))
	for _, f := range out.Files {
		entries = append(entries, core.FileEntry{
			Name: f.Name, Path: f.Path, IsFile: f.IsFile, IsDir: f.IsDir, Size: f.Size, ModifiedTime: f.ModifiedTime,
		})
	}
	return entries, nil
}

// Upload implements core.Ship. The body is streamed: Bay never holds the
// file. The 30 s timeout of the contract applies to progress, not to the
// whole transfer: the upload fails when no byte moved for 30 s.
func (c *Client) Upload(ctx context.Context, ep core.Endpoint, path string, body io.Reader) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := newWatchdog(fsTimeout, cancel)
	defer watchdog.stop()

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			// file_path first, so that Ship can stream the file part.
			if err := mw.WriteField(wire.UploadFieldPath, path); err != nil {
				return err
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+wire.UploadFieldFile+`"; filename="file"`)
			h.Set("Content-Type", "application/octet-stream")
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, &progressReader{r: body, w: watchdog}); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()

	req, err := newRequest(ctx, http.MethodPost, ep, wire.PathUpload, pr)
	if err != nil {
		pr.CloseWithError(err)
		return 0, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.http.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		if watchdog.fired() {
			return 0, core.Errorf(core.CodeTimeout, "Ship request timed out: "+wire.PathUpload)
		}
		return 0, transportError(wire.PathUpload, err)
	}
	defer resp.Body.Close()
	var out wire.UploadResponse
	if err := decode(resp, wire.PathUpload, &out); err != nil {
		return 0, err
	}
	if !out.Success || out.Size == nil {
		msg := "upload failed"
		if out.Error != nil {
			msg = *out.Error
		}
		return 0, core.Errorf(core.CodeShipError, "Ship request error: %s", msg)
	}
	return *out.Size, nil
}

// Download implements core.Ship. The 30 s timeout covers the answer's
// headers and then every pause in the body, not the whole transfer.
func (c *Client) Download(ctx context.Context, ep core.Endpoint, path string) (*core.Download, error) {
	ctx, cancel := context.WithCancel(ctx)
	watchdog := newWatchdog(fsTimeout, cancel)
	query := url.Values{wire.DownloadQueryPath: {path}}.Encode()
	req, err := newRequest(ctx, http.MethodGet, ep, wire.PathDownload+"?"+query, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		watchdog.stop()
		cancel()
		if watchdog.fired() {
			return nil, core.Errorf(core.CodeTimeout, "Ship request timed out: "+wire.PathDownload)
		}
		return nil, transportError(wire.PathDownload, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		watchdog.stop()
		cancel()
		return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", path).
			WithDetails(map[string]any{"path": path})
	}
	if resp.StatusCode >= 400 {
		defer cancel()
		defer watchdog.stop()
		return nil, statusError(wire.PathDownload, resp)
	}
	watchdog.kick()
	return &core.Download{
		Size: resp.ContentLength,
		Body: &downloadBody{r: resp.Body, w: watchdog, cancel: cancel},
	}, nil
}

type downloadBody struct {
	r      io.ReadCloser
	w      *watchdog
	cancel context.CancelFunc
	once   sync.Once
}

func (d *downloadBody) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	if n > 0 {
		d.w.kick()
	}
	return n, err
}

func (d *downloadBody) Close() error {
	err := d.r.Close()
	d.once.Do(func() {
		d.w.stop()
		d.cancel()
	})
	return err
}

// newRequest builds a request to the runtime at ep carrying its token.
func newRequest(ctx context.Context, method string, ep core.Endpoint, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, ep.URL+path, body)
	if err != nil {
		return nil, err
	}
	if ep.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ep.Token)
	}
	return req, nil
}

func (c *Client) getJSON(ctx context.Context, ep core.Endpoint, path string, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newRequest(ctx, http.MethodGet, ep, path, nil)
	if err != nil {
		return err
	}
	return c.do(ctx, req, path, out)
}

func (c *Client) postJSON(ctx context.Context, ep core.Endpoint, path string, timeout time.Duration, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := newRequest(ctx, http.MethodPost, ep, path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(ctx, req, path, out)
}

func (c *Client) do(ctx context.Context, req *http.Request, path string, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return core.Wrap(err, core.CodeTimeout, "Ship request timed out: "+path)
		}
		return transportError(path, err)
	}
	defer resp.Body.Close()
	return decode(resp, path, out)
}

func decode(resp *http.Response, path string, out any) error {
	if resp.StatusCode >= 400 {
		return statusError(path, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return core.Wrap(err, core.CodeShipError, "Ship request error: unusable answer from "+path)
	}
	return nil
}

// statusError maps an error status of Ship to ship_error, keeping Ship's
// detail for the client.
func statusError(path string, resp *http.Response) error {
	var body wire.Error
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	details := map[string]any{"status": resp.StatusCode, "ship_path": path}
	if body.Detail != nil {
		details["detail"] = body.Detail
	}
	return core.Errorf(core.CodeShipError, "Ship request failed: %d", resp.StatusCode).WithDetails(details)
}

// transportError maps a failed round trip. A refused connection never
// reached Ship, which the caller may retry on a new container.
func transportError(path string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) {
		return core.Wrap(&core.ErrUnreachable{Err: err}, core.CodeShipError, "Ship request error: "+err.Error())
	}
	return core.Wrap(err, core.CodeShipError, "Ship request error: "+err.Error()+" ("+path+")")
}

// watchdog cancels a transfer when it makes no progress for a while.
type watchdog struct {
	d       time.Duration
	t       *time.Timer
	mu      sync.Mutex
	expired bool
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.expired = true
		w.mu.Unlock()
		cancel()
	})
	return w
}

func (w *watchdog) kick() { w.t.Reset(w.d) }
func (w *watchdog) stop() { w.t.Stop() }
func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.expired
}

type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.kick()
	}
	return n, err
}
