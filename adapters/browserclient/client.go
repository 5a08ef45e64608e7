package browserclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/bayhq/bay/browser/wire"
	"github.com/bayhq/bay/core"
)

// Timeouts of the calls that are not commands.
const (
	healthTimeout = 2 * time.Second
	metaTimeout   = 5 * time.Second
)

// maxAnswer bounds an answer: a batch answer is at most 16 MiB of text and
// results (browser.md §3.6), with room for the JSON around it.
const maxAnswer = 64 << 20

// Client implements core.Browser.
type Client struct {
	http *http.Client
}

var _ core.Browser = (*Client)(nil)

// New returns a Client. Calls never go through proxies configured in the
// environment: the runtime lives next to Bay.
func New() *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Client{http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Health implements core.Browser: nil on 200; a *core.RuntimeFailedError
// when the runtime answers 503 with status "failed" (Chromium cannot
// start: the readiness wait ends with its message); any other answer is
// "not ready yet".
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
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	var h wire.Health
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h)
	if h.Status == wire.StatusFailed {
		msg := h.Error
		if msg == "" {
			msg = "the browser runtime reports that it cannot start"
		}
		return &core.RuntimeFailedError{Message: msg}
	}
	return fmt.Errorf("browser runtime health answered %d (%s)", resp.StatusCode, h.Status)
}

// meta reads /meta and refuses a runtime that does not check the token.
func (c *Client) meta(ctx context.Context, ep core.Endpoint) (*wire.Meta, error) {
	var meta wire.Meta
	if err := c.call(ctx, ep, http.MethodGet, wire.PathMeta, metaTimeout, nil, &meta); err != nil {
		return nil, err
	}
	if meta.Runtime.Auth != wire.AuthBearer {
		return nil, core.Errorf(core.CodeInternal, "runtime image too old: its /meta does not declare bearer authentication (rebuild it with images/build.sh)")
	}
	if meta.Capabilities == nil {
		return nil, core.Errorf(core.CodeShipError, "Browser runtime request error: /meta has no capabilities")
	}
	return &meta, nil
}

