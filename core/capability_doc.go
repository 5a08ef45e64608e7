package core

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
)

// CapabilityTerminal is the runtime capability of an interactive terminal;
// a profile grants it with shell (agent-reach.md §3).
const CapabilityTerminal = "terminal"

// SandboxCapabilities is what a sandbox can do (agent-reach.md §6.2): its
// profile's capabilities, those the runtime also has, and the runtime's own
// description of what it contains.
type SandboxCapabilities struct {
	SandboxID string
	ProfileID string
	// ProfileCapabilities is the profile's list as configured.
	ProfileCapabilities []string
	// Effective is the profile's list that the runtime declares, plus
	// terminal when the profile has shell and the runtime a terminal.
	Effective []string
	// Runtime is the runtime's GET /capabilities document, with limits
	// taken from the profile.
	Runtime map[string]any
}

// SandboxCapabilities describes a sandbox's capabilities. The runtime's
// document is cached per image, so another sandbox of the same image
// answers without starting compute; on a miss (or with refresh) the
// sandbox's runtime is started as any call would (an expired sandbox is
// sandbox_expired). A runtime that does not serve /capabilities (an older
// image) is described from its /meta, with a null inventory.
func (s *SandboxService) SandboxCapabilities(ctx context.Context, owner, id string, refresh bool) (*SandboxCapabilities, error) {
	sb, err := s.store.Sandboxes().GetForOwner(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if sb.DeletedAt != nil {
		return nil, NotFound("Sandbox not found: %s", id)
	}
	p := s.profile(sb.ProfileID)
	if p == nil {
		return nil, Errorf(CodeCapabilityNotSupported, "Profile not found: %s", sb.ProfileID)
	}
	var doc map[string]any
	var keys []string
	// The cache key names every image of the profile: a browser beside
	// Ship adds its capability to the same Ship document.
	var images []string
	for _, c := range p.ContainerList() {
		images = append(images, c.Image)
	}
	key := strings.Join(images, ",")
	s.metaMu.Lock()
	cached, ok := s.docs[key]
	s.metaMu.Unlock()
	if ok && !refresh {
		doc, keys = cached.doc, cached.keys
	} else {
		doc, keys, err = s.fetchRuntimeDoc(ctx, owner, id)
		if err != nil {
			return nil, err
		}
		s.metaMu.Lock()
		s.docs[key] = runtimeDoc{doc: doc, keys: keys}
		s.metaMu.Unlock()
	}
	doc = cloneDoc(doc)
	doc["limits"] = map[string]any{"memory_bytes": nilIfZero(p.MemoryBytes), "cpus": nilIfZeroF(p.CPUs), "pids": p.PidsLimitOrDefault()}
	out := &SandboxCapabilities{
		SandboxID: id, ProfileID: p.ID, ProfileCapabilities: slices.Clone(p.Capabilities), Runtime: doc,
		Effective: []string{},
	}
	for _, c := range p.Capabilities {
		if slices.Contains(keys, c) {
			out.Effective = append(out.Effective, c)
		}
	}
	if p.HasCapability(CapabilityShell) && slices.Contains(keys, CapabilityTerminal) {
		out.Effective = append(out.Effective, CapabilityTerminal)
	}
	return out, nil
}

// runtimeDoc is a cached runtime document and its capability keys.
type runtimeDoc struct {
	doc  map[string]any
	keys []string
}

// fetchRuntimeDoc starts the sandbox's runtime if needed and reads its
// document.
func (s *SandboxService) fetchRuntimeDoc(ctx context.Context, owner, id string) (map[string]any, []string, error) {
	admit := func(sb *Sandbox) (*Profile, error) {
		if sb.Owner != owner || sb.DeletedAt != nil {
			return nil, NotFound("Sandbox not found: %s", sb.ID)
		}
		p := s.profile(sb.ProfileID)
		if p == nil {
			return nil, Errorf(CodeCapabilityNotSupported, "Profile not found: %s", sb.ProfileID)
		}
		return p, nil
	}
	sess, _, err := s.ensureRunning(ctx, id, 0, admit)
	if err != nil {
		return nil, nil, err
	}
	caps, err := s.runtimeCapabilities(ctx, sess.Target())
	if err != nil {
		return nil, nil, err
	}
	doc, err := s.ship.RuntimeInfo(ctx, sess.Target())
	if CodeOf(err) == CodeNotFound {
		// An older runtime: describe it from /meta.
		c := map[string]any{}
		for k, ops := range caps {
			c[k] = map[string]any{"operations": slices.Clone(ops)}
		}
		doc, err = map[string]any{"api_version": "v1", "capabilities": c, "inventory": nil}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	keys := caps.Keys()
	// The session's other containers (a browser beside Ship) add their
	// capabilities from their own /meta.
	for _, c := range sess.Containers {
		if c.RuntimeType == RuntimeTypeShip || c.Endpoint == "" {
			continue
		}
		more, err := s.runtimeCapabilitiesOf(ctx, c.RuntimeType, Endpoint{URL: c.Endpoint, Token: sess.RuntimeToken})
		if err != nil {
			return nil, nil, err
		}
		for _, k := range more.Keys() {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return doc, keys, nil
}

// cloneDoc deep-copies a JSON document.
func cloneDoc(doc map[string]any) map[string]any {
	b, err := json.Marshal(doc)
	if err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return map[string]any{}
	}
	return out
}

func nilIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func nilIfZeroF(f float64) any {
	if f == 0 {
		return nil
	}
	return f
}
