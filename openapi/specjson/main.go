// Command specjson writes an OpenAPI document given in YAML as compact JSON,
// keys in the order they are written, for adapters/httpapi/oapigen to
// embed:
//
//	go run ./openapi/specjson openapi/bay.yaml adapters/httpapi/oapigen/bay.json
//
// oapi-codegen's own embedded spec is decoded when the program starts
// (base64 and gzip, some 0.6 ms and 370 KB) and comes with the kin-openapi
// loader; Bay reads the document only for its request-body rules and for
// /openapi.json, so it embeds the JSON as it is.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: specjson IN.yaml OUT.json")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "specjson:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	raw, err := os.ReadFile(in) // #nosec G304 G703 -- the path comes from the go:generate line
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	// Compact: Bay decodes it at every start (the request-body rules), and
	// indentation would make that half again as slow.
	var buf bytes.Buffer
	if err := write(&buf, &doc); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if !json.Valid(buf.Bytes()) {
		return fmt.Errorf("%s: wrote invalid JSON", in)
	}
	buf.WriteByte('\n')
	return os.WriteFile(out, buf.Bytes(), 0o644) // #nosec G306 G703 -- a source file of the repository, named by the go:generate line
}

// write writes the node as JSON. Scalars keep the type YAML resolves them
// to, except timestamps, which stay the text they are written as (JSON has
// none, and oapi-codegen reads them as strings too).
func write(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return write(buf, n.Content[0])
	case yaml.AliasNode:
		return write(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key that is not a scalar", k.Line)
			}
			if k.Value == "<<" {
				return fmt.Errorf("line %d: merge keys are not supported", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := write(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := write(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			buf.WriteString("null")
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return err
			}
			buf.WriteString(strconv.FormatBool(b))
		case "!!int", "!!float":
			var f any
			if err := n.Decode(&f); err != nil {
				return err
			}
			b, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.Write(b)
		default:
			writeString(buf, n.Value)
		}
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	return nil
}

// writeString writes s as a JSON string, leaving <, > and & as they are
// (the document is served as application/json, never inside HTML).
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode's newline
}
