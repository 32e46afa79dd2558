package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Readiness probing, as a Kubernetes readinessProbe does it: every
// ReadyPoll (periodSeconds), each answer awaited at most ReadyTimeout
// (timeoutSeconds); a replica leaves the rotation after ReadyFailures
// failures in a row (failureThreshold) and joins it at its first success.
// The services' SHUTDOWN_DRAIN must outlast the failures it takes.
const (
	ReadyPoll     = 100 * time.Millisecond
	ReadyTimeout  = time.Second
	ReadyFailures = 3
)

// Proxy stands in for a Kubernetes Service in front of a Deployment's
// replicas: one address that sends each request (WebSocket upgrades
// included) to the next ready replica, round robin. Like kube-proxy it does
// not retry: a request sent to a replica that dies fails.
type Proxy struct {
	Name string
	ln   net.Listener
	srv  *http.Server
	tr   *http.Transport

	mu       sync.Mutex
	backends []*backend
	next     atomic.Uint64

	// Failed counts requests the proxy answered 502 (the replica failed
	// them) or 503 (no ready replica).
	Failed atomic.Int64

	errMu  sync.Mutex
	errors []string // the first failures, for the log
}

func (p *Proxy) failed(format string, args ...any) {
	p.Failed.Add(1)
	p.note(format, args...)
}

func (p *Proxy) note(format string, args ...any) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if len(p.errors) < 20 {
		p.errors = append(p.errors, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	}
}

// Errors returns (and forgets) the failures recorded since the last call.
func (p *Proxy) Errors() []string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	out := p.errors
	p.errors = nil
	return out
}

type backend struct {
	addr  string
	ready atomic.Bool
	ws    atomic.Int64 // WebSockets open through it
	rp    *httputil.ReverseProxy
	stop  context.CancelFunc
}

// NewProxy listens on a free loopback port.
func NewProxy(name string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Name: name, ln: ln, tr: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Add puts a replica behind the proxy; it gets traffic once its /readyz
// answers 200.
func (p *Proxy) Add(addr string) {
	u := &url.URL{Scheme: "http", Host: addr}
	b := &backend{addr: addr}
	b.rp = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:     p.tr,
		FlushInterval: -1,
		// A failure after the answer began (the replica's connection lost
		// mid-body) is only logged by ReverseProxy: count it as a failure.
		ErrorLog: log.New(failureWriter{p, addr}, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away: nothing to answer
			}
			p.failed("%s %s via %s (ready %v): %v", r.Method, r.URL.Path, addr, b.ready.Load(), err)
			http.Error(w, p.Name+" replica "+addr+": "+err.Error(), http.StatusBadGateway)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	p.mu.Lock()
	p.backends = append(p.backends, b)
	p.mu.Unlock()
	go p.poll(ctx, b)
}

// Remove takes a replica out.
func (p *Proxy) Remove(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = slices.DeleteFunc(p.backends, func(b *backend) bool {
		if b.addr == addr {
			b.stop()
			return true
		}
		return false
	})
}

// IsReady reports whether the replica at addr is in rotation.
func (p *Proxy) IsReady(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.backends {
		if b.addr == addr {
			return b.ready.Load()
		}
	}
	return false
}

// ReadyCount is the number of replicas in rotation.
func (p *Proxy) ReadyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, b := range p.backends {
		if b.ready.Load() {
			n++
		}
	}
	return n
}

func (p *Proxy) poll(ctx context.Context, b *backend) {
	c := &http.Client{Timeout: ReadyTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	t := time.NewTicker(ReadyPoll)
	defer t.Stop()
	failures := 0
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addr+"/readyz", nil)
		res, err := c.Do(req)
		why := ""
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
			_ = res.Body.Close()
			why = fmt.Sprintf("HTTP %d %s", res.StatusCode, strings.TrimSpace(string(body)))
		} else {
			why = err.Error()
		}
		if err == nil && res.StatusCode == http.StatusOK {
			failures = 0
			b.ready.Store(true)
		} else if failures++; failures >= ReadyFailures {
			if b.ready.Swap(false) && ctx.Err() == nil {
				p.note("%s out of rotation: %s", b.addr, why)
			}
		}
		select {
		case <-ctx.Done():
			b.ready.Store(false)
			return
		case <-t.C:
		}
	}
}

func (p *Proxy) pick() *backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.backends)
	start := int(p.next.Add(1))
	for i := range n {
		if b := p.backends[(start+i)%n]; b.ready.Load() {
			return b
		}
	}
	return nil
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := p.pick()
	if b == nil {
		p.failed("%s %s: no ready replica", r.Method, r.URL.Path)
		http.Error(w, p.Name+": no ready replica", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		b.ws.Add(1)
		defer b.ws.Add(-1)
	} else if r.Body != nil && r.Body != http.NoBody {
		// Read the request whole before forwarding it, as a load balancer
		// that buffers requests does. Streamed, the transport was still
		// reading the body's end (its check for bytes past Content-Length)
		// when a quick replica had answered; the answer's headers, flushed
		// at once, end an HTTP/1 request body, so that read failed and the
		// transport dropped the connection mid-answer (about 1 read in
		// 2,000 while replicas started, found with a stack trace of who
		// closed the connection). kube-proxy forwards TCP and has no such
		// step.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProxiedBody))
		if err != nil {
			http.Error(w, p.Name+": request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	b.rp.ServeHTTP(w, r)
}

// maxProxiedBody is above the router's max_request_body_size.
const maxProxiedBody = 4 << 20

// failureWriter records what ReverseProxy logs (a copy of an answer that
// failed midway) as a failed forward.
type failureWriter struct {
	p    *Proxy
	addr string
}

func (f failureWriter) Write(b []byte) (int, error) {
	f.p.failed("via %s: %s", f.addr, strings.TrimSpace(string(b)))
	return len(b), nil
}

// WebSockets is the number of WebSockets open through the proxy to addr.
func (p *Proxy) WebSockets(addr string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.backends {
		if b.addr == addr {
			return b.ws.Load()
		}
	}
	return 0
}

// Close stops the proxy and its polling.
func (p *Proxy) Close() {
	p.mu.Lock()
	for _, b := range p.backends {
		b.stop()
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		_ = p.srv.Close()
	}
	p.tr.CloseIdleConnections()
}
