// Command shipbench measures the Ship images: build time (warm, and cold
// from the build log), image sizes, container start to ready, first Python
// result, trivial exec round trips and Ship's memory.
//
// Usage: go run ./cmd/shipbench [-image ship:latest] [-runs 10] [-execs 200] [-build]
package main
