package oapigen

import _ "embed" // the spec

//go:generate go run ../../../openapi/specjson ../../../openapi/bay.yaml bay.json

// specJSON is openapi/bay.yaml as JSON (bay.json, generated). It stays in
// the binary's read-only data until it is read: oapi-codegen's embedded spec
// would be decoded at every start.
//
//go:embed bay.json
var specJSON []byte

// Spec returns the OpenAPI document (openapi/bay.yaml) as JSON. The caller
// must not modify it.
func Spec() []byte { return specJSON }
