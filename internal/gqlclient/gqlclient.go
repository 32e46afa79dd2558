// Package gqlclient is a small GraphQL-over-HTTP client for the router: used
// by `careslot dev` to load demo data, by the load generator and by tests.
package gqlclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"

	"github.com/careslot/careslot/internal/httpclient"
)

// Client posts GraphQL operations to one endpoint.
type Client struct {
	URL  string
	HTTP *http.Client
}

// New returns a client for url (e.g. http://127.0.0.1:4000/graphql).
func New(url string) *Client {
	return &Client{URL: url, HTTP: httpclient.New(30 * time.Second)}
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Code returns extensions.code.
func (e Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Response is a GraphQL response.
type Response struct {
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors,omitempty"`
	Status int             `json:"-"`
}

// Codes lists the errors' codes.
func (r *Response) Codes() []string {
	out := make([]string, 0, len(r.Errors))
	for _, e := range r.Errors {
		out = append(out, e.Code())
	}
	return out
}

// HasCode reports whether any error carries code.
func (r *Response) HasCode(code string) bool {
	for _, e := range r.Errors {
		if e.Code() == code {
			return true
		}
	}
	return false
}

// Err returns the errors as one error, or nil.
func (r *Response) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = fmt.Sprintf("%s (%s)", e.Message, e.Code())
		if e.Code() == "" && len(e.Extensions) > 0 {
			// The router wraps a subgraph's failure: its status code and errors say why.
			ext, _ := json.Marshal(e.Extensions)
			msgs[i] = fmt.Sprintf("%s (extensions %s)", e.Message, ext)
		}
	}
	return fmt.Errorf("graphql: %s", strings.Join(msgs, "; "))
}

// Field returns data.<name>, nil when the answer has no such field.
func (r *Response) Field(name string) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(r.Data, &fields) != nil {
		return nil
	}
	return fields[name]
}

// Decode unmarshals data into v.
func (r *Response) Decode(v any) error { return json.Unmarshal(r.Data, v) }

// Do sends one operation with an optional bearer token and returns the raw response.
func (c *Client) Do(ctx context.Context, token, query string, vars map[string]any) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: res.StatusCode}
	// goccy/go-json: the load generator shares the cores it measures, and
	// encoding/json's validation of a 170 kB slot listing cost it 2 ms a
	// request (bench/profiles/slots-3-one-pass-list.txt).
	if err := fastjson.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("graphql: status %d, body %.300q: %w", res.StatusCode, raw, err)
	}
	return out, nil
}

// Run sends an operation, fails on any GraphQL error, and decodes data into out.
func (c *Client) Run(ctx context.Context, token, query string, vars map[string]any, out any) error {
	res, err := c.Do(ctx, token, query, vars)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return res.Decode(out)
}

// NewTransport returns an HTTP transport keeping enough idle connections for
// n concurrent callers (the default keeps two per host, which would make a
// load test measure connection setup).
func NewTransport(n int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = n * 2
	t.MaxIdleConnsPerHost = n * 2
	return t
}
