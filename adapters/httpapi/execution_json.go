package httpapi

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
)

// executionJSON is the Execution object of agent-reach.md §1.3, in the
// order the spec writes it.
type executionJSON struct {
	ID              string               `json:"id"`
	SandboxID       string               `json:"sandbox_id"`
	Kind            core.ExecutionKind   `json:"kind"`
	Mode            core.ExecutionMode   `json:"mode"`
	Status          core.ExecutionStatus `json:"status"`
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

// historyEntryJSON is an execution as the compatibility /history routes
// show it: exec_type beside kind, tags comma-joined.
type historyEntryJSON struct {
	executionJSON
	ExecType string `json:"exec_type"`
	Tags     string `json:"tags"`
}

func toExecutionJSON(e *core.Execution, withImages bool) executionJSON {
	out := executionJSON{
		ID: e.ID, SandboxID: e.SandboxID, Kind: e.Kind, Mode: e.Mode, Status: e.Status,
		Success: e.Success, ExitCode: e.ExitCode, ExecutionCount: e.ExecutionCount, KernelRestarted: e.KernelRestarted,
		Code: e.Code, CodeBytes: e.CodeBytes, CodeTruncated: e.CodeTruncated, Cwd: e.Cwd, Timeout: e.TimeoutS,
		Output: e.Output, OutputBytes: e.OutputBytes, OutputTruncated: e.OutputTruncated,
		Error: e.Error, ErrorTruncated: e.ErrorTruncated, ErrorCode: e.ErrorCode,
		ImageCount: e.ImageCount, ImagesTruncated: e.ImagesTruncated,
		Description: e.Description, Tags: e.Tags, Notes: e.Notes,
		CreatedAt: core.FormatTime(e.CreatedAt), ExecutionTimeMs: e.ExecutionTimeMs,
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if e.FinishedAt != nil {
		s := core.FormatTime(*e.FinishedAt)
		out.FinishedAt = &s
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

func toHistoryEntry(e *core.Execution, withImages bool) historyEntryJSON {
	return historyEntryJSON{executionJSON: toExecutionJSON(e, withImages), ExecType: string(e.Kind), Tags: strings.Join(e.Tags, ",")}
}

// encodeCursor makes the opaque cursor of a listing position.
func encodeCursor(c *core.ExecutionCursor) *string {
	if c == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
	return &s
}

// decodeCursor reads a cursor made by encodeCursor; a bad one is a 422 on
// the cursor query parameter.
func decodeCursor(s string) (*core.ExecutionCursor, error) {
	bad := shape(fieldErr("Invalid cursor", "value_error", "query", "cursor"))
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

// fieldShape turns a core validation error that names a body field
// (details.loc, as core's field checks set it) into the 422 shape.
func fieldShape(err error) error {
	ce := core.AsError(err)
	if ce == nil || ce.Code != core.CodeValidation {
		return err
	}
	loc, ok := ce.Details["loc"].([]any)
	if !ok {
		return err
	}
	return shape(fieldErr(ce.Message, "value_error", loc...))
}
