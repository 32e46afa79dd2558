package booking

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

// CalendarRoute is where the service serves practitioners' calendar feeds,
// GET /calendar/<token>.ics; the router passes the same path through on its
// own listener. The path carries the feed's secret: it is never logged or
// traced.
const CalendarRoute = business.CalendarPath

// CalendarHandler serves the calendar feeds (RFC 5545, text/calendar). The
// address is the credential: no bearer token. Every address that is not a
// live feed answers the same bare 404. The ETag is a hash of the content, so
// a calendar application polling with If-None-Match gets 304 until something
// changes.
func (s *Subgraph) CalendarHandler() http.Handler {
	maxAge := "private, max-age=" + strconv.Itoa(int(business.CalendarRefresh/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, CalendarRoute)
		token, ok := strings.CutSuffix(name, ".ics")
		if !ok || strings.Contains(token, "/") {
			notFound(w)
			return
		}
		ctx := r.Context()
		cal, err := s.Service.CalendarFeedByToken(ctx, token)
		if apperr.CodeOf(err) == apperr.NotFound {
			notFound(w)
			return
		}
		if err != nil {
			s.deps.Logger.ErrorContext(ctx, "calendar feed failed", "err", err) // never the path: it is the secret
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		body := cal.Encode()
		sum := sha256.Sum256(body)
		h := w.Header()
		h.Set("Content-Type", "text/calendar; charset=utf-8")
		h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`)
		h.Set("Cache-Control", maxAge)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// ServeContent answers If-None-Match (304), HEAD and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "not found", http.StatusNotFound)
}
