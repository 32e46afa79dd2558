package edge

import (
	"net/http"
)

// Plain wraps a plain HTTP route the router serves beside the graph (a path
// passed through to a subgraph, such as the calendar feeds). It finds the
// client's address as for the graph, spends one request of that address's
// anonymous budget (such routes carry no bearer token: the address is the
// credential), and spends the refusal budget on a 4xx answer, so a client
// guessing addresses is throttled like one sending bad operations. The
// answer itself passes as the route gives it: it is not GraphQL.
func (e *Edge) Plain(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := e.proxies.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		key := "ip:" + AddrKey(addr)
		r.Header.Del("True-Client-IP")
		r.Header.Del("X-Real-IP")
		if addr.IsValid() {
			r.Header.Set("X-Real-IP", addr.String())
		}
		if wait, blocked := e.limiter.exhausted(budgetRefusals, key); blocked {
			writeRateLimited(w, budgetRefusals, wait)
			return
		}
		if ok, wait := e.limiter.take(r.Context(), budgetAnonymous, e.s.RateLimits.Anonymous, key); !ok {
			writeRateLimited(w, budgetAnonymous, wait)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status >= 400 && sw.status < 500 && sw.status != http.StatusTooManyRequests {
			e.limiter.take(r.Context(), budgetRefusals, e.s.RateLimits.Refusals, key)
		}
	})
}

// statusWriter remembers the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