// Capabilities implements core.Browser.
func (c *Client) Capabilities(ctx context.Context, ep core.Endpoint) (core.RuntimeCapabilities, error) {
	meta, err := c.meta(ctx, ep)
	if err != nil {
		return nil, err
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

// Info implements core.Browser.
func (c *Client) Info(ctx context.Context, ep core.Endpoint) (*core.BrowserInfo, error) {
	meta, err := c.meta(ctx, ep)
	if err != nil {
		return nil, err
	}
	b, ok := meta.Capabilities[wire.CapabilityBrowser]
	if !ok {
		return nil, core.Errorf(core.CodeCapabilityNotSupported, "the runtime's /meta does not declare the browser capability").
			WithDetails(map[string]any{"capability": core.CapabilityBrowser})
	}
	return &core.BrowserInfo{
		RuntimeVersion: meta.Runtime.Version, Engine: b.Engine, EngineVersion: b.EngineVersion,
		ChromiumSandbox: b.ChromiumSandbox, Profile: b.Profile, Actions: slices.Clone(b.Actions),
	}, nil
}

// Check implements core.Browser with the runtime's own grammar.
func (c *Client) Check(in core.BrowserExecInput) error {
	req, err := execRequest(in)
	if err != nil {
		return err
	}
	_, invalid := req.Parse()
	return checkError(invalid)
}

// CheckBatch implements core.Browser.
func (c *Client) CheckBatch(in core.BrowserBatchInput) error {
	req, err := batchRequest(in)
	if err != nil {
		return err
	}
	_, invalid := req.Parse()
	return checkError(invalid)
}

// checkError maps the grammar's verdict to Bay's codes: 400 invalid_path
// or 422 validation_error, both naming the field.
func checkError(e *wire.Invalid) error {
	switch {
	case e == nil:
		return nil
	case e.IsPath():
		return (&core.Error{Code: core.CodeInvalidPath, Message: e.Msg}).
			WithDetails(map[string]any{"field": e.Field(), "reason": e.Reason})
	}
	return core.Errorf(core.CodeValidation, "%s: %s", e.Field(), e.Msg).
		WithDetails(map[string]any{"field": e.Field()})
}

// command encodes a command as the runtime takes it: an object or a
// string.
func command(c core.BrowserCommand) (json.RawMessage, error) {
	if c.Typed() {
		b, err := json.Marshal(c.Fields)
		if err != nil {
			return nil, core.Errorf(core.CodeValidation, "command: %v", err)
		}
		return b, nil
	}
	b, err := json.Marshal(c.Cmd)
	return b, err
}

func optional(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func execRequest(in core.BrowserExecInput) (wire.ExecRequest, error) {
	req := wire.ExecRequest{Timeout: optional(in.Timeout), MaxOutputBytes: optional(in.MaxOutputBytes)}
	if in.Command.Typed() {
		raw, err := command(in.Command)
		if err != nil {
			return req, err
		}
		req.Command = raw
	} else {
		cmd := in.Command.Cmd
		req.Cmd = &cmd
	}
	return req, nil
}

func batchRequest(in core.BrowserBatchInput) (wire.BatchRequest, error) {
	req := wire.BatchRequest{Timeout: optional(in.Timeout), MaxOutputBytes: optional(in.MaxOutputBytes), StopOnError: in.StopOnError}
	for _, c := range in.Commands {
		raw, err := command(c)
		if err != nil {
			return req, err
		}
		req.Commands = append(req.Commands, raw)
	}
	return req, nil
}

// Exec implements core.Browser.
func (c *Client) Exec(ctx context.Context, ep core.Endpoint, in core.BrowserExecInput) (*core.BrowserResult, error) {
	req, err := execRequest(in)
	if err != nil {
		return nil, err
	}
	var out wire.Result
	if err := c.call(ctx, ep, http.MethodPost, wire.PathExec, in.TimeoutOrDefault()+core.BrowserExecMargin, req, &out); err != nil {
		return nil, err
	}
	res := result(out)
	return &res, nil
}

// ExecBatch implements core.Browser.
func (c *Client) ExecBatch(ctx context.Context, ep core.Endpoint, in core.BrowserBatchInput) (*core.BrowserBatchResult, error) {
	req, err := batchRequest(in)
	if err != nil {
		return nil, err
	}
	var out wire.BatchResponse
	if err := c.call(ctx, ep, http.MethodPost, wire.PathExecBatch, in.TimeoutOrDefault()+core.BrowserBatchMargin, req, &out); err != nil {
		return nil, err
	}
	res := &core.BrowserBatchResult{
		Success: out.Success, TotalSteps: out.TotalSteps, CompletedSteps: out.CompletedSteps,
		DurationMS: out.DurationMS, Steps: make([]core.BrowserStep, 0, len(out.Results)),
	}
	for _, s := range out.Results {
		res.Steps = append(res.Steps, core.BrowserStep{Index: s.StepIndex, Cmd: s.Cmd, BrowserResult: result(s.Result)})
	}
	return res, nil
}

// result maps the runtime's answer to core's.
func result(r wire.Result) core.BrowserResult {
	out := core.BrowserResult{
		Success: r.Success, Output: r.Output, Error: r.Error, ExitCode: r.ExitCode, DurationMS: r.DurationMS,
		Downloads: make([]core.BrowserDownload, 0, len(r.Downloads)),
		Dialogs:   make([]core.BrowserDialog, 0, len(r.Dialogs)),
	}
	if r.ErrorCode != nil {
		out.ErrorCode = *r.ErrorCode
	}
	if m, ok := r.Result.(map[string]any); ok {
		out.Result = m
	} else {
		out.Result = map[string]any{}
	}
	if r.Page != nil {
		out.Page = &core.BrowserPage{TabID: r.Page.TabID, URL: r.Page.URL, Title: r.Page.Title}
	}
	for _, d := range r.Downloads {
		out.Downloads = append(out.Downloads, core.BrowserDownload{Path: d.Path, Size: d.Size, State: d.State, URL: d.URL})
	}
	for _, d := range r.Dialogs {
		out.Dialogs = append(out.Dialogs, core.BrowserDialog{Type: d.Type, Message: d.Message, URL: d.URL, Accepted: d.Accepted, PromptText: d.PromptText})
	}
	return out
}

// call sends a request with the token and decodes the JSON answer.
func (c *Client) call(ctx context.Context, ep core.Endpoint, method, path string, timeout time.Duration, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ep.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ep.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return core.Wrap(err, core.CodeTimeout, "Browser runtime request timed out: "+path)
		}
		return transportError(path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return statusError(path, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return core.Wrap(err, core.CodeTimeout, "Browser runtime request timed out: "+path)
		}
		return core.Wrap(err, core.CodeShipError, "Browser runtime request error: unusable answer from "+path)
	}
	return nil
}

// statusError maps an error status to ship_error, keeping the runtime's
// detail (browser.md §3.5).
func statusError(path string, resp *http.Response) error {
	var body wire.Error
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	details := map[string]any{"status": resp.StatusCode, "runtime_path": path}
	if body.Detail != nil {
		details["detail"] = body.Detail
	}
	return core.Errorf(core.CodeShipError, "Browser runtime request failed: %d", resp.StatusCode).WithDetails(details)
}

// transportError maps a failed round trip. A refused connection never
// reached the runtime, which the caller may retry on a new container.
func transportError(path string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) {
		return core.Wrap(&core.ErrUnreachable{Err: err}, core.CodeShipError, "Browser runtime request error: "+err.Error())
	}
	return core.Wrap(err, core.CodeShipError, "Browser runtime request error: "+err.Error()+" ("+path+")")
}
