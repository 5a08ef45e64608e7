// Package oapigen is the code oapi-codegen generates from openapi/bay.yaml:
// models, the std net/http strict server and the client; and the spec
// itself as JSON (bay.json, which openapi/specjson writes and spec.go
// embeds). Only adapters/httpapi and black-box tests import it. Apart from
// this file, spec.go, timestamp.go and nullable.go (the types the spec's
// x-go-type names), everything here is generated; never edit it by hand.
package oapigen

//go:generate go tool -modfile=../../../tools/go.mod oapi-codegen -config ../../../openapi/oapi-codegen.yaml ../../../openapi/bay.yaml
