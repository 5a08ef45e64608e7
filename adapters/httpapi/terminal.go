package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// The terminal through Bay (agent-reach.md §3): GET …/terminal upgrades to a
// WebSocket relayed to the runtime's /term/ws, POST …/terminal/tickets
// issues the short-lived tickets browsers authenticate it with.

// Terminals is what the API needs from the sandbox service for terminals.
// When Options.Terminals is nil, Options.Sandboxes serves if it has these
// methods (core.SandboxService does).
type Terminals interface {
	// CheckTerminal runs the sandbox lookup (404) and the profile check
	// (400 capability_not_supported, details.capability "terminal").
	CheckTerminal(ctx context.Context, owner, id string) error
	// OpenTerminal runs the domain's checks in the order of agent-reach.md
	// §3, the request's hooks in their places, and returns the lease of
	// an admitted terminal whose runtime is ready.
	OpenTerminal(ctx context.Context, owner, id string, req core.TerminalRequest) (*core.TerminalLease, error)
}

// TerminalMetrics, when Options.Metrics has it, counts open terminals.
type TerminalMetrics interface {
	TerminalOpen(delta int)
}

// TerminalOptions configures terminals; the zero value is the defaults of
// the configuration reference.
type TerminalOptions struct {
	// MaxPerSandbox is the most terminals open on one sandbox in this
	// process (terminal.max_per_sandbox); 0 means 4.
	MaxPerSandbox int
	// IdleClose closes a terminal without client input for that long
	// (4408; terminal.idle_close_seconds); 0 means one hour.
	IdleClose time.Duration
	// AllowedOrigins are the browser origins allowed to open terminals,
	// exact ("https://app.example") or "*" for any. A request with an
	// Origin header not listed is refused (403); empty refuses every one.
	AllowedOrigins []string
	// TicketSecret keys the tickets' HMAC. nil derives it from the API
	// keys, so that every instance sharing them accepts each other's
	// tickets, or, without keys (anonymous mode), draws it at random.
	TicketSecret []byte
	// TicketTTL is how long a ticket is valid; 0 means 60 s.
	TicketTTL time.Duration
}

// Defaults and fixed values of agent-reach.md §3.
const (
	DefaultTerminalsPerSandbox = 4
	DefaultTerminalIdleClose   = time.Hour
	DefaultTicketTTL           = 60 * time.Second

	// terminalMaxMessage is the largest client message; larger ones close
	// the terminal with 1009.
	terminalMaxMessage = 64 << 10
	// shipMaxMessage is the largest message Bay sends to Ship in one
	// piece: Ship reads messages of up to 32 KiB (coder/websocket's
	// default), so a larger client message is passed on in pieces, which a
	// PTY cannot tell apart.
	shipMaxMessage = 32 << 10
	// shipReadLimit bounds a message from Ship (Ship sends PTY reads of up
	// to 32 KiB plus an incomplete UTF-8 sequence).
	shipReadLimit          = 1 << 20
	terminalPingInterval   = 30 * time.Second
	terminalWriteTimeout   = 30 * time.Second
	terminalDialTimeout    = 10 * time.Second
	terminalShutdownWait   = 10 * time.Second
	terminalMinDimension   = 1
	terminalMaxDimension   = 1000
	terminalDefaultCols    = 80
	terminalDefaultRows    = 24
	terminalPath           = "/term/ws"
	ticketPrefix           = "t1"
	ticketDerivationDomain = "bay terminal tickets v1"
)

// Close codes of agent-reach.md §3 beyond RFC 6455's.
const (
	closeIdle         websocket.StatusCode = 4408
	closeSandboxGone  websocket.StatusCode = 4409
	closeShellExited                       = websocket.StatusNormalClosure
	closeShuttingDown                      = websocket.StatusGoingAway
	closeUpstream                          = websocket.StatusInternalError
)

// terminalState is the server's terminal settings and the relays it has
// open.
type terminalState struct {
	max       int
	idleClose time.Duration
	origins   []string
	anyOrigin bool
	secret    []byte
	ticketTTL time.Duration
	metrics   TerminalMetrics

	mu       sync.Mutex
	open     map[*relay]struct{}
	closing  bool
	shutdown chan struct{} // closed by CloseTerminals
	wg       sync.WaitGroup
}

