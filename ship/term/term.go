package term

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/bayhq/bay/ship/runas"
)

// Handler serves /term/ws.
type Handler struct {
	ID runas.Identity
	// Dir is the shell's working directory (the workspace root).
	Dir string
}

func queryInt(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil && v > 0 && v < 1<<16 {
		return v
	}
	return def
}

// ServeHTTP upgrades the request and runs `bash -l` in a PTY until either
// side goes away.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	// #nosec G115 -- queryInt returns 1..65535
	size := &pty.Winsize{Cols: uint16(queryInt(r, "cols", 80)), Rows: uint16(queryInt(r, "rows", 24))}

	ptmx, cmd, err := h.start(size)
	if err != nil {
		conn.Close(websocket.StatusInternalError, truncate(err.Error()))
		return
	}
	defer ptmx.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	defer func() {
		// Disconnect: kill the shell's whole session/process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go h.input(ctx, cancel, conn, ptmx)

	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		output(ctx, conn, ptmx)
	}()
	select {
	case <-exited:
		// Let the reader drain what the shell wrote last, then close
		// normally as the shell ended.
		<-outDone
		conn.Close(websocket.StatusNormalClosure, "shell exited")
	case <-ctx.Done():
	}
}

// start launches bash as the sandbox user on a new PTY.
func (h *Handler) start(size *pty.Winsize) (*os.File, *exec.Cmd, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer tty.Close()
	if err := h.ID.Chown(tty.Name()); err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	if err := pty.Setsize(ptmx, size); err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	cmd := exec.Command("/bin/bash", "-l")
	cmd.Dir = h.Dir
	cmd.Env = h.ID.Env(map[string]string{"TERM": "xterm-256color", "LANG": "C.UTF-8"})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	attr := h.ID.SysProcAttr()
	// A new session with the PTY as controlling terminal; Setsid already
	// makes a new process group, and Setpgid together with it fails.
	attr.Setpgid = false
	attr.Setsid = true
	attr.Setctty = true
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	return ptmx, cmd, nil
}

// resizeMsg is the only control message: {"type":"resize","cols":..,"rows":..}.
type resizeMsg struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// input copies client frames to the PTY, handling resize messages.
func (h *Handler) input(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, ptmx *os.File) {
	defer cancel()
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageText {
			var m resizeMsg
			if json.Unmarshal(data, &m) == nil && m.Type == "resize" {
				cols, rows := m.Cols, m.Rows
				if cols <= 0 {
					cols = 80
				}
				if rows <= 0 {
					rows = 24
				}
				_ = pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
				continue
			}
		}
		if _, err := ptmx.Write(data); err != nil {
			return
		}
	}
}

// output copies PTY output to text frames, never splitting a UTF-8
// sequence across frames.
func output(ctx context.Context, conn *websocket.Conn, ptmx *os.File) {
	buf := make([]byte, 32*1024)
	var pending []byte
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			data := append(pending, buf[:n]...)
			cut := completeUTF8(data)
			pending = append([]byte(nil), data[cut:]...)
			if cut > 0 {
				text := []byte(stringsToValid(data[:cut]))
				if werr := conn.Write(ctx, websocket.MessageText, text); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if len(pending) > 0 {
				_ = conn.Write(ctx, websocket.MessageText, []byte(stringsToValid(pending)))
			}
			return
		}
	}
}

// completeUTF8 returns the length of the prefix of b that does not end in
// the middle of a multi-byte sequence.
func completeUTF8(b []byte) int {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-i:]) {
				return len(b)
			}
			return len(b) - i
		}
	}
	return len(b)
}

func stringsToValid(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []rune
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		out = append(out, r)
		b = b[size:]
	}
	return string(out)
}

// truncate keeps a close reason within the 123 bytes WebSocket allows.
func truncate(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
