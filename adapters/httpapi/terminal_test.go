package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

// termShip is the runtime terminals for the handler tests: each
// container's endpoint is <srv>/<container id>, whose /term/ws it serves as
// Ship does (bearer token, cols and rows, 32 KiB messages)
// and, instead of a shell, echoes what it gets. Its scripted messages:
// "exit" closes 1000 as a shell that ended, "crash" closes 1011; a resize
// is answered "resized C R"; the first message it sends is "size C R".
type termShip struct {
	srv *httptest.Server
	rt  *fake.Runtime

	mu       sync.Mutex
	received [][]byte
	refuse   bool // answer 401 as to a wrong token
}

func (ts *termShip) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	container, ok := strings.CutSuffix(r.URL.Path, "/term/ws")
	if !ok {
		http.NotFound(w, r)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	refuse := ts.refuse
	ts.mu.Unlock()
	if refuse || token == "" || token != ts.rt.RuntimeToken(ts.srv.URL+container) {
		http.Error(w, `{"detail":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := context.Background()
	q := r.URL.Query()
	if err := conn.Write(ctx, websocket.MessageText, []byte("size "+q.Get("cols")+" "+q.Get("rows"))); err != nil {
		return
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		ts.mu.Lock()
		ts.received = append(ts.received, data)
		ts.mu.Unlock()
		var resize struct {
			Type       string
			Cols, Rows int
		}
		switch {
		case string(data) == "exit":
			conn.Close(websocket.StatusNormalClosure, "shell exited")
			return
		case string(data) == "crash":
			conn.Close(websocket.StatusInternalError, "pty broke")
			return
		case typ == websocket.MessageText && json.Unmarshal(data, &resize) == nil && resize.Type == "resize":
			data = fmt.Appendf(nil, "resized %d %d", resize.Cols, resize.Rows)
		}
		if err := conn.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func (ts *termShip) messages() [][]byte {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([][]byte(nil), ts.received...)
}

type terminalMetrics struct {
	recordingMetrics
	mu   sync.Mutex
	open int
}

func (m *terminalMetrics) TerminalOpen(delta int) {
	m.mu.Lock()
	m.open += delta
	m.mu.Unlock()
}

func (m *terminalMetrics) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open
}

// setupTerminal is setup with every runtime listening at a termShip, and
// the server's clock the services' fake one.
func setupTerminal(t *testing.T, configure ...func(*Options)) (*testBundle, *termShip, *terminalMetrics) {
	t.Helper()
	ts := &termShip{}
	ts.srv = httptest.NewServer(ts)
	t.Cleanup(ts.srv.Close)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bay.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(ctx))
	clock := fake.NewClock(testNow)
	ts.rt = fake.NewRuntime(fake.RuntimeOptions{Clock: clock, Endpoint: func(c core.ContainerInfo, _ int) string { return ts.srv.URL + "/" + c.ID }})
	ship := &scriptedShip{Ship: fake.NewShip()}
	ids := &fake.IDs{}
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: ts.rt, Ship: ship, Clock: clock, IDs: ids, Profiles: testProfiles(),
		InstanceID: "bay-test", ReadinessTimeout: 300 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
	})
	b := &testBundle{
		services: &services{
			store: store, clock: clock, runtime: ts.rt, ship: ship,
			sandboxes: &faultySandboxes{SandboxService: svc, fail: map[string]error{}, panicOn: map[string]bool{}},
			execs:     core.NewExecutionService(core.ExecutionOptions{Store: store, Ship: ship, Clock: clock, Sandboxes: svc, InstanceID: "bay-test"}),
			lockers:   core.NewLockerService(store, ts.rt, clock, ids, 1024, 0),
			gc:        core.NewGC(core.GCOptions{Store: store, Runtime: ts.rt, Clock: clock, Sandboxes: svc, InstanceID: "bay-test"}),
			idem:      core.NewIdempotencyService(store, clock, time.Hour, true),
		},
		logs: &syncBuffer{},
	}
	m := &terminalMetrics{}
	opts := Options{
		Sandboxes: b.sandboxes, Executions: b.execs, Lockers: b.lockers, GC: b.gc, Idempotency: b.idem,
		AllowAnonymous: true, Logger: slog.New(slog.NewJSONHandler(b.logs, nil)), Metrics: m, Now: clock.Now,
	}
	for _, c := range configure {
		c(&opts)
	}
	b.server = New(opts)
	b.http = httptest.NewServer(b.server)
	t.Cleanup(b.http.Close)
	client, err := oapigen.NewClientWithResponses(b.http.URL, oapigen.WithHTTPClient(b.http.Client()))
	require.NoError(t, err)
	b.client = client
	return b, ts, m
}

// dialTerminal opens a terminal as a WebSocket client; a refusal returns
// the response, its body read.
func (b *testBundle) dialTerminal(t *testing.T, path string, header ...string) (*websocket.Conn, *http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, b.http.URL+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		require.NotNil(t, resp, "dial: %v", err)
		var body bytes.Buffer
		if resp.Body != nil {
			_, _ = body.ReadFrom(resp.Body)
		}
		return nil, resp, body.Bytes()
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn, resp, nil
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	return string(data)
}

func write(t *testing.T, c *websocket.Conn, typ websocket.MessageType, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Write(ctx, typ, []byte(data)))
}

// closeCode reads until the connection closes and returns its close code.
func closeCode(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "the terminal did not close")
			return websocket.CloseStatus(err)
		}
	}
}

func upgradeHeaders(extra ...string) []string {
	return append([]string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, extra...)
}

func TestTerminal_Refusals(t *testing.T) {
	t.Parallel()
	b, ts, m := setupTerminal(t, func(o *Options) {
		o.Terminal = TerminalOptions{MaxPerSandbox: 1, AllowedOrigins: []string{"https://ok.example"}}
	})
	closed := func(t *testing.T) {
		t.Helper()
		require.Eventually(t, func() bool { return m.count() == 0 }, 5*time.Second, 10*time.Millisecond)
	}
	id := b.createSandbox(t, "alice", "python-default")
	pyOnly := b.createSandbox(t, "alice", "python-only")
	term := "/v1/sandboxes/" + id + "/terminal"
	alice := []string{"X-Owner", "alice"}
	refused := func(t *testing.T, path string, status int, code core.Code, header ...string) (*http.Response, testEnvelope) {
		t.Helper()
		resp := b.do(t, "GET", path, nil, append(upgradeHeaders(), header...)...)
		return resp, requireError(t, resp, readAll(t, resp), status, code)
	}

	t.Run("404", func(t *testing.T) {
		refused(t, term, 404, core.CodeNotFound, "X-Owner", "bob")
		refused(t, "/v1/sandboxes/sandbox-000000000000/terminal", 404, core.CodeNotFound, alice...)
		// The sandbox comes before the query's shape, even unparsable.
		refused(t, term+"?cols=abc", 404, core.CodeNotFound, "X-Owner", "bob")
	})
	t.Run("400ProfileWithoutShell", func(t *testing.T) {
		for _, q := range []string{"", "?cols=0", "?rows=x"} {
			_, env := refused(t, "/v1/sandboxes/"+pyOnly+"/terminal"+q, 400, core.CodeCapabilityNotSupported, alice...)
			require.Equal(t, "terminal", env.Error.Details["capability"])
		}
	})
	t.Run("422Size", func(t *testing.T) {
		for q, loc := range map[string]string{"?cols=0": "cols", "?rows=1001": "rows", "?cols=abc": "cols", "?cols=1000&rows=-1": "rows"} {
			_, env := refused(t, term+q, 422, core.CodeValidation, alice...)
			require.Contains(t, string(env.Detail), `"`+loc+`"`, q)
		}
		// The size comes before the origin.
		refused(t, term+"?cols=0", 422, core.CodeValidation, "X-Owner", "alice", "Origin", "https://evil.example")
	})
	t.Run("403Origin", func(t *testing.T) {
		refused(t, term, 403, core.CodeForbidden, "X-Owner", "alice", "Origin", "https://evil.example")
		refused(t, term, 403, core.CodeForbidden, "X-Owner", "alice", "Origin", "null")
		// An origin refused comes before a plain GET.
		resp := b.do(t, "GET", term, nil, "X-Owner", "alice", "Origin", "https://evil.example")
		requireError(t, resp, readAll(t, resp), 403, core.CodeForbidden)
		c, _, body := b.dialTerminal(t, term, "X-Owner", "alice", "Origin", "https://ok.example")
		require.NotNil(t, c, string(body))
		require.Equal(t, "size 80 24", readText(t, c))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		closed(t)
	})
	t.Run("426PlainGet", func(t *testing.T) {
		resp := b.do(t, "GET", term, nil, alice...)
		requireError(t, resp, readAll(t, resp), 426, core.CodeUpgradeRequired)
		require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
		resp, _ = refused(t, term, 426, core.CodeUpgradeRequired, "X-Owner", "alice", "Sec-WebSocket-Version", "8")
		require.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
		refused(t, term, 400, core.CodeValidation, "X-Owner", "alice", "Sec-WebSocket-Key", "short")
		require.Zero(t, b.runtime.Calls(fake.OpCreateContainer)-1, "a refused upgrade starts nothing")
	})
	t.Run("429Limit", func(t *testing.T) {
		c, _, body := b.dialTerminal(t, term, alice...)
		require.NotNil(t, c, string(body))
		require.Equal(t, "size 80 24", readText(t, c))
		_, env := refused(t, term, 429, core.CodeQuotaExceeded, alice...)
		require.Equal(t, core.LimitTerminals, env.Error.Details["limit"])
		require.EqualValues(t, 1, env.Error.Details["max"])
		// The limit comes before the upgrade check.
		resp := b.do(t, "GET", term, nil, alice...)
		requireError(t, resp, readAll(t, resp), 429, core.CodeQuotaExceeded)
		// Another sandbox has its own.
		other := b.createSandbox(t, "alice", "python-default")
		c2, _, body := b.dialTerminal(t, "/v1/sandboxes/"+other+"/terminal", alice...)
		require.NotNil(t, c2, string(body))
		require.NoError(t, c2.Close(websocket.StatusNormalClosure, ""))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		closed(t)
		c, _, body = b.dialTerminal(t, term, alice...)
		require.NotNil(t, c, "a closed terminal frees its slot: %s", body)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		closed(t)
	})
	t.Run("409Expired", func(t *testing.T) {
		ttl := int64(1)
		resp, err := b.client.CreateSandboxWithResponse(context.Background(), nil, oapigen.CreateSandboxRequest{Ttl: &ttl}, withOwner("carol"))
		require.NoError(t, err)
		require.Equal(t, 201, resp.StatusCode(), string(resp.Body))
		b.clock.Advance(2 * time.Second)
		path := "/v1/sandboxes/" + resp.JSON201.Id + "/terminal"
		refused(t, path, 409, core.CodeSandboxExpired, "X-Owner", "carol")
		// The size and the origin come first.
		refused(t, path+"?rows=0", 422, core.CodeValidation, "X-Owner", "carol")
		refused(t, path, 403, core.CodeForbidden, "X-Owner", "carol", "Origin", "https://evil.example")
	})
	t.Run("400RuntimeWithoutTerminal", func(t *testing.T) {
		b.ship.SetCapabilities(core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython)
		defer b.ship.SetCapabilities(core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython, core.CapabilityTerminal)
		id := b.createSandbox(t, "dave", "python-default")
		_, env := refused(t, "/v1/sandboxes/"+id+"/terminal", 400, core.CodeCapabilityNotSupported, "X-Owner", "dave")
		require.Equal(t, "terminal", env.Error.Details["capability"])
	})
	t.Run("503RuntimeNotReady", func(t *testing.T) {
		b.ship.SetUnhealthy(true)
		defer b.ship.SetUnhealthy(false)
		id := b.createSandbox(t, "erin", "python-default")
		resp, _ := refused(t, "/v1/sandboxes/"+id+"/terminal", 503, core.CodeSessionNotReady, "X-Owner", "erin")
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
	})
	t.Run("502ShipRefuses", func(t *testing.T) {
		id := b.createSandbox(t, "frank", "python-default")
		ts.mu.Lock()
		ts.refuse = true
		ts.mu.Unlock()
		_, env := refused(t, "/v1/sandboxes/"+id+"/terminal", 502, core.CodeShipError, "X-Owner", "frank")
		require.EqualValues(t, 401, env.Error.Details["status"])
		c, _, body := b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal", "X-Owner", "frank")
		require.True(t, c == nil)
		require.Contains(t, string(body), "ship_error")
		ts.mu.Lock()
		ts.refuse = false
		ts.mu.Unlock()
		c, _, body = b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal", "X-Owner", "frank")
		require.NotNil(t, c, string(body))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		closed(t)
	})
}

func TestTerminal_Auth(t *testing.T) {
	t.Parallel()
	b, _, _ := setupTerminal(t, func(o *Options) { o.APIKey = "k"; o.AllowAnonymous = false })
	resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{}`), "Authorization", "Bearer k", "Content-Type", "application/json")
	require.Equal(t, 201, resp.StatusCode)
	var sb struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sb))
	term := "/v1/sandboxes/" + sb.ID + "/terminal"

	resp = b.do(t, "GET", term, nil, upgradeHeaders()...)
	requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	resp = b.do(t, "GET", term, nil, upgradeHeaders("Authorization", "Bearer nope")...)
	requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	resp = b.do(t, "POST", term+"/tickets", nil)
	requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	c, _, body := b.dialTerminal(t, term, "Authorization", "Bearer k")
	require.NotNil(t, c, string(body))
	require.Equal(t, "size 80 24", readText(t, c))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	ticket := func(t *testing.T, id string) (string, time.Time) {
		t.Helper()
		resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/terminal/tickets", nil, "Authorization", "Bearer k")
		body := readAll(t, resp)
		require.Equal(t, 201, resp.StatusCode, string(body))
		var out struct {
			Ticket    string    `json:"ticket"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		require.NoError(t, json.Unmarshal(body, &out))
		return out.Ticket, out.ExpiresAt
	}

	t.Run("Ticket", func(t *testing.T) {
		tk, exp := ticket(t, sb.ID)
		require.WithinDuration(t, b.clock.Now().Add(60*time.Second), exp, time.Millisecond)
		c, _, body := b.dialTerminal(t, term+"?ticket="+url.QueryEscape(tk)+"&cols=100&rows=40")
		require.NotNil(t, c, string(body))
		require.Equal(t, "size 100 40", readText(t, c))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		require.NotContains(t, b.logs.String(), tk, "tickets are never logged")

		// Only this sandbox's terminal, and not a wrong or tampered one.
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{}`), "Authorization", "Bearer k", "Content-Type", "application/json")
		require.Equal(t, 201, resp.StatusCode)
		var other struct{ ID string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&other))
		resp = b.do(t, "GET", "/v1/sandboxes/"+other.ID+"/terminal?ticket="+url.QueryEscape(tk), nil, upgradeHeaders()...)
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
		resp = b.do(t, "GET", "/v1/sandboxes/"+other.ID, nil) // no ticket elsewhere
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
		tampered := tk[:len(tk)-2] + "AA"
		if tampered == tk {
			tampered = tk[:len(tk)-2] + "BB"
		}
		for _, bad := range []string{tampered, "", "t1.x.y.z", strings.Replace(tk, "t1.", "t2.", 1)} {
			resp = b.do(t, "GET", term+"?ticket="+url.QueryEscape(bad), nil, upgradeHeaders()...)
			requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
		}
		// A ticket for another owner's name, forged with the wrong key.
		forged := (&terminalState{secret: []byte("guess")}).issue("default", sb.ID, b.clock.Now().Add(time.Minute))
		resp = b.do(t, "GET", term+"?ticket="+url.QueryEscape(forged), nil, upgradeHeaders()...)
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	})

	t.Run("TicketExpires", func(t *testing.T) {
		tk, _ := ticket(t, sb.ID)
		b.clock.Advance(59 * time.Second)
		resp := b.do(t, "GET", term+"?ticket="+url.QueryEscape(tk), nil)
		requireError(t, resp, readAll(t, resp), 426, core.CodeUpgradeRequired) // authenticated
		b.clock.Advance(time.Second)
		resp = b.do(t, "GET", term+"?ticket="+url.QueryEscape(tk), nil, upgradeHeaders()...)
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	})

	t.Run("TicketOfAnotherInstance", func(t *testing.T) {
		// Every instance sharing the key accepts the others' tickets.
		tk, _ := ticket(t, sb.ID)
		other := New(Options{Sandboxes: b.sandboxes, Lockers: b.lockers, GC: b.gc, APIKey: "k", Now: b.clock.Now})
		owner, ok := other.term.verify(tk, sb.ID, b.clock.Now())
		require.True(t, ok)
		require.Equal(t, "default", owner)
		stranger := New(Options{Sandboxes: b.sandboxes, Lockers: b.lockers, GC: b.gc, APIKey: "other", Now: b.clock.Now})
		_, ok = stranger.term.verify(tk, sb.ID, b.clock.Now())
		require.False(t, ok)
		anon1 := New(Options{Sandboxes: b.sandboxes, Lockers: b.lockers, GC: b.gc, AllowAnonymous: true})
		anon2 := New(Options{Sandboxes: b.sandboxes, Lockers: b.lockers, GC: b.gc, AllowAnonymous: true})
		_, ok = anon2.term.verify(anon1.term.issue("default", sb.ID, time.Now().Add(time.Minute)), sb.ID, time.Now())
		require.False(t, ok, "without a key the secret is the process's own")
	})

	t.Run("TicketOfAnotherOwnersSandbox", func(t *testing.T) {
		resp := b.do(t, "POST", "/v1/sandboxes/sandbox-000000000000/terminal/tickets", nil, "Authorization", "Bearer k")
		requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
	})
}

