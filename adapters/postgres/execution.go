package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
)

type executionStore struct{ s *Store }

var _ core.ExecutionStore = executionStore{}

func (st executionStore) Insert(ctx context.Context, e *core.Execution) error {
	images, err := imagesColumn(e.Images)
	if err != nil {
		return err
	}
	return translate(st.s.q.ExecutionInsert(ctx, pgdb.ExecutionInsertParams{
		ID:              e.ID,
		SandboxID:       e.SandboxID,
		Owner:           e.Owner,
		Kind:            string(e.Kind),
		Mode:            string(e.Mode),
		Status:          string(e.Status),
		InstanceID:      e.InstanceID,
		Cwd:             e.Cwd,
		TimeoutS:        int64(e.TimeoutS),
		Code:            e.Code,
		CodeBytes:       e.CodeBytes,
		CodeTruncated:   e.CodeTruncated,
		Success:         e.Success,
		ExitCode:        e.ExitCode,
		ExecutionCount:  e.ExecutionCount,
		KernelRestarted: e.KernelRestarted,
		Output:          e.Output,
		OutputBytes:     e.OutputBytes,
		OutputTruncated: e.OutputTruncated,
		Error:           e.Error,
		ErrorTruncated:  e.ErrorTruncated,
		ErrorCode:       e.ErrorCode,
		Images:          images,
		ImageCount:      e.ImageCount,
		ImagesTruncated: e.ImagesTruncated,
		Description:     e.Description,
		Tags:            tagsColumn(e.Tags),
		Notes:           e.Notes,
		CreatedAt:       ts(e.CreatedAt),
		FinishedAt:      tsPtr(e.FinishedAt),
		ExecutionTimeMs: e.ExecutionTimeMs,
		UpdatedAt:       ts(e.UpdatedAt),
	}))
}

func (st executionStore) Get(ctx context.Context, owner, sandboxID, id string) (*core.Execution, error) {
	row, err := st.s.q.ExecutionGet(ctx, pgdb.ExecutionGetParams{Owner: owner, SandboxID: sandboxID, ID: id})
	if err != nil {
		return nil, notFoundOr(err, "Execution", id)
	}
	return executionFromRow(row)
}

