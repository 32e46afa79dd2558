package edge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The codes of the refusals the edge gives (extensions.code); docs/security.md lists them. Errors
// from subgraphs keep their own codes (SLOT_UNAVAILABLE, FORBIDDEN, …).
const (
	CodeUnauthenticated       = "UNAUTHENTICATED"
	CodeForbidden             = "FORBIDDEN"
	CodeQueryTooComplex       = "QUERY_TOO_COMPLEX"
	CodeRequestTooLarge       = "REQUEST_TOO_LARGE"
	CodeRateLimited           = "RATE_LIMITED"
	CodeParseFailed           = "GRAPHQL_PARSE_FAILED"
	CodeValidationFailed      = "GRAPHQL_VALIDATION_FAILED"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeBadRequest            = "BAD_REQUEST"
	CodeNotFound              = "NOT_FOUND"
	CodeInternal              = "INTERNAL_SERVER_ERROR"
	CodeTooManySubscriptions  = "TOO_MANY_SUBSCRIPTIONS"
	CodeTooManyConnections    = "TOO_MANY_CONNECTIONS"
	CodeMessageTooLarge       = "MESSAGE_TOO_LARGE"
)

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// writeError answers a request error in GraphQL-over-HTTP shape: {"errors":[…]}, no data.
func writeError(w http.ResponseWriter, status int, errs ...gqlError) {
	body, _ := json.Marshal(map[string]any{"errors": errs})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// maxShapedBody bounds what the shaper holds back to rewrite: the router's request errors are a
// few hundred bytes.
const maxShapedBody = 256 << 10

// shaper sits between the HTTP server and the router. A response the router gives before running
// anything — an HTTP error status, or a 200 whose JSON has errors and no data — is held back and
// answered again in GraphQL-over-HTTP shape with an extensions.code on every error (the router
// leaves most of its own refusals without one). Everything else streams through untouched, after
// a look at its first bytes.
type shaper struct {
	w   http.ResponseWriter
	req *http.Request

	status   int
	mode     shapeMode
	buf      bytes.Buffer
	hijacked bool
	refused  bool // the response was a refusal before execution (for the refusal budget)
	onHijack func(net.Conn, *bufio.ReadWriter) (net.Conn, *bufio.ReadWriter)
}

type shapeMode int

const (
	modeNone   shapeMode = iota // no header yet
	modeSniff                   // 200: deciding from the first bytes
	modeBuffer                  // holding a refusal to rewrite
	modePass                    // streaming through
)

func (s *shaper) Header() http.Header { return s.w.Header() }

func (s *shaper) WriteHeader(code int) {
	if s.mode != modeNone {
		return
	}
	if code >= 100 && code < 200 {
		s.w.WriteHeader(code) // informational: not the final answer
		return
	}
	s.status = code
	switch {
	case code >= 400:
		s.mode = modeBuffer
	case code == http.StatusOK && isJSON(s.w.Header().Get("Content-Type")):
		s.mode = modeSniff
	default:
		s.pass()
	}
}

func (s *shaper) Write(p []byte) (int, error) {
	if s.mode == modeNone {
		s.WriteHeader(http.StatusOK)
	}
	switch s.mode {
	case modeSniff:
		s.buf.Write(p)
		if s.buf.Len() < len(`{"errors"`) {
			return len(p), nil
		}
		if startsWithErrors(s.buf.Bytes()) {
			s.mode = modeBuffer
		} else {
			s.pass()
		}
		return len(p), nil
	case modeBuffer:
		s.buf.Write(p)
		if s.buf.Len() > maxShapedBody {
			s.pass()
		}
		return len(p), nil
	}
	return s.w.Write(p)
}

// pass writes the header and whatever was held back, and streams from now on.
func (s *shaper) pass() {
	s.mode = modePass
	s.w.WriteHeader(s.status)
	if s.buf.Len() > 0 {
		_, _ = s.w.Write(s.buf.Bytes())
		s.buf.Reset()
	}
}

// Flush streams: a flushed response is not a refusal being written.
func (s *shaper) Flush() {
	switch s.mode {
	case modeBuffer:
		return
	case modeNone:
		s.WriteHeader(http.StatusOK)
		if s.mode != modePass {
			s.pass()
		}
	case modeSniff:
		s.pass()
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (WebSocket upgrades), through onHijack when set.
func (s *shaper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.w).Hijack()
	if err != nil {
		return conn, rw, err
	}
	s.hijacked = true
	if s.onHijack != nil {
		conn, rw = s.onHijack(conn, rw)
	}
	return conn, rw, nil
}

func (s *shaper) Unwrap() http.ResponseWriter { return s.w }

// finish completes the response once the router is done with it.
func (s *shaper) finish() {
	if s.hijacked {
		return
	}
	switch s.mode {
	case modeNone:
		s.WriteHeader(http.StatusOK)
		if s.mode != modePass {
			s.pass()
		}
	case modeSniff:
		s.pass()
	case modeBuffer:
		s.rewrite()
	}
}

func (s *shaper) rewrite() {
	body := s.buf.Bytes()
	var doc map[string]json.RawMessage
	parsed := isJSON(s.w.Header().Get("Content-Type")) && json.Unmarshal(body, &doc) == nil && doc["errors"] != nil
	if parsed {
		if _, hasData := doc["data"]; hasData && s.status < 400 {
			s.pass() // an execution result with errors: the subgraphs' codes stand
			return
		}
	}
	s.refused = s.status != http.StatusTooManyRequests
	var errs []map[string]any
	if parsed {
		_ = json.Unmarshal(doc["errors"], &errs)
	}
	if len(errs) == 0 {
		msg := strings.TrimSpace(string(body))
		if msg == "" || !parsed && !isText(s.w.Header().Get("Content-Type")) {
			msg = http.StatusText(s.status)
		}
		errs = []map[string]any{{"message": msg}}
	}
	for _, e := range errs {
		msg, _ := e["message"].(string)
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
		}
		if code, _ := ext["code"].(string); code == "" {
			ext["code"] = refusalCode(s.status, msg)
		}
		switch {
		case s.status == http.StatusUnauthorized && ext["code"] == CodeUnauthenticated:
			e["message"] = tokenProblem(s.req)
		case ext["code"] == CodeIntrospectionDisabled:
			e["message"] = "GraphQL introspection is disabled" // not how to turn it on
		}
		e["extensions"] = ext
	}
	if s.status == http.StatusUnauthorized {
		// RFC 6750: the client knows to get a new token.
		s.w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	out, _ := json.Marshal(map[string]any{"errors": errs})
	h := s.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	h.Del("Content-Encoding")
	s.w.WriteHeader(s.status)
	_, _ = s.w.Write(out)
	s.mode = modePass
}

// refusalCode classifies a router refusal that came without a code, by status and by the
// router's message (pinned by tests, so a router upgrade that rewords them is noticed).
func refusalCode(status int, msg string) string {
	m := strings.ToLower(msg)
	switch {
	case status == http.StatusUnauthorized || m == "unauthorized":
		return CodeUnauthenticated
	case status == http.StatusForbidden:
		return CodeForbidden
	case status == http.StatusRequestEntityTooLarge || strings.Contains(m, "too large"):
		return CodeRequestTooLarge
	case status == http.StatusTooManyRequests:
		return CodeRateLimited
	case status == http.StatusNotFound:
		return CodeNotFound
	case status >= 500:
		return CodeInternal
	case strings.Contains(m, "exceeds the max query depth"),
		strings.Contains(m, "total number of fields"),
		strings.Contains(m, "root field"),
		strings.Contains(m, "depth limit"),
		strings.Contains(m, "fields limit"),
		strings.Contains(m, "exceeds the limit"),
		strings.Contains(m, "exceeds max"),
		strings.Contains(m, "allowed") && strings.Contains(m, "exceeded"):
		return CodeQueryTooComplex
	case strings.Contains(m, "introspection is disabled"):
		return CodeIntrospectionDisabled
	case strings.Contains(m, "unexpected token"), strings.Contains(m, "unexpected literal"),
		strings.Contains(m, "unexpected character"), strings.Contains(m, "external: unexpected"),
		strings.Contains(m, "syntax"):
		return CodeParseFailed
	case strings.Contains(m, "invalid request body"), strings.Contains(m, "error parsing variables"),
		strings.Contains(m, "invalid get request"), strings.Contains(m, "operation name"),
		strings.Contains(m, "empty request body"), strings.Contains(m, "method not allowed"),
		status == http.StatusMethodNotAllowed, status == http.StatusUnsupportedMediaType:
		return CodeBadRequest
	case strings.Contains(m, "operation with name"), strings.Contains(m, "not found"):
		return CodeBadRequest
	}
	if status == http.StatusOK {
		return CodeValidationFailed
	}
	return CodeBadRequest
}

// tokenProblem says what is wrong with the request's bearer token, as far as can be told without
// trusting it: a client refreshes an expired token and signs in again otherwise.
func tokenProblem(r *http.Request) string {
	if r == nil {
		return "the bearer token is not valid"
	}
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, raw, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		return "authentication required"
	case !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "":
		return "authorization must be a bearer token"
	}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(raw), &claims); err != nil {
		return "the bearer token is malformed"
	}
	if claims.ExpiresAt != nil && claims.ExpiresAt.Before(time.Now()) {
		return "the bearer token is expired"
	}
	return "the bearer token is not valid (signature, algorithm, audience or issuer refused)"
}

func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/graphql-response+json")
}

func isText(ct string) bool { return strings.HasPrefix(strings.ToLower(ct), "text/plain") }

func startsWithErrors(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return bytes.HasPrefix(b, []byte(`"errors"`))
}
