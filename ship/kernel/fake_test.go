package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/runas"
)

// TestMain turns the test binary into a fake Jupyter kernel when started
// through the wrapper script written by fakeKernel.
func TestMain(m *testing.M) {
	if os.Getenv("SHIP_TEST_FAKE_KERNEL") == "1" {
		os.Exit(runFakeKernel(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runFakeKernel speaks the kernel side of the protocol with zmq4 (ROUTER
// for shell and control, PUB for iopub). Cells are tiny commands:
// "print:X", "error", "png", "sleep[:X]" (prints X, then waits for
// SIGINT), "stubborn:X" (prints X, ignores SIGINT), "exit", "noise:X" (also publishes a message with a foreign
// parent first), "events" (one message of every output type, see
// TestManager_StreamEvents), "big:N" (a display_data with N bytes of
// text/plain).
func runFakeKernel(args []string) int {
	var connFile string
	for i, a := range args {
		if a == "-f" && i+1 < len(args) {
			connFile = args[i+1]
		}
	}
	raw, err := os.ReadFile(connFile)
	if err != nil {
		return 2
	}
	var ci ConnectionInfo
	if err := json.Unmarshal(raw, &ci); err != nil {
		return 2
	}
	ctx := context.Background()
	shell, control, iopub := zmq4.NewRouter(ctx), zmq4.NewRouter(ctx), zmq4.NewPub(ctx)
	for sock, port := range map[zmq4.Socket]int{shell: ci.ShellPort, control: ci.ControlPort, iopub: ci.IOPubPort} {
		if err := sock.Listen(ci.endpoint(port)); err != nil {
			return 3
		}
	}
	sig := signer{key: []byte(ci.Key)}
	session := newID()
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, syscall.SIGINT)
	count := 0
	pub := func(msgType string, parent Header, content any) {
		frames, _ := sig.reply(nil, session, msgType, parent, content)
		_ = iopub.SendMulti(zmq4.NewMsgFrom(append([][]byte{[]byte(msgType)}, frames...)...))
	}
	go func() {
		for {
			msg, err := control.Recv()
			if err != nil {
				return
			}
			if m, err := sig.decode(msg.Frames); err == nil && m.Header.MsgType == "shutdown_request" {
				os.Exit(0)
			}
		}
	}()
	for {
		msg, err := shell.Recv()
		if err != nil {
			return 4
		}
		m, err := sig.decode(msg.Frames)
		if err != nil {
			continue
		}
		ids := msg.Frames[:1]
		pub("status", m.Header, map[string]string{"execution_state": "busy"})
		switch m.Header.MsgType {
		case "kernel_info_request":
			frames, _ := sig.reply(ids, session, "kernel_info_reply", m.Header, map[string]string{"status": "ok"})
			_ = shell.SendMulti(zmq4.NewMsgFrom(frames...))
		case "execute_request":
			var c struct {
				Code   string `json:"code"`
				Silent bool   `json:"silent"`
			}
			_ = json.Unmarshal(m.Content, &c)
			count++
			if !c.Silent {
				pub("execute_input", m.Header, map[string]any{"code": c.Code, "execution_count": count})
			}
			cmd, arg, _ := strings.Cut(c.Code, ":")
			switch cmd {
			case "print":
				pub("stream", m.Header, map[string]string{"name": "stdout", "text": arg + "\n"})
			case "noise":
				pub("stream", Header{MsgID: "someone-else"}, map[string]string{"name": "stdout", "text": "NOISE"})
				pub("stream", m.Header, map[string]string{"name": "stdout", "text": arg})
			case "png":
				pub("display_data", m.Header, map[string]any{"data": map[string]string{
					"image/png": "iVBORw0K\nGgo=\n", "text/plain": "<Figure>"}})
				pub("execute_result", m.Header, map[string]any{"data": map[string]string{"text/plain": "'r'"}})
			case "error":
				pub("error", m.Header, map[string]any{"ename": "ValueError", "evalue": "bad",
					"traceback": []string{"Traceback", "ValueError: bad"}})
			case "sleep":
				if arg != "" {
					pub("stream", m.Header, map[string]string{"name": "stdout", "text": arg})
				}
				<-interrupted
				pub("error", m.Header, map[string]any{"ename": "KeyboardInterrupt", "evalue": "",
					"traceback": []string{"KeyboardInterrupt"}})
			case "stubborn":
				pub("stream", m.Header, map[string]string{"name": "stdout", "text": arg})
				time.Sleep(time.Hour)
			case "exit":
				os.Exit(1)
			case "events":
				pubEvents(pub, m.Header, count)
			case "big":
				n, _ := strconv.Atoi(arg)
				pub("display_data", m.Header, map[string]any{"data": map[string]string{
					"text/plain": strings.Repeat("x", n), "text/html": "<b>x</b>"}})
			}
			frames, _ := sig.reply(ids, session, "execute_reply", m.Header, map[string]any{"status": "ok", "execution_count": count})
			_ = shell.SendMulti(zmq4.NewMsgFrom(frames...))
		}
		pub("status", m.Header, map[string]string{"execution_state": "idle"})
	}
}

// pubEvents publishes, for the "events" cell, one message of each output
// type, interleaved with messages that must not reach the sink.
func pubEvents(pub func(string, Header, any), parent Header, count int) {
	pub("stream", parent, map[string]string{"name": "stdout", "text": "out1\n"})
	pub("stream", Header{MsgID: "someone-else"}, map[string]string{"name": "stdout", "text": "NOISE"})
	pub("stream", parent, map[string]string{"name": "stderr", "text": "err1\n"})
	pub("display_data", parent, map[string]any{"data": map[string]any{
		"image/png": "iVBO\nRw==", "text/plain": "<Figure>", "application/vnd.custom+json": map[string]any{"a": 1}}})
	pub("clear_output", parent, map[string]any{"wait": false})
	pub("update_display_data", parent, map[string]any{"data": map[string]string{"text/html": "<i>v2</i>"},
		"transient": map[string]string{"display_id": "d1"}})
	pub("display_data", parent, map[string]any{"data": map[string]string{"application/x-widget": "w"}})
	pub("execute_result", parent, map[string]any{"execution_count": count,
		"data": map[string]any{"text/plain": "6", "application/json": map[string]any{"k": []int{1}}}})
	pub("error", parent, map[string]any{"ename": "ValueError", "evalue": "bad",
		"traceback": []string{"Traceback", "ValueError: bad"}})
}

// fakeKernel returns a Manager whose "python" runs this test binary as a
// fake kernel.
func fakeKernel(t *testing.T) *Manager {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	wrapper := filepath.Join(dir, "python")
	script := fmt.Sprintf("#!/bin/sh\nshift 2\nSHIP_TEST_FAKE_KERNEL=1 exec %q \"$@\"\n", exe)
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))
	ws := t.TempDir()
	m := NewManager(Config{Python: wrapper, Workspace: ws, StateDir: t.TempDir(), Identity: runas.Current(ws),
		InterruptGrace: 2 * time.Second})
	t.Cleanup(m.Close)
	return m
}

func TestManager_FakeKernelProtocol(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	exec := func(code string, timeout time.Duration) *Result {
		t.Helper()
		res, err := m.Exec(context.Background(), code, false, timeout)
		require.NoError(t, err)
		return res
	}
	res := exec("print:hello", 10*time.Second)
	require.True(t, res.Success)
	require.Equal(t, "hello", res.Text)
	require.Equal(t, 1, *res.ExecutionCount)

	res = exec("noise:mine", 10*time.Second)
	require.Equal(t, "mine", res.Text, "messages of other parents are ignored")

	res = exec("png", 10*time.Second)
	require.Equal(t, []string{"iVBORw0KGgo="}, res.Images)
	require.Equal(t, "'r'", res.Text, "display_data with a PNG drops its text/plain")

	res = exec("error", 10*time.Second)
	require.False(t, res.Success)
	require.Equal(t, "Traceback\nValueError: bad", res.Error)

	res = exec("sleep", 300*time.Millisecond)
	require.False(t, res.Success)
	require.Equal(t, "Code execution timed out after 0 seconds", res.Error)
	res = exec("print:after", 10*time.Second)
	require.Equal(t, "after", res.Text, "the interrupted cell settled and the kernel is reused")
	require.False(t, res.KernelRestarted)

	res = exec("exit", 10*time.Second)
	require.False(t, res.Success)
	require.Contains(t, res.Error, "Kernel died")
	res = exec("print:new", 10*time.Second)
	require.True(t, res.KernelRestarted)
	require.Equal(t, 2, res.KernelGeneration)
	require.Equal(t, "new", res.Text)

	require.NoError(t, m.Shutdown(context.Background()))
	require.Equal(t, StatusNotStarted, m.Status())
}