func newTerminalState(opts Options, keys []key) *terminalState {
	o := opts.Terminal
	st := &terminalState{
		max: o.MaxPerSandbox, idleClose: o.IdleClose, secret: slices.Clone(o.TicketSecret), ticketTTL: o.TicketTTL,
		open: map[*relay]struct{}{}, shutdown: make(chan struct{}),
	}
	if st.max <= 0 {
		st.max = DefaultTerminalsPerSandbox
	}
	if st.idleClose <= 0 {
		st.idleClose = DefaultTerminalIdleClose
	}
	if st.ticketTTL <= 0 {
		st.ticketTTL = DefaultTicketTTL
	}
	for _, origin := range o.AllowedOrigins {
		if origin == "*" {
			st.anyOrigin = true
		}
		st.origins = append(st.origins, strings.TrimSuffix(origin, "/"))
	}
	if len(st.secret) == 0 {
		st.secret = ticketSecret(keys)
	}
	if m, ok := opts.Metrics.(TerminalMetrics); ok {
		st.metrics = m
	}
	return st
}

// ticketSecret derives the ticket key from the API keys (their digests,
// sorted, so that "sha256:" and plain spellings of one key agree), or draws
// one at random when there are none.
func ticketSecret(keys []key) []byte {
	if len(keys) == 0 {
		b := make([]byte, sha256.Size)
		_, _ = rand.Read(b) // crypto/rand.Read never fails.
		return b
	}
	digests := make([][]byte, 0, len(keys))
	for _, k := range keys {
		digests = append(digests, k.digest[:])
	}
	slices.SortFunc(digests, bytes.Compare)
	mac := hmac.New(sha256.New, bytes.Join(digests, nil))
	mac.Write([]byte(ticketDerivationDomain))
	return mac.Sum(nil)
}

// terminals returns the Terminals port: Options.Terminals, or the sandbox
// service when it has the methods.
func terminalsOf(opts Options) Terminals {
	if opts.Terminals != nil {
		return opts.Terminals
	}
	if t, ok := opts.Sandboxes.(Terminals); ok {
		return t
	}
	return nil
}

// OpenTerminal relays a WebSocket terminal to the runtime (agent-reach.md §3).
// Authentication (header or ticket) ran in perRoute; the rest runs here in
// the spec's order, every refusal a plain HTTP error before the upgrade.
func (s *Server) OpenTerminal(ctx context.Context, req oapigen.OpenTerminalRequestObject) (oapigen.OpenTerminalResponseObject, error) {
	info := infoFrom(ctx)
	r := info.request
	if r == nil || s.terminals == nil {
		return nil, core.Errorf(core.CodeInternal, "terminals are not wired")
	}
	cols, rows := deref(req.Params.Cols, terminalDefaultCols), deref(req.Params.Rows, terminalDefaultRows)
	lease, err := s.terminals.OpenTerminal(ctx, info.owner, req.SandboxId, core.TerminalRequest{
		Max: s.term.max,
		Check: func() error {
			if err := checkTerminalSize(cols, rows); err != nil {
				return err
			}
			return s.term.checkOrigin(r)
		},
		Proceed: func() error { return checkUpgrade(r) },
	})
	if core.CodeOf(err) == core.CodeUpgradeRequired {
		return upgradeRequired{s: s, r: r, err: err}, nil
	}
	if err != nil {
		return nil, err
	}
	ship, err := dialTerminal(ctx, lease.Endpoint(), cols, rows)
	if err != nil {
		lease.Release()
		return nil, err
	}
	return &terminalReply{s: s, r: r, lease: lease, ship: ship}, nil
}

// checkTerminalSize refuses cols or rows outside 1..1000 (422).
func checkTerminalSize(cols, rows int) error {
	var items []fieldError
	for _, p := range []struct {
		name string
		v    int
	}{{"cols", cols}, {"rows", rows}} {
		switch {
		case p.v < terminalMinDimension:
			items = append(items, fieldErr("Input should be greater than or equal to 1", "greater_than_equal", "query", p.name))
		case p.v > terminalMaxDimension:
			items = append(items, fieldErr("Input should be less than or equal to 1000", "less_than_equal", "query", p.name))
		}
	}
	if len(items) > 0 {
		return shape(items...)
	}
	return nil
}

