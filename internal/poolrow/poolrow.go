// Package poolrow is the stored form of a warm-pool entry's containers,
// shared by the SQLite and Postgres adapters: a JSON list in one column.
package poolrow

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/bayhq/bay/core"
)

// container is one core.SessionContainer as stored.
type container struct {
	Name         string    `json:"name"`
	RuntimeType  string    `json:"runtime_type"`
	Port         int       `json:"port"`
	Capabilities []string  `json:"capabilities"`
	ContainerID  string    `json:"container_id,omitempty"`
	Endpoint     string    `json:"endpoint,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// EncodeContainers returns the stored form of list.
func EncodeContainers(list []core.SessionContainer) (string, error) {
	out := make([]container, len(list))
	for i, c := range list {
		out[i] = container{
			Name: c.Name, RuntimeType: c.RuntimeType, Port: c.Port, Capabilities: c.Capabilities,
			ContainerID: c.ContainerID, Endpoint: c.Endpoint, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode pool entry containers: %w", err)
	}
	return string(raw), nil
}

// DecodeContainers parses what EncodeContainers stored.
func DecodeContainers(raw string) ([]core.SessionContainer, error) {
	var in []container
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "decode pool entry containers")
	}
	out := make([]core.SessionContainer, len(in))
	for i, c := range in {
		out[i] = core.SessionContainer{
			Name: c.Name, RuntimeType: c.RuntimeType, Port: c.Port, Capabilities: c.Capabilities,
			ContainerID: c.ContainerID, Endpoint: c.Endpoint, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		}
	}
	return out, nil
}