func (st executionStore) Last(ctx context.Context, owner, sandboxID string, kind core.ExecutionKind) (*core.Execution, error) {
	row, err := st.s.q.ExecutionLast(ctx, pgdb.ExecutionLastParams{
		Owner: owner, SandboxID: sandboxID, Kind: nullable(string(kind)),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, core.NotFound("No execution found")
	}
	if err != nil {
		return nil, translate(err)
	}
	return executionFromRow(row)
}

func (st executionStore) List(ctx context.Context, owner, sandboxID string, f core.ExecutionFilter) ([]core.Execution, error) {
	c := executionConditions(owner, sandboxID, f)
	p := pgdb.ExecutionListDescParams{
		Tags:           c.Tags,
		Owner:          c.Owner,
		SandboxID:      c.SandboxID,
		Kind:           c.Kind,
		Status:         c.Status,
		Success:        c.Success,
		Since:          c.Since,
		Until:          c.Until,
		HasDescription: c.HasDescription,
		HasNotes:       c.HasNotes,
		PageOffset:     int64(max(f.Offset, 0)),
		PageLimit:      int64(max(f.Limit, 0)),
	}
	if f.After != nil {
		p.AfterCreatedAt, p.AfterID = ptr(ts(f.After.CreatedAt)), f.After.ID
	}
	var (
		rows []pgdb.Execution
		err  error
	)
	if f.Asc {
		rows, err = st.s.q.ExecutionListAsc(ctx, pgdb.ExecutionListAscParams(p))
	} else {
		rows, err = st.s.q.ExecutionListDesc(ctx, p)
	}
	if err != nil {
		return nil, translate(err)
	}
	out := make([]core.Execution, 0, len(rows))
	for _, r := range rows {
		e, err := executionFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, nil
}

func (st executionStore) Count(ctx context.Context, owner, sandboxID string, f core.ExecutionFilter) (int64, error) {
	n, err := st.s.q.ExecutionCount(ctx, executionConditions(owner, sandboxID, f))
	return n, translate(err)
}

// executionConditions binds the filters List and Count share.
func executionConditions(owner, sandboxID string, f core.ExecutionFilter) pgdb.ExecutionCountParams {
	return pgdb.ExecutionCountParams{
		Owner:          owner,
		SandboxID:      sandboxID,
		Kind:           nullable(string(f.Kind)),
		Status:         nullable(string(f.Status)),
		Success:        f.Success,
		Since:          tsPtr(f.Since),
		Until:          tsPtr(f.Until),
		HasDescription: f.HasDescription,
		HasNotes:       f.HasNotes,
		Tags:           f.Tags,
	}
}

func (st executionStore) Finish(ctx context.Context, id string, r core.ExecutionResult) (bool, error) {
	images, err := imagesColumn(r.Images)
	if err != nil {
		return false, err
	}
	n, err := st.s.q.ExecutionFinish(ctx, pgdb.ExecutionFinishParams{
		ID:              id,
		Status:          string(r.Status),
		Success:         r.Success,
		ExitCode:        r.ExitCode,
		ExecutionCount:  r.ExecutionCount,
		KernelRestarted: r.KernelRestarted,
		Output:          r.Output,
		OutputBytes:     r.OutputBytes,
		OutputTruncated: r.OutputTruncated,
		Error:           r.Error,
		ErrorTruncated:  r.ErrorTruncated,
		ErrorCode:       r.ErrorCode,
		Images:          images,
		ImageCount:      r.ImageCount,
		ImagesTruncated: r.ImagesTruncated,
		FinishedAt:      tsPtr(r.FinishedAt),
		ExecutionTimeMs: r.ExecutionTimeMs,
		UpdatedAt:       ts(r.UpdatedAt),
	})
	if err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}

func (st executionStore) Progress(ctx context.Context, id string, p core.ExecutionProgress) error {
	return translate(st.s.q.ExecutionProgress(ctx, pgdb.ExecutionProgressParams{
		ID:              id,
		Output:          p.Output,
		OutputBytes:     p.OutputBytes,
		OutputTruncated: p.OutputTruncated,
		UpdatedAt:       ts(p.UpdatedAt),
	}))
}

func (st executionStore) Annotate(ctx context.Context, owner, sandboxID, id string, p core.ExecutionPatch) (*core.Execution, error) {
	row, err := st.s.q.ExecutionAnnotate(ctx, pgdb.ExecutionAnnotateParams{
		Owner:          owner,
		SandboxID:      sandboxID,
		ID:             id,
		SetDescription: p.SetDescription,
		Description:    p.Description,
		SetTags:        p.SetTags,
		Tags:           tagsColumn(p.Tags),
		SetNotes:       p.SetNotes,
		Notes:          p.Notes,
		UpdatedAt:      ts(p.UpdatedAt),
	})
	if err != nil {
		return nil, notFoundOr(err, "Execution", id)
	}
	return executionFromRow(row)
}

func (st executionStore) RunningPython(ctx context.Context, sandboxID string) (*core.Execution, error) {
	row, err := st.s.q.ExecutionRunningPython(ctx, sandboxID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, core.NotFound("No running python execution in sandbox %s", sandboxID)
	}
	if err != nil {
		return nil, translate(err)
	}
	return executionFromRow(row)
}

func (st executionStore) DeleteOfDeletedSandboxes(ctx context.Context, limit int) (int64, error) {
	n, err := st.s.q.ExecutionDeleteOfDeletedSandboxes(ctx, int64(max(limit, 0)))
	return n, translate(err)
}

func (st executionStore) DeleteCreatedBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	n, err := st.s.q.ExecutionDeleteCreatedBefore(ctx, pgdb.ExecutionDeleteCreatedBeforeParams{
		Before: ts(t), Batch: int64(max(limit, 0)),
	})
	return n, translate(err)
}

func (st executionStore) DeleteBeyondCap(ctx context.Context, keep, limit int) (int64, error) {
	n, err := st.s.q.ExecutionDeleteBeyondCap(ctx, pgdb.ExecutionDeleteBeyondCapParams{
		Keep: int64(keep), Batch: int64(max(limit, 0)),
	})
	return n, translate(err)
}

func (st executionStore) MarkLost(ctx context.Context, instanceID string, startedBefore, now time.Time,
	staleMargin time.Duration, code, message string, limit int) (int64, error) {
	n, err := st.s.q.ExecutionMarkLost(ctx, pgdb.ExecutionMarkLostParams{
		ErrorCode:     code,
		Error:         message,
		Now:           ts(now),
		InstanceID:    instanceID,
		StartedBefore: ts(startedBefore),
		StaleMarginUs: staleMargin.Microseconds(),
		Batch:         int64(max(limit, 0)),
	})
	return n, translate(err)
}

func executionFromRow(r pgdb.Execution) (*core.Execution, error) {
	images, err := imagesFromColumn(r.Images)
	if err != nil {
		return nil, err
	}
	e := &core.Execution{
		ID:              r.ID,
		SandboxID:       r.SandboxID,
		Owner:           r.Owner,
		Kind:            core.ExecutionKind(r.Kind),
		Mode:            core.ExecutionMode(r.Mode),
		Status:          core.ExecutionStatus(r.Status),
		InstanceID:      r.InstanceID,
		Cwd:             r.Cwd,
		TimeoutS:        int(r.TimeoutS),
		Code:            r.Code,
		CodeBytes:       r.CodeBytes,
		CodeTruncated:   r.CodeTruncated,
		Success:         r.Success,
		ExitCode:        r.ExitCode,
		ExecutionCount:  r.ExecutionCount,
		KernelRestarted: r.KernelRestarted,
		Output:          r.Output,
		OutputBytes:     r.OutputBytes,
		OutputTruncated: r.OutputTruncated,
		Error:           r.Error,
		ErrorTruncated:  r.ErrorTruncated,
		ErrorCode:       r.ErrorCode,
		Images:          images,
		ImageCount:      r.ImageCount,
		ImagesTruncated: r.ImagesTruncated,
		Description:     r.Description,
		Tags:            tagsFromColumn(r.Tags),
		Notes:           r.Notes,
		CreatedAt:       utc(r.CreatedAt),
		FinishedAt:      utcPtr(r.FinishedAt),
		ExecutionTimeMs: r.ExecutionTimeMs,
		UpdatedAt:       utc(r.UpdatedAt),
	}
	return e, nil
}

// tagsColumn stores tags as ",a,b," (sorted, unique; "" when none), so that
// a tag matches exactly as the substring ",tag,".
func tagsColumn(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	t := slices.Compact(slices.Sorted(slices.Values(tags)))
	return "," + strings.Join(t, ",") + ","
}

func tagsFromColumn(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// imagesColumn stores images as a JSON array of base64 strings, NULL when
// there are none.
func imagesColumn(images []string) (*string, error) {
	if len(images) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(images)
	if err != nil {
		return nil, fmt.Errorf("encode images: %w", err)
	}
	return ptr(string(b)), nil
}

func imagesFromColumn(s *string) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	var images []string
	if err := json.Unmarshal([]byte(*s), &images); err != nil {
		return nil, fmt.Errorf("parse stored images: %w", err)
	}
	return images, nil
}

func ptr[T any](v T) *T { return &v }