func TestTerminal_Relay(t *testing.T) {
	t.Parallel()
	b, ts, m := setupTerminal(t, func(o *Options) { o.Terminal.IdleClose = 2 * time.Second })
	open := func(t *testing.T, owner string) (*websocket.Conn, string) {
		t.Helper()
		id := b.createSandbox(t, owner, "python-default")
		c, _, body := b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal?cols=100&rows=40", "X-Owner", owner)
		require.NotNil(t, c, string(body))
		require.Equal(t, "size 100 40", readText(t, c))
		return c, id
	}

	t.Run("FramesBothWays", func(t *testing.T) {
		c, _ := open(t, "alice")
		require.Eventually(t, func() bool { return m.count() >= 1 }, 5*time.Second, 10*time.Millisecond)
		write(t, c, websocket.MessageText, "echo hi\r")
		require.Equal(t, "echo hi\r", readText(t, c))
		write(t, c, websocket.MessageBinary, "\x03\xff")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		typ, data, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageBinary, typ)
		require.Equal(t, []byte("\x03\xff"), data)
		write(t, c, websocket.MessageText, `{"type":"resize","cols":120,"rows":50}`)
		require.Equal(t, "resized 120 50", readText(t, c))

		// A message Ship could not read in one piece reaches it in pieces.
		big := bytes.Repeat([]byte("é"), 20<<10) // 40 KiB of two-byte runes
		write(t, c, websocket.MessageText, string(big))
		got := readText(t, c) + readText(t, c)
		require.Equal(t, string(big), got)

		write(t, c, websocket.MessageText, "exit")
		require.Equal(t, websocket.StatusNormalClosure, closeCode(t, c), "the shell exited")
		require.Eventually(t, func() bool { return m.count() == 0 }, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("TooBig", func(t *testing.T) {
		c, _ := open(t, "alice")
		c.SetReadLimit(-1)
		n := len(ts.messages())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Write(ctx, websocket.MessageBinary, make([]byte, 64<<10+1))
		require.Equal(t, websocket.StatusMessageTooBig, closeCode(t, c))
		require.Len(t, ts.messages(), n, "nothing of it reached the runtime")
	})

	t.Run("UpstreamFailure", func(t *testing.T) {
		c, _ := open(t, "alice")
		write(t, c, websocket.MessageText, "crash")
		require.Equal(t, websocket.StatusInternalError, closeCode(t, c))
	})

	t.Run("StopAndDelete", func(t *testing.T) {
		c1, id := open(t, "bob")
		c2, _, body := b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal", "X-Owner", "bob")
		require.NotNil(t, c2, string(body))
		resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/stop", nil, "X-Owner", "bob")
		require.Equal(t, 200, resp.StatusCode, string(readAll(t, resp)))
		require.EqualValues(t, 4409, closeCode(t, c1))
		require.EqualValues(t, 4409, closeCode(t, c2))

		c3, id := open(t, "bob")
		resp = b.do(t, "DELETE", "/v1/sandboxes/"+id, nil, "X-Owner", "bob")
		require.Equal(t, 204, resp.StatusCode, string(readAll(t, resp)))
		require.EqualValues(t, 4409, closeCode(t, c3))
	})

	t.Run("IdleClose", func(t *testing.T) {
		c, _ := open(t, "carol")
		began := time.Now()
		time.Sleep(time.Second)
		write(t, c, websocket.MessageText, "x") // input pushes the close back
		require.Equal(t, "x", readText(t, c))
		require.EqualValues(t, 4408, closeCode(t, c))
		require.Greater(t, time.Since(began), 2900*time.Millisecond)
	})

	t.Run("ClientLeaves", func(t *testing.T) {
		c, _ := open(t, "dave")
		require.Eventually(t, func() bool { return m.count() == 1 }, 5*time.Second, 10*time.Millisecond)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
		require.Eventually(t, func() bool { return m.count() == 0 }, 5*time.Second, 10*time.Millisecond)
	})
}

func TestTerminal_Shutdown(t *testing.T) {
	t.Parallel()
	b, _, m := setupTerminal(t)
	id := b.createSandbox(t, "alice", "python-default")
	c, _, body := b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal", "X-Owner", "alice")
	require.NotNil(t, c, string(body))
	require.Equal(t, "size 80 24", readText(t, c))
	go b.server.CloseTerminals()
	require.Equal(t, websocket.StatusGoingAway, closeCode(t, c))
	// Terminals opened afterwards close at once.
	c, _, body = b.dialTerminal(t, "/v1/sandboxes/"+id+"/terminal", "X-Owner", "alice")
	require.NotNil(t, c, string(body))
	require.Equal(t, websocket.StatusGoingAway, closeCode(t, c))
	require.Eventually(t, func() bool { return m.count() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestTerminal_SplitMessage(t *testing.T) {
	t.Parallel()
	require.Equal(t, [][]byte{[]byte("abc")}, splitMessage(websocket.MessageText, []byte("abc"), 3))
	require.Equal(t, [][]byte{[]byte("ab"), []byte("cd"), []byte("e")}, splitMessage(websocket.MessageBinary, []byte("abcde"), 2))
	// "aé" is 3 bytes: a text cut waits for the rune's end.
	require.Equal(t, [][]byte{[]byte("a"), []byte("é"), []byte("b")}, splitMessage(websocket.MessageText, []byte("aéb"), 2))
	require.Equal(t, [][]byte{[]byte("a\xc3"), []byte("\xa9b")}, splitMessage(websocket.MessageBinary, []byte("aéb"), 2))
}

func TestTerminal_RedactTicket(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/v1/sandboxes/x/terminal?cols=3&ticket=s3cret&rows=4", nil)
	redactTicket(r)
	require.Equal(t, "cols=3&rows=4", r.URL.RawQuery)
	require.Equal(t, "/v1/sandboxes/x/terminal?cols=3&rows=4", r.RequestURI)
}
