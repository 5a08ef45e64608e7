package shell

import (
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Coalescing of streamed output (agent-reach.md §2.3): pending output is
// sent once coalesceBytes are pending, or coalesceDelay after the first
// unsent byte.
const (
	coalesceBytes = 32 << 10
	coalesceDelay = 50 * time.Millisecond
)

// pipeReader reads one of a command's output pipes. It keeps the first
// maxOutput bytes for the Result and, when emit is set, passes the output
// on as coalesced, valid UTF-8 text while the command runs.
type pipeReader struct {
	name   string
	r, w   *os.File
	result capped
	emit   func(stream, text string)
	done   chan struct{}

	mu      sync.Mutex
	pending []byte
	armed   bool   // a flush timer is pending
	seq     uint64 // identifies the armed timer
}

// newPipeReader opens the pipe of stream name; emit may be nil.
func newPipeReader(name string, emit func(stream, text string)) (*pipeReader, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	return &pipeReader{name: name, r: r, w: w, emit: emit, done: make(chan struct{})}, nil
}

// closeWriter closes the parent's copy of the write end, so that the read
// end sees EOF once the command and its children closed theirs.
func (p *pipeReader) closeWriter() { _ = p.w.Close() }

// abandon releases a pipe whose command never started.
func (p *pipeReader) abandon() {
	_ = p.w.Close()
	_ = p.r.Close()
}

// loop reads until EOF or until drain's deadline, then sends what is left.
func (p *pipeReader) loop() {
	defer close(p.done)
	buf := make([]byte, coalesceBytes)
	for {
		n, err := p.r.Read(buf)
		if n > 0 {
			_, _ = p.result.Write(buf[:n])
			if p.emit != nil {
				p.add(buf[:n])
			}
		}
		// EOF, drain's deadline or a failed read: the stream ends.
		if err != nil {
			break
		}
	}
	if p.emit != nil {
		p.mu.Lock()
		p.flushLocked(true)
		p.mu.Unlock()
	}
}

// drain lets loop read what the pipe still holds for at most d, then
// stops it and closes the read end.
func (p *pipeReader) drain(d time.Duration) {
	_ = p.r.SetReadDeadline(time.Now().Add(d))
	<-p.done
	_ = p.r.Close()
}

// add queues b for sending: at once when coalesceBytes are pending, else
// by a timer armed at the first unsent byte.
func (p *pipeReader) add(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, b...)
	if len(p.pending) >= coalesceBytes {
		p.flushLocked(false)
		return
	}
	if !p.armed {
		p.armed = true
		p.seq++
		seq := p.seq
		time.AfterFunc(coalesceDelay, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.armed && p.seq == seq {
				p.flushLocked(false)
			}
		})
	}
}

// flushLocked sends the pending output. Unless final, a trailing
// incomplete UTF-8 sequence is held back for the next read to complete;
// invalid bytes become U+FFFD. The caller holds p.mu, which also keeps the
// sends of one stream in order.
func (p *pipeReader) flushLocked(final bool) {
	p.armed = false
	n := len(p.pending)
	if !final {
		n -= incompleteTail(p.pending)
	}
	if n == 0 {
		return
	}
	text := strings.ToValidUTF8(string(p.pending[:n]), "\uFFFD")
	p.pending = p.pending[:copy(p.pending, p.pending[n:])]
	p.emit(p.name, text)
}

// incompleteTail returns the length of a trailing UTF-8 sequence of b that
// is cut short, i.e. that more bytes could still complete (0 if none).
func incompleteTail(b []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		switch {
		case c < utf8.RuneSelf: // ASCII: nothing is cut
			return 0
		case utf8.RuneStart(c):
			if utf8.FullRune(b[len(b)-i:]) {
				return 0
			}
			return i
		}
		// A continuation byte: the sequence starts further back.
	}
	return 0
}
