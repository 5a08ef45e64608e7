package kernel

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// delimiter separates routing identities from the signed message frames.
var delimiter = []byte("<IDS|MSG>")

// protocolVersion is the Jupyter messaging protocol version we speak.
const protocolVersion = "5.3"

// Header is the header of a Jupyter message.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is a decoded Jupyter message. Content stays raw so each reader
// decodes only the fields it needs.
type Message struct {
	Header       Header
	ParentHeader Header
	Content      json.RawMessage
}

// signer signs and verifies messages with HMAC-SHA256.
type signer struct {
	key []byte
}

func (s signer) sign(parts ...[]byte) []byte {
	if len(s.key) == 0 {
		return nil
	}
	mac := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		mac.Write(p)
	}
	sum := mac.Sum(nil)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// newID returns a random 32-character hex id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// encode builds the frames of a message: delimiter, signature, header,
// parent header, metadata, content.
func (s signer) encode(session, msgType string, content any) (msgID string, frames [][]byte, err error) {
	msgID = newID()
	h := Header{
		MsgID:    msgID,
		Session:  session,
		Username: "ship",
		Date:     time.Now().UTC().Format(time.RFC3339Nano),
		MsgType:  msgType,
		Version:  protocolVersion,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", nil, fmt.Errorf("encode header: %w", err)
	}
	cb, err := json.Marshal(content)
	if err != nil {
		return "", nil, fmt.Errorf("encode content: %w", err)
	}
	parent, meta := []byte("{}"), []byte("{}")
	return msgID, [][]byte{delimiter, s.sign(hb, parent, meta, cb), hb, parent, meta, cb}, nil
}

// errBadSignature reports a message whose HMAC does not match.
var errBadSignature = errors.New("invalid message signature")

// decode parses the frames of a received message. Frames before the
// delimiter (routing identities or the iopub topic) are ignored.
func (s signer) decode(frames [][]byte) (*Message, error) {
	i := 0
	for i < len(frames) && !bytes.Equal(frames[i], delimiter) {
		i++
	}
	if len(frames)-i < 6 {
		return nil, fmt.Errorf("short message: %d frames after delimiter", len(frames)-i)
	}
	sig, hb, pb, mb, cb := frames[i+1], frames[i+2], frames[i+3], frames[i+4], frames[i+5]
	if len(s.key) > 0 && !hmac.Equal(sig, s.sign(hb, pb, mb, cb)) {
		return nil, errBadSignature
	}
	m := &Message{Content: json.RawMessage(cb)}
	if err := json.Unmarshal(hb, &m.Header); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if len(pb) > 2 {
		if err := json.Unmarshal(pb, &m.ParentHeader); err != nil {
			return nil, fmt.Errorf("decode parent header: %w", err)
		}
	}
	return m, nil
}

// reply builds the frames of a message answering parent, for the fake
// kernel used in tests and anything else that plays the kernel side.
func (s signer) reply(ids [][]byte, session, msgType string, parent Header, content any) ([][]byte, error) {
	h := Header{
		MsgID:    newID(),
		Session:  session,
		Username: "kernel",
		Date:     time.Now().UTC().Format(time.RFC3339Nano),
		MsgType:  msgType,
		Version:  protocolVersion,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	pb, err := json.Marshal(parent)
	if err != nil {
		return nil, fmt.Errorf("encode parent: %w", err)
	}
	cb, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	meta := []byte("{}")
	frames := append([][]byte{}, ids...)
	return append(frames, delimiter, s.sign(hb, pb, meta, cb), hb, pb, meta, cb), nil
}
