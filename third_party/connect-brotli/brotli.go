// Package brotli stands in for go.withmatt.com/connect-brotli, whose host the
// module proxy used here refuses. The router imports it only to offer brotli on
// its control-plane client, which Careslot never enables; this is a small,
// working equivalent so the router builds.
package brotli

import (
	"io"

	"connectrpc.com/connect"
	"github.com/andybalholm/brotli"
)

// Name is the compression name used in Content-Encoding headers.
const Name = "br"

// WithCompression registers brotli as a compression option for clients and handlers.
func WithCompression() connect.Option {
	return option{
		ClientOption:  connect.WithAcceptCompression(Name, newDecompressor, newCompressor),
		HandlerOption: connect.WithCompression(Name, newDecompressor, newCompressor),
	}
}

// option carries the client and handler halves; embedding promotes both sets
// of connect's unexported apply methods, so it satisfies connect.Option.
type option struct {
	connect.ClientOption
	connect.HandlerOption
}

type decompressor struct{ *brotli.Reader }

func (d *decompressor) Close() error { return nil }

func (d *decompressor) Reset(r io.Reader) error { return d.Reader.Reset(r) }

func newDecompressor() connect.Decompressor {
	return &decompressor{brotli.NewReader(nil)}
}

func newCompressor() connect.Compressor {
	return brotli.NewWriterLevel(nil, brotli.DefaultCompression)
}
