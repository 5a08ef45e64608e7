package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// term is an open terminal and what it printed so far.
type term struct {
	t   *testing.T
	c   *websocket.Conn
	out strings.Builder
}

// dialTerminal opens GET path as a WebSocket with the headers; a refusal
// returns nil, its status and its body.
func (b *bay) dialTerminal(path string, headers ...string) (*term, int, http.Header, []byte) {
	b.t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second) // a cold start included
	defer cancel()
	c, resp, err := websocket.Dial(ctx, b.URL+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		require.NotNil(b.t, resp, "dial %s: %v", path, err)
		var body []byte
		if resp.Body != nil {
			body, _ = io.ReadAll(resp.Body) // the first 1 KiB, which is all
		}
		return nil, resp.StatusCode, resp.Header, body
	}
	b.t.Cleanup(func() { _ = c.CloseNow() })
	return &term{t: b.t, c: c}, http.StatusSwitchingProtocols, resp.Header, nil
}

// mustTerminal opens a terminal on the sandbox as the test's owner.
func (b *bay) mustTerminal(sandboxID, query string) *term {
	b.t.Helper()
	tm, status, _, body := b.dialTerminal("/v1/sandboxes/"+sandboxID+"/terminal"+query, "X-Owner", b.Owner)
	require.Equal(b.t, http.StatusSwitchingProtocols, status, "body: %s", body)
	return tm
}

func (tm *term) send(s string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tm.t, tm.c.Write(ctx, websocket.MessageText, []byte(s)))
}

// expect reads output until re matches what the terminal printed since
// the last match.
func (tm *term) expect(re *regexp.Regexp) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !re.MatchString(tm.out.String()) {
		_, data, err := tm.c.Read(ctx)
		require.NoError(tm.t, err, "waiting for %s; got %q", re, tm.out.String())
		tm.out.Write(data)
	}
	tm.out.Reset()
}

