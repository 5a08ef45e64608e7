package mcp

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
)

// The objects below are the REST API's (openapi/bay.yaml), in the same
// JSON shapes, so that an agent sees one vocabulary whichever way it
// reaches Bay.

// sandboxJSON is a Sandbox (bay-api.md §6.1).
type sandboxJSON struct {
	ID            string   `json:"id"`
	Status        string   `json:"status"`
	Paused        bool     `json:"paused"`
	Profile       string   `json:"profile"`
	LockerID      *string  `json:"locker_id"`
	Capabilities  []string `json:"capabilities"`
	CreatedAt     string   `json:"created_at"`
	ExpiresAt     *string  `json:"expires_at"`
	IdleExpiresAt *string  `json:"idle_expires_at"`
	StopReason    *string  `json:"stop_reason"`
}

func toSandbox(in *core.SandboxInfo) sandboxJSON {
	out := sandboxJSON{
		ID: in.ID, Status: string(in.Status), Paused: in.Paused, Profile: in.Profile, LockerID: optional(in.LockerID),
		Capabilities: nonNil(in.Capabilities), CreatedAt: core.FormatTime(in.CreatedAt),
		ExpiresAt: timePtr(in.ExpiresAt), IdleExpiresAt: timePtr(in.IdleExpiresAt),
		StopReason: optional(string(in.StopReason)),
	}
	return out
}

