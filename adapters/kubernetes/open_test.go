package kubernetes_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/kubernetes"
	"github.com/bayhq/bay/core"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	rt, err := kubernetes.Open(kubernetes.Options{Namespace: "bay", Kubeconfig: t.TempDir() + "/missing"})
	require.NoError(t, err, "Bay starts without a cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = rt.Ping(ctx)
	require.Equal(t, core.CodeInternal, core.CodeOf(err), "error: %v", err)
	_, err = rt.ListContainers(ctx, nil)
	require.Equal(t, core.CodeInternal, core.CodeOf(err), "error: %v", err)

	for _, bad := range []kubernetes.Options{
		{},
		{Namespace: "Not_A_Namespace"},
		{Namespace: "bay", ImagePullPolicy: "Sometimes"},
		{Namespace: "bay", BayPodLabels: map[string]string{"app": "not a value"}},
	} {
		_, err := kubernetes.Open(bad)
		require.Equal(t, core.CodeValidation, core.CodeOf(err), "options %+v", bad)
	}
}