// outputLine matches a line of output: after the echoed command (and any
// escape sequences of the prompt), at the start of a line.
func outputLine(s string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[\r\n])` + regexp.QuoteMeta(s) + `\r\n`)
}

// closeCode reads until the terminal closes and returns the close code.
func (tm *term) closeCode() websocket.StatusCode {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, _, err := tm.c.Read(ctx)
		if err != nil {
			require.NoError(tm.t, ctx.Err(), "the terminal did not close")
			return websocket.CloseStatus(err)
		}
	}
}

func (tm *term) close() {
	tm.t.Helper()
	require.NoError(tm.t, tm.c.Close(websocket.StatusNormalClosure, ""))
}

// TestTerminal covers agent-reach.md §3's acceptance against the real Ship.
func TestTerminal(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := b.newSandbox("python-default")
			path := "/v1/sandboxes/" + sb + "/terminal"

			// A shell: output, resize, exit.
			tm := b.mustTerminal(sb, "?cols=80&rows=24")
			tm.send("echo hi\r")
			tm.expect(outputLine("hi"))
			tm.send(`{"type":"resize","cols":100,"rows":40}`)
			tm.send("stty size\r")
			tm.expect(outputLine("40 100"))
			status, _, body := b.raw("GET", "/metrics", nil)
			require.Equal(t, 200, status)
			require.Regexp(t, `(?m)^bay_terminals_open 1$`, string(body))
			tm.send("exit\r")
			require.Equal(t, websocket.StatusNormalClosure, tm.closeCode(), "the shell exited")
			// Terminal traffic is not history.
			status, _, out := b.call("GET", "/v1/sandboxes/"+sb+"/executions", nil)
			require.Equal(t, 200, status)
			require.Empty(t, out["items"])

			// Refusals before the upgrade, in the envelope.
			status, hdr, body := b.raw("GET", path, nil)
			envelope(t, status, hdr, body, 426, "upgrade_required")
			require.Equal(t, "websocket", hdr.Get("Upgrade"))
			_, status, hdr, body = b.dialTerminal(path, "X-Owner", "someone-else")
			envelope(t, status, hdr, body, 404, "not_found")
			only := b.newSandbox("python-only-test")
			_, status, hdr, body = b.dialTerminal("/v1/sandboxes/"+only+"/terminal", "X-Owner", b.Owner)
			details := envelope(t, status, hdr, body, 400, "capability_not_supported")
			require.Equal(t, "terminal", details["capability"])
			_, status, hdr, body = b.dialTerminal(path+"?cols=0", "X-Owner", b.Owner)
			envelope(t, status, hdr, body, 422, "validation_error")
			_, status, hdr, body = b.dialTerminal(path, "X-Owner", b.Owner, "Origin", "https://evil.example")
			envelope(t, status, hdr, body, 403, "forbidden")

			// Four terminals at most per sandbox.
			var open []*term
			for range 4 {
				open = append(open, b.mustTerminal(sb, ""))
			}
			_, status, hdr, body = b.dialTerminal(path, "X-Owner", b.Owner)
			details = envelope(t, status, hdr, body, 429, "quota_exceeded")
			require.Equal(t, "terminal.max_per_sandbox", details["limit"])
			require.EqualValues(t, 4, details["max"])
			// Stopping the sandbox closes them (4409).
			status, _, body = b.raw("POST", "/v1/sandboxes/"+sb+"/stop", nil)
			require.Equal(t, 200, status, "body: %s", body)
			for _, tm := range open {
				require.EqualValues(t, 4409, tm.closeCode())
			}

			// An open terminal keeps a short-idle sandbox from idle GC; after
			// it closes, the idle timeout runs out and GC reclaims it.
			short := b.newSandbox("short-idle-test")
			tm = b.mustTerminal(short, "")
			tm.send("echo alive\r")
			tm.expect(outputLine("alive"))
			time.Sleep(3 * time.Second) // past the profile's 2 s idle timeout
			gc := func() {
				t.Helper()
				status, _, rep := b.call("POST", "/v1/admin/gc/run", map[string]any{"tasks": []string{"idle_session"}})
				require.Equal(t, 200, status, "%v", rep)
			}
			gc()
			require.NotEmpty(t, containersOf(t, short), "idle GC reclaimed a sandbox with an open terminal")
			tm.send("echo still\r")
			tm.expect(outputLine("still"))
			tm.close()
			time.Sleep(3500 * time.Millisecond)
			gc()
			require.Empty(t, containersOf(t, short), "idle GC spared a sandbox whose terminal closed")
		})
	}
}

// TestTerminal_Auth covers authentication: the header, or a ticket.
func TestTerminal_Auth(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	const key = "k"
	b := startBay(t, bayOpts{engine: "sqlite", apiKey: key})
	auth := "Bearer " + key
	status, _, out := b.call("POST", "/v1/sandboxes", map[string]any{}, "Authorization", auth)
	require.Equal(t, 201, status, "%v", out)
	sb := out["id"].(string)
	status, _, out = b.call("POST", "/v1/sandboxes", map[string]any{}, "Authorization", auth)
	require.Equal(t, 201, status, "%v", out)
	other := out["id"].(string)
	path := "/v1/sandboxes/" + sb + "/terminal"

	_, status, hdr, body := b.dialTerminal(path)
	envelope(t, status, hdr, body, 401, "unauthorized")
	_, status, hdr, body = b.dialTerminal(path, "Authorization", "Bearer nope")
	envelope(t, status, hdr, body, 401, "unauthorized")
	tm, status, _, body := b.dialTerminal(path, "Authorization", auth)
	require.Equal(t, 101, status, "body: %s", body)
	tm.send("echo header\r")
	tm.expect(outputLine("header"))
	tm.close()

	// A ticket opens this sandbox's terminal without the header.
	status, _, out = b.call("POST", path+"/tickets", nil, "Authorization", auth)
	require.Equal(t, 201, status, "%v", out)
	ticket := out["ticket"].(string)
	exp, err := time.Parse(time.RFC3339Nano, out["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Minute), exp, 5*time.Second)
	tm, status, _, body = b.dialTerminal(path + "?ticket=" + url.QueryEscape(ticket))
	require.Equal(t, 101, status, "body: %s", body)
	tm.send("echo ticket\r")
	tm.expect(outputLine("ticket"))
	tm.close()
	require.NotContains(t, b.logs.String(), ticket, "a ticket is never logged")
	// Not another sandbox's, not tampered with, not expired.
	_, status, hdr, body = b.dialTerminal("/v1/sandboxes/" + other + "/terminal?ticket=" + url.QueryEscape(ticket))
	envelope(t, status, hdr, body, 401, "unauthorized")
	_, status, hdr, body = b.dialTerminal(path + "?ticket=" + url.QueryEscape(ticket[:len(ticket)-3]+"AAA"))
	envelope(t, status, hdr, body, 401, "unauthorized")
	expired := signTicket(key, "default", sb, time.Now().Add(-time.Second))
	_, status, hdr, body = b.dialTerminal(path + "?ticket=" + url.QueryEscape(expired))
	envelope(t, status, hdr, body, 401, "unauthorized")
	// The same signature with a live expiry is accepted: the refusal above
	// was the expiry's, and any instance sharing the key signs alike.
	live := signTicket(key, "default", sb, time.Now().Add(30*time.Second))
	tm, status, _, body = b.dialTerminal(path + "?ticket=" + url.QueryEscape(live))
	require.Equal(t, 101, status, "body: %s", body)
	tm.close()
}

// signTicket makes a terminal ticket as a Bay with API key key does
// (adapters/httpapi/terminal.go): HMAC-SHA256 over the owner, the sandbox
// id and the expiry, keyed by a secret derived from the key's SHA-256.
func signTicket(key, owner, sandboxID string, exp time.Time) string {
	digest := sha256.Sum256([]byte(key))
	derive := hmac.New(sha256.New, digest[:])
	derive.Write([]byte("bay terminal tickets v1"))
	m := hmac.New(sha256.New, derive.Sum(nil))
	var n [8]byte
	for _, field := range []string{"terminal", owner, sandboxID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		m.Write(n[:])
		m.Write([]byte(field))
	}
	ms := exp.UnixMilli()
	binary.BigEndian.PutUint64(n[:], uint64(ms))
	m.Write(n[:])
	return "t1." + base64.RawURLEncoding.EncodeToString([]byte(owner)) + "." + strconv.FormatInt(ms, 10) + "." +
		base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