// sandboxListJSON is a page of sandboxes.
type sandboxListJSON struct {
	Items      []sandboxJSON `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// profileJSON is a Profile as GET /v1/profiles shows it.
type profileJSON struct {
	ID           string           `json:"id"`
	Image        string           `json:"image"`
	Resources    profileResources `json:"resources"`
	Capabilities []string         `json:"capabilities"`
	IdleTimeout  int64            `json:"idle_timeout"`
	IdlePause    int64            `json:"idle_pause"`
	Network      string           `json:"network"`
}

type profileResources struct {
	CPUs   float64 `json:"cpus"`
	Memory string  `json:"memory"`
}

type profileListJSON struct {
	Items []profileJSON `json:"items"`
}

func toProfiles(profiles []core.Profile) profileListJSON {
	out := profileListJSON{Items: make([]profileJSON, 0, len(profiles))}
	for _, p := range profiles {
		out.Items = append(out.Items, profileJSON{
			ID: p.ID, Image: p.Image, Resources: profileResources{CPUs: p.CPUs, Memory: p.Memory},
			Capabilities: nonNil(p.Capabilities), IdleTimeout: int64(p.IdleTimeout / time.Second),
			IdlePause: int64(p.IdlePause / time.Second), Network: string(p.NetworkMode()),
		})
	}
	return out
}

// executionJSON is the Execution object of agent-reach.md §1.3. Here its
// text fields may be cut to mcp.max_text_chars (output_truncated,
// error_truncated and code_truncated then say so; the record resource has
// them whole, up to the history bounds).
type executionJSON struct {
	ID              string               `json:"id"`
	SandboxID       string               `json:"sandbox_id"`
	Kind            string               `json:"kind"`
	Mode            string               `json:"mode"`
	Status          string               `json:"status"`
	Success         *bool                `json:"success"`
	ExitCode        *int64               `json:"exit_code"`
	ExecutionCount  *int64               `json:"execution_count"`
	KernelRestarted bool                 `json:"kernel_restarted"`
	Code            string               `json:"code"`
	CodeBytes       int64                `json:"code_bytes"`
	CodeTruncated   bool                 `json:"code_truncated"`
	Cwd             *string              `json:"cwd"`
	Timeout         int                  `json:"timeout"`
	Output          string               `json:"output"`
	OutputBytes     int64                `json:"output_bytes"`
	OutputTruncated bool                 `json:"output_truncated"`
	Error           *string              `json:"error"`
	ErrorTruncated  bool                 `json:"error_truncated"`
	ErrorCode       *string              `json:"error_code"`
	Images          *[]map[string]string `json:"images,omitempty"`
	ImageCount      int64                `json:"image_count"`
	ImagesTruncated bool                 `json:"images_truncated"`
	Description     *string              `json:"description"`
	Tags            []string             `json:"tags"`
	Notes           *string              `json:"notes"`
	CreatedAt       string               `json:"created_at"`
	FinishedAt      *string              `json:"finished_at"`
	ExecutionTimeMs *int64               `json:"execution_time_ms"`
}

// toExecution renders a row as the API does.
func toExecution(e *core.Execution, withImages bool) executionJSON {
	out := executionJSON{
		ID: e.ID, SandboxID: e.SandboxID, Kind: string(e.Kind), Mode: string(e.Mode), Status: string(e.Status),
		Success: e.Success, ExitCode: e.ExitCode, ExecutionCount: e.ExecutionCount, KernelRestarted: e.KernelRestarted,
		Code: e.Code, CodeBytes: e.CodeBytes, CodeTruncated: e.CodeTruncated, Cwd: e.Cwd, Timeout: e.TimeoutS,
		Output: e.Output, OutputBytes: e.OutputBytes, OutputTruncated: e.OutputTruncated,
		Error: e.Error, ErrorTruncated: e.ErrorTruncated, ErrorCode: e.ErrorCode,
		ImageCount: e.ImageCount, ImagesTruncated: e.ImagesTruncated,
		Description: e.Description, Tags: nonNil(e.Tags), Notes: e.Notes,
		CreatedAt: core.FormatTime(e.CreatedAt), FinishedAt: timePtr(e.FinishedAt), ExecutionTimeMs: e.ExecutionTimeMs,
	}
	if withImages {
		imgs := make([]map[string]string, 0, len(e.Images))
		for _, img := range e.Images {
			imgs = append(imgs, map[string]string{"image/png": img})
		}
		out.Images = &imgs
	}
	return out
}

// bounded cuts the execution's text fields to max runes, pointing at the
// record for the rest.
func (x executionJSON) bounded(max int) executionJSON {
	hint := recordHint(x.SandboxID, x.ID)
	var cut bool
	if x.Output, cut = Truncate(x.Output, max, hint); cut {
		x.OutputTruncated = true
	}
	if x.Error != nil {
		e, cut := Truncate(*x.Error, max, hint)
		x.Error = &e
		x.ErrorTruncated = x.ErrorTruncated || cut
	}
	if x.Code, cut = Truncate(x.Code, max, hint); cut {
		x.CodeTruncated = true
	}
	return x
}

// executionListJSON is a page of executions.
type executionListJSON struct {
	Items      []executionJSON `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// capabilitiesJSON is the document of GET /v1/sandboxes/{id}/capabilities
// (agent-reach.md §6.2).
type capabilitiesJSON struct {
	SandboxID string              `json:"sandbox_id"`
	Profile   capabilitiesProfile `json:"profile"`
	Effective []string            `json:"effective"`
	Runtime   map[string]any      `json:"runtime"`
}

type capabilitiesProfile struct {
	ID           string   `json:"id"`
	Capabilities []string `json:"capabilities"`
}

// fileEntryJSON is one entry of a directory listing.
type fileEntryJSON struct {
	Name         string   `json:"name"`
	Path         string   `json:"path"`
	IsFile       bool     `json:"is_file"`
	IsDir        bool     `json:"is_dir"`
	Size         *int64   `json:"size"`
	ModifiedTime *float64 `json:"modified_time"`
}

type listingJSON struct {
	Entries []fileEntryJSON `json:"entries"`
}

func toListing(entries []core.FileEntry) listingJSON {
	out := listingJSON{Entries: make([]fileEntryJSON, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, fileEntryJSON{
			Name: e.Name, Path: e.Path, IsFile: e.IsFile, IsDir: e.IsDir, Size: e.Size, ModifiedTime: e.ModifiedTime,
		})
	}
	return out
}

// encodeCursor makes the opaque cursor of an execution listing, the same
// as the API's, so that either accepts the other's.
func encodeCursor(c *core.ExecutionCursor) *string {
	if c == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
	return &s
}

// decodeCursor reads a cursor made by encodeCursor.
func decodeCursor(s string) (*core.ExecutionCursor, error) {
	bad := argInvalid("cursor", "Invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || id == "" {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, bad
	}
	return &core.ExecutionCursor{CreatedAt: t, ID: id}, nil
}

func timePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := core.FormatTime(*t)
	return &s
}

// optional maps "" to null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
