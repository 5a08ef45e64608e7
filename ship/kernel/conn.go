package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ConnectionInfo is the content of a Jupyter connection file.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name"`
}

// newIPCConnection returns connection info for IPC sockets under dir. IPC
// sockets live in a private directory, so user processes cannot race for
// ports or connect to the kernel.
func newIPCConnection(dir string) ConnectionInfo {
	return ConnectionInfo{
		Transport:       "ipc",
		IP:              filepath.Join(dir, "k"),
		ShellPort:       1,
		IOPubPort:       2,
		StdinPort:       3,
		ControlPort:     4,
		HBPort:          5,
		Key:             newID(),
		SignatureScheme: "hmac-sha256",
	}
}

// endpoint returns the ZeroMQ endpoint of a port.
func (c ConnectionInfo) endpoint(port int) string {
	if c.Transport == "ipc" {
		return fmt.Sprintf("ipc://%s-%d", c.IP, port)
	}
	return fmt.Sprintf("tcp://%s:%d", c.IP, port)
}

// write stores the connection file at path with mode 0600.
func (c ConnectionInfo) write(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode connection file: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write connection file: %w", err)
	}
	return nil
}

// client holds the sockets to one kernel and pumps received messages into
// channels. Closing the client cancels its context, which unblocks the
// readers.
type client struct {
	sig     signer
	session string
	ctx     context.Context
	cancel  context.CancelFunc
	shell   zmq4.Socket
	control zmq4.Socket
	iopub   zmq4.Socket
	// shellIn and iopubIn carry decoded messages; both are closed when the
	// matching reader stops.
	shellIn chan *Message
	iopubIn chan *Message
}

// dialClient connects the shell, control and iopub sockets. It keeps
// retrying until ctx is done, since the kernel binds its sockets a moment
// after the process starts.
func dialClient(ctx context.Context, ci ConnectionInfo) (*client, error) {
	sctx, cancel := context.WithCancel(context.Background())
	opts := []zmq4.Option{zmq4.WithDialerRetry(10 * time.Millisecond), zmq4.WithDialerMaxRetries(-1)}
	c := &client{
		sig:     signer{key: []byte(ci.Key)},
		session: newID(),
		ctx:     sctx,
		cancel:  cancel,
		shell:   zmq4.NewDealer(sctx, opts...),
		control: zmq4.NewDealer(sctx, opts...),
		iopub:   zmq4.NewSub(sctx, opts...),
		shellIn: make(chan *Message, 64),
		iopubIn: make(chan *Message, 1024),
	}
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	err := errors.Join(
		c.iopub.SetOption(zmq4.OptionSubscribe, ""),
		c.iopub.Dial(ci.endpoint(ci.IOPubPort)),
		c.shell.Dial(ci.endpoint(ci.ShellPort)),
		c.control.Dial(ci.endpoint(ci.ControlPort)),
	)
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial kernel: %w", ctx.Err())
		}
		return nil, fmt.Errorf("dial kernel: %w", err)
	}
	go c.pump(c.shell, c.shellIn)
	go c.pump(c.iopub, c.iopubIn)
	return c, nil
}

// pump decodes messages from sock into out until the socket is closed.
// Messages that fail to decode or verify are dropped.
func (c *client) pump(sock zmq4.Socket, out chan<- *Message) {
	defer close(out)
	for {
		raw, err := sock.Recv()
		if err != nil {
			return
		}
		m, err := c.sig.decode(raw.Frames)
		if err != nil {
			continue
		}
		select {
		case out <- m:
		case <-c.ctx.Done():
			return
		}
	}
}

// send sends a request on sock and returns its msg_id.
func (c *client) send(sock zmq4.Socket, msgType string, content any) (string, error) {
	id, frames, err := c.sig.encode(c.session, msgType, content)
	if err != nil {
		return "", err
	}
	if err := sock.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return "", fmt.Errorf("send %s: %w", msgType, err)
	}
	return id, nil
}

// close closes all sockets. The pump goroutines end once their socket is
// closed; their channels are closed then.
func (c *client) close() {
	c.cancel()
	_ = c.shell.Close()
	_ = c.control.Close()
	_ = c.iopub.Close()
}
