// Package mcp is Bay's Model Context Protocol adapter (agent-reach.md §4),
// built on the official Go SDK (github.com/modelcontextprotocol/go-sdk).
//
// Server is the MCP server built into Bay: a stateless Streamable HTTP
// endpoint whose tools and resources call the core services directly, with
// the owner each request's headers authenticate to, so errors carry the
// core's codes. Its tools are gated by the configured profiles'
// capabilities, their results carry structured content plus a bounded,
// ANSI-free text block, and their failures are tool results with isError.
//
// Proxy is `bay mcp`: a stdio MCP server for desktop agents that is a
// client of a Bay's /mcp endpoint, re-exposing its tools and resources and
// adding two local file tools that stream files between the desktop and a
// sandbox through Bay's REST upload and download endpoints.
package mcp
