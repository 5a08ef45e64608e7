// Package metrics keeps Bay's counters, gauges and histograms and serves
// them in the Prometheus text exposition format (version 0.0.4) at
// /metrics. It is a small, dependency-free registry made for the handful of
// series Bay exports.
//
// It imports core and the standard library.
package metrics
