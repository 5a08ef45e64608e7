package containertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

func TestShip_TerminalAndEnvironment(t *testing.T) {
	t.Parallel()
	// Bay passes its variables into the container; user processes see them
	// (the reference's sudo hid them from shell commands).
	s := start(t, "ship:latest", "", "-e", "BAY_SESSION_ID=sess-test", "--security-opt", "no-new-privileges")
	require.Equal(t, "sess-test", s.sh(t, "echo $BAY_SESSION_ID")["stdout"])
	require.Equal(t, "sess-test", text(s.py(t, "import os; print(os.environ['BAY_SESSION_ID'])", 60)))
	// With no-new-privileges (Bay's default) the image's sudo rule is inert.
	out := s.sh(t, "sudo -n true 2>&1; echo rc=$?")
	require.NotContains(t, out["stdout"], "rc=0")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(s.url, "http", "ws", 1)+"/term/ws?cols=90&rows=20",
		&websocket.DialOptions{HTTPHeader: s.authHeader()})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("echo \"$(whoami)@$PWD:$HOME:$TERM:$(stty size)\"\n")))
	var seen strings.Builder
	for !strings.Contains(seen.String(), "shipyard@/workspace:/workspace:xterm-256color:20 90") {
		_, data, err := conn.Read(ctx)
		require.NoError(t, err, seen.String())
		seen.Write(data)
	}
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("exit\n")))
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), err)
			break
		}
	}
}
