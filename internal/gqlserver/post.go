package gqlserver

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// post is gqlgen's POST transport with a cheaper way of writing what an operation answers.
// gqlgen writes a response with json.Marshal, which re-validates and re-compacts the data the
// executor has already written as JSON: for a large answer (four weeks of slots, 170 kB) that was
// a fifth of the availability subgraph's CPU (bench/profiles/slots-2-*). Here the data is copied
// as it is; errors and extensions are still encoded by encoding/json. Requests that fail before
// execution (an unreadable body, a parse or validation error) are handed to gqlgen's transport
// unchanged, so their status codes and messages stay gqlgen's.
type post struct{ transport.POST }

func (h post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	retry := func() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.POST.Do(w, r, exec)
	}
	if err != nil {
		retry()
		return
	}
	params := &graphql.RawParams{}
	start := graphql.Now()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // as gqlgen decodes variables
	if err := dec.Decode(params); err != nil {
		retry()
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		retry()
		return
	}
	w.Header().Set("Content-Type", responseContentType(r))
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// writeResponse writes resp as json.Marshal would, but with resp.Data copied verbatim.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp == nil {
		_, _ = w.Write([]byte("null"))
		return
	}
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		// Incremental delivery (@defer) is not served over plain POST; keep the general form.
		b, err := json.Marshal(resp)
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(b)
		return
	}
	var buf bytes.Buffer
	buf.Grow(len(resp.Data) + 64)
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			panic(err)
		}
		buf.WriteString(`"errors":`)
		buf.Write(errs)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		buf.Write(resp.Data)
	}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			panic(err)
		}
		buf.WriteString(`,"extensions":`)
		buf.Write(ext)
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}

// responseContentType chooses the media type from Accept as gqlgen's POST transport does (with
// its defaults): application/json unless the client prefers application/graphql-response+json.
func responseContentType(r *http.Request) string {
	const (
		plain    = "application/json"
		response = "application/graphql-response+json"
	)
	accept := r.Header.Get("Accept")
	if accept == "" {
		return plain
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", plain:
			return plain
		case response:
			return response
		}
	}
	return response
}
