package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Scopes an API key may hold; each route needs one (routes.go).
const (
	ScopeSandboxes = "sandboxes" // the sandbox and capability endpoints
	ScopeLockers   = "lockers"   // the Locker API
	ScopeAdmin     = "admin"     // /v1/admin/*
)

// AllScopes are every scope, held by the single security.api_key and by
// anonymous callers.
var AllScopes = []string{ScopeSandboxes, ScopeLockers, ScopeAdmin}

// APIKey is one accepted Bearer token, the owner it acts as and what it may
// do.
type APIKey struct {
	// Secret is the token itself, or "sha256:<64 hex digits>" of it, so that
	// the configuration need not hold the secret.
	Secret string
	Owner  string
	Scopes []string
}

// key is an APIKey ready for matching.
type key struct {
	digest [sha256.Size]byte
	owner  string
	scopes []string
}

// ParseKeySecret returns the SHA-256 of the token a secret stands for.
func ParseKeySecret(secret string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	if hexDigest, ok := strings.CutPrefix(secret, "sha256:"); ok {
		b, err := hex.DecodeString(hexDigest)
		if err != nil || len(b) != sha256.Size {
			return d, fmt.Errorf("sha256: wants %d hex digits", 2*sha256.Size)
		}
		copy(d[:], b)
		return d, nil
	}
	if secret == "" {
		return d, fmt.Errorf("empty key")
	}
	return sha256.Sum256([]byte(secret)), nil
}

// CheckScopes reports the first scope that is not one of AllScopes.
func CheckScopes(scopes []string) error {
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return fmt.Errorf("unknown scope %q (want %s)", s, strings.Join(AllScopes, ", "))
		}
	}
	return nil
}

func compileKeys(keys []APIKey) []key {
	out := make([]key, 0, len(keys))
	for _, k := range keys {
		d, err := ParseKeySecret(k.Secret)
		if err != nil {
			panic(fmt.Sprintf("httpapi: invalid API key for owner %q: %v (validate the configuration first)", k.Owner, err))
		}
		out = append(out, key{digest: d, owner: k.Owner, scopes: slices.Clone(k.Scopes)})
	}
	return out
}

// match returns the key whose digest is the token's. Every key is compared,
// in constant time, so the answer's timing says nothing about which
// compared equal.
func match(keys []key, token string) (key, bool) {
	d := sha256.Sum256([]byte(token))
	var found key
	ok := false
	for _, k := range keys {
		if subtle.ConstantTimeCompare(d[:], k.digest[:]) == 1 {
			found, ok = k, true
		}
	}
	return found, ok
}