// checkOrigin refuses (403) a request whose Origin header is not allowed:
// browsers send one, other clients do not.
func (st *terminalState) checkOrigin(r *http.Request) error {
	origin, sent := r.Header["Origin"]
	if !sent {
		return nil
	}
	if st.anyOrigin {
		return nil
	}
	o := ""
	if len(origin) > 0 {
		o = strings.TrimSuffix(origin[0], "/")
	}
	for _, allowed := range st.origins {
		if strings.EqualFold(allowed, o) {
			return nil
		}
	}
	return core.Errorf(core.CodeForbidden, "Origin %q may not open terminals", truncateString(o, 200)).
		WithDetails(map[string]any{"origin": truncateString(o, 200)})
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// checkUpgrade refuses (426) a request that is not a WebSocket handshake
// Bay can accept; RFC 6455 §4.2.1's other checks answer as the library
// would, in the envelope.
func checkUpgrade(r *http.Request) error {
	if !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return core.Errorf(core.CodeUpgradeRequired, "This endpoint speaks WebSocket only: send an upgrade request (Connection: Upgrade, Upgrade: websocket)")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return core.Errorf(core.CodeUpgradeRequired, "Unsupported WebSocket version %q: Bay speaks 13", r.Header.Get("Sec-WebSocket-Version")).
			WithDetails(map[string]any{"sec_websocket_version": "13"})
	}
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return core.Invalid("Invalid Sec-WebSocket-Key header")
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgradeRequired is a refusal before the upgrade that names the protocol
// to upgrade to, as RFC 9110 §15.5.22 asks.
type upgradeRequired struct {
	s   *Server
	r   *http.Request
	err error
}

func (u upgradeRequired) VisitOpenTerminalResponse(w http.ResponseWriter) error {
	w.Header().Set("Upgrade", "websocket")
	if core.AsError(u.err).Details["sec_websocket_version"] != nil {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	u.s.writeError(w, u.r, u.err)
	return nil
}

// dialTerminal connects to the runtime's terminal (ws://<endpoint>/term/ws)
// with its token; a failure is 502 ship_error.
func dialTerminal(ctx context.Context, ep core.Endpoint, cols, rows int) (*websocket.Conn, error) {
	u, err := url.Parse(ep.URL)
	if err != nil {
		return nil, core.Wrap(err, core.CodeShipError, "Ship request error: bad runtime endpoint")
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + terminalPath
	u.RawQuery = url.Values{"cols": {strconv.Itoa(cols)}, "rows": {strconv.Itoa(rows)}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, terminalDialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{
		HTTPHeader:      http.Header{"Authorization": {"Bearer " + ep.Token}},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		details := map[string]any{}
		if resp != nil {
			details["status"] = resp.StatusCode
		}
		return nil, core.Wrap(err, core.CodeShipError, "Ship request error: the runtime's terminal cannot be reached").WithDetails(details)
	}
	conn.SetReadLimit(shipReadLimit)
	return conn, nil
}

// terminalReply upgrades the client's request and relays until either
// side ends.
type terminalReply struct {
	s     *Server
	r     *http.Request
	lease *core.TerminalLease
	ship  *websocket.Conn
}

func (t *terminalReply) VisitOpenTerminalResponse(w http.ResponseWriter) error {
	client, err := websocket.Accept(w, t.r, &websocket.AcceptOptions{
		// The origin was checked against terminal.allowed_origins.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		// Accept answered the client itself.
		_ = t.ship.CloseNow()
		t.lease.Release()
		infoFrom(t.r.Context()).err = err
		return nil
	}
	client.SetReadLimit(terminalMaxMessage)
	rl := &relay{client: client, ship: t.ship, lease: t.lease, idleClose: t.s.term.idleClose}
	t.s.term.run(rl)
	return nil
}

// run relays one terminal, counted among the open ones until it ends.
func (st *terminalState) run(rl *relay) {
	st.mu.Lock()
	closing := st.closing
	if !closing {
		st.open[rl] = struct{}{}
		st.wg.Add(1)
	}
	st.mu.Unlock()
	if st.metrics != nil {
		st.metrics.TerminalOpen(1)
		defer st.metrics.TerminalOpen(-1)
	}
	// The request's context is not to be used after the hijack; this one
	// ends only after both connections are closed, as cancelling a
	// connection's read would drop it without its close code.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if closing {
		rl.end(relayEnd{code: closeShuttingDown, reason: "Bay is shutting down"})
		return
	}
	defer func() {
		st.mu.Lock()
		delete(st.open, rl)
		st.mu.Unlock()
		st.wg.Done()
	}()
	rl.end(rl.pump(ctx, st.shutdown))
}

// CloseTerminals closes every open terminal with 1001 (Bay is shutting
// down) and waits, at most 10 s, for them to end; terminals opened later
// close at once. http.Server.Shutdown does not see them: their connections
// were hijacked.
func (s *Server) CloseTerminals() {
	st := s.term
	st.mu.Lock()
	if !st.closing {
		st.closing = true
		close(st.shutdown)
	}
	st.mu.Unlock()
	done := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(terminalShutdownWait):
	}
}

// relay is one open terminal: the client's connection, Ship's, and the
// lease that holds the sandbox's slot.
type relay struct {
	client, ship *websocket.Conn
	lease        *core.TerminalLease
	idleClose    time.Duration
	lastInput    atomic.Int64 // unix nanoseconds of the client's last message
}

// relayEnd is why a relay ends: a side that failed or closed (err), or a
// close Bay decided (code).
type relayEnd struct {
	fromShip bool
	err      error
	code     websocket.StatusCode
	reason   string
}

// pump copies messages both ways until one side ends, the sandbox goes,
// Bay shuts down or the client is idle too long, and says why.
func (rl *relay) pump(ctx context.Context, shutdown <-chan struct{}) relayEnd {
	rl.lastInput.Store(time.Now().UnixNano())
	ends := make(chan relayEnd, 4)
	send := func(e relayEnd) {
		select {
		case ends <- e:
		default: // the relay is ending anyway
		}
	}
	go rl.fromClient(ctx, send)
	go rl.fromShip(ctx, send)

	ping := time.NewTicker(terminalPingInterval)
	defer ping.Stop()
	rearm := time.NewTicker(rl.lease.RearmInterval())
	defer rearm.Stop()
	idle := time.NewTimer(rl.idleClose)
	defer idle.Stop()
	for {
		select {
		case e := <-ends:
			return e
		case <-rl.lease.Gone():
			return relayEnd{code: closeSandboxGone, reason: "The sandbox was stopped or deleted"}
		case <-shutdown:
			return relayEnd{code: closeShuttingDown, reason: "Bay is shutting down"}
		case <-idle.C:
			quiet := time.Since(time.Unix(0, rl.lastInput.Load()))
			if quiet >= rl.idleClose {
				return relayEnd{code: closeIdle, reason: "No input for " + rl.idleClose.String()}
			}
			idle.Reset(rl.idleClose - quiet)
		case <-ping.C:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, terminalPingInterval)
				defer cancel()
				if err := rl.client.Ping(pctx); err != nil && ctx.Err() == nil {
					send(relayEnd{err: err})
				}
			}()
		case <-rearm.C:
			rl.lease.Rearm(ctx)
		}
	}
}

// fromClient passes the client's messages to Ship, text and binary as they
// are (resize messages included), in pieces Ship can read.
func (rl *relay) fromClient(ctx context.Context, send func(relayEnd)) {
	for {
		typ, data, err := rl.client.Read(ctx)
		if err != nil {
			send(relayEnd{err: err})
			return
		}
		rl.lastInput.Store(time.Now().UnixNano())
		for _, piece := range splitMessage(typ, data, shipMaxMessage) {
			wctx, cancel := context.WithTimeout(ctx, terminalWriteTimeout)
			err = rl.ship.Write(wctx, typ, piece)
			cancel()
			if err != nil {
				send(relayEnd{fromShip: true, err: err})
				return
			}
		}
	}
}

// fromShip passes Ship's messages to the client as they are.
func (rl *relay) fromShip(ctx context.Context, send func(relayEnd)) {
	for {
		typ, data, err := rl.ship.Read(ctx)
		if err != nil {
			send(relayEnd{fromShip: true, err: err})
			return
		}
		wctx, cancel := context.WithTimeout(ctx, terminalWriteTimeout)
		err = rl.client.Write(wctx, typ, data)
		cancel()
		if err != nil {
			send(relayEnd{err: err})
			return
		}
	}
}

// splitMessage cuts data into pieces of at most n bytes, a text message
// only between UTF-8 sequences.
func splitMessage(typ websocket.MessageType, data []byte, n int) [][]byte {
	if len(data) <= n {
		return [][]byte{data}
	}
	var out [][]byte
	for len(data) > n {
		cut := n
		if typ == websocket.MessageText {
			for cut > n-utf8.UTFMax && cut > 0 && !utf8.RuneStart(data[cut]) {
				cut--
			}
		}
		out = append(out, data[:cut])
		data = data[cut:]
	}
	return append(out, data)
}

// end closes both connections as e says and releases the lease, which
// re-arms the idle deadline once more.
func (rl *relay) end(e relayEnd) {
	defer rl.lease.Release()
	if e.err != nil {
		e = rl.classify(e)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Ship ends the shell when Bay goes.
		_ = rl.ship.Close(websocket.StatusNormalClosure, "")
	}()
	if e.code != 0 {
		_ = rl.client.Close(e.code, e.reason)
	} else {
		_ = rl.client.CloseNow()
	}
	wg.Wait()
}

// classify turns a side's failure into the close the client gets: Ship's
// normal close is the shell exiting (1000), any other Ship failure 1011,
// unless the sandbox was stopped or deleted meanwhile (4409); the client's
// own close or failure leaves nothing to say (code 0).
func (rl *relay) classify(e relayEnd) relayEnd {
	if !e.fromShip {
		return relayEnd{}
	}
	select {
	case <-rl.lease.Gone():
		return relayEnd{code: closeSandboxGone, reason: "The sandbox was stopped or deleted"}
	default:
	}
	if websocket.CloseStatus(e.err) == websocket.StatusNormalClosure {
		return relayEnd{code: closeShellExited, reason: "The shell exited"}
	}
	var ce websocket.CloseError
	if errors.As(e.err, &ce) && ce.Code == websocket.StatusInternalError {
		return relayEnd{code: closeUpstream, reason: truncateString("Runtime terminal failed: "+ce.Reason, 120)}
	}
	return relayEnd{code: closeUpstream, reason: "The runtime's terminal failed"}
}

// CreateTerminalTicket issues a short-lived terminal ticket for browsers.
func (s *Server) CreateTerminalTicket(ctx context.Context, req oapigen.CreateTerminalTicketRequestObject) (oapigen.CreateTerminalTicketResponseObject, error) {
	if s.terminals == nil {
		return nil, core.Errorf(core.CodeInternal, "terminals are not wired")
	}
	owner := ownerFrom(ctx)
	if err := s.terminals.CheckTerminal(ctx, owner, req.SandboxId); err != nil {
		return nil, err
	}
	exp := s.now().Add(s.term.ticketTTL).Truncate(time.Millisecond)
	return newReply(http.StatusCreated, oapigen.TerminalTicket{
		Ticket: s.term.issue(owner, req.SandboxId, exp), ExpiresAt: oapigen.NewTimestamp(exp),
	})
}

func (r jsonReply) VisitCreateTerminalTicketResponse(w http.ResponseWriter) error { return r.visit(w) }

// authenticateTicket authenticates a terminal request by its ?ticket=
// (CreateTerminalTicket) instead of the Authorization header: the owner
// and scopes the ticket was issued to, or 401 unauthorized.
func (s *Server) authenticateTicket(r *http.Request) (owner string, scopes []string, err error) {
	owner, ok := s.term.verify(r.URL.Query().Get("ticket"), r.PathValue("sandbox_id"), s.now())
	if !ok {
		return "", nil, core.Errorf(core.CodeUnauthorized, "Invalid or expired terminal ticket")
	}
	// The ticket opens this sandbox's terminal for its owner, nothing else.
	return owner, []string{ScopeSandboxes}, nil
}

// A ticket is "t1.<owner, base64url>.<expiry, unix ms>.<HMAC-SHA256,
// base64url>", the HMAC over the owner, the sandbox id and the expiry.

func (st *terminalState) issue(owner, sandboxID string, exp time.Time) string {
	ms := exp.UnixMilli()
	return ticketPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(owner)) + "." +
		strconv.FormatInt(ms, 10) + "." + base64.RawURLEncoding.EncodeToString(st.mac(owner, sandboxID, ms))
}

// verify returns the owner of a valid ticket for the sandbox, not expired
// at now.
func (st *terminalState) verify(ticket, sandboxID string, now time.Time) (string, bool) {
	parts := strings.Split(ticket, ".")
	if len(parts) != 4 || parts[0] != ticketPrefix || sandboxID == "" {
		return "", false
	}
	owner, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(owner) == 0 {
		return "", false
	}
	ms, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", false
	}
	sum, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(sum, st.mac(string(owner), sandboxID, ms)) {
		return "", false
	}
	if !now.Before(time.UnixMilli(ms)) {
		return "", false
	}
	return string(owner), true
}

func (st *terminalState) mac(owner, sandboxID string, expMS int64) []byte {
	m := hmac.New(sha256.New, st.secret)
	var n [8]byte
	for _, field := range []string{"terminal", owner, sandboxID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		m.Write(n[:])
		m.Write([]byte(field))
	}
	binary.BigEndian.PutUint64(n[:], uint64(expMS)) // #nosec G115 -- any bit pattern will do
	m.Write(n[:])
	return m.Sum(nil)
}
