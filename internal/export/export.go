// Package export carries an owner's bulk export over HTTP: what another
// service's read model warms up or is rebuilt from (practices, next slots,
// occupied ranges), so that no service reads another's store. One handler
// streams any export; one client reads any export, retrying and resuming.
//
// The protocol: GET <url>?after=<cursor> answers 200 with NDJSON
// (application/x-ndjson), one JSON object per line:
//
//	{"items":[…],"cursor":"…"}   a page; its cursor resumes right after it
//	{"end":true}                 the export is complete
//	{"error":"…"}                the owner failed mid-stream
//
// A stream without its "end" line was cut: ask again with after= the last
// page's cursor. The cursor is the owner's and opaque to the reader; one the
// owner cannot read is refused with 400.
//
// These endpoints live beside /graphql on the service's own listener, never
// behind the router; who may call them is the network's business (the
// chart's NetworkPolicy lists each service's internal callers).
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	// The JSON of exports: the standard library's decoder was half of a
	// rebuild's CPU (bench/profiles/availability-rebuild-4-json.txt); this
	// one is already linked in by the router (ADR 0029).
	json "github.com/goccy/go-json"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/httpclient"
)

// ContentType is the media type of an export stream.
const ContentType = "application/x-ndjson"

// line is one line of the stream.
type line[T any] struct {
	Items  []T    `json:"items,omitempty"`
	Cursor string `json:"cursor,omitempty"`
	End    bool   `json:"end,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Pages produces an export from after ("" from the start), calling page with
// every page in order and the cursor that continues right after it. An
// after it cannot read is an apperr.InvalidInput.
type Pages[T any] func(ctx context.Context, after string, page func(items []T, cursor string) error) error

// Handler serves GET ?after=<cursor>: the export as a stream of pages, each
// flushed as soon as it is written.
func Handler[T any](pages Pages[T], logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		ctx := r.Context()
		rc := http.NewResponseController(w)
		enc := json.NewEncoder(w)
		started := false
		start := func() {
			if !started {
				started = true
				w.Header().Set("Content-Type", ContentType)
				w.Header().Set("Cache-Control", "no-store")
			}
		}
		err := pages(ctx, r.URL.Query().Get("after"), func(items []T, cursor string) error {
			if len(items) == 0 {
				return nil
			}
			start()
			if err := enc.Encode(line[T]{Items: items, Cursor: cursor}); err != nil {
				return err
			}
			return rc.Flush()
		})
		switch {
		case err == nil:
			start()
			_ = enc.Encode(line[T]{End: true})
		case ctx.Err() != nil:
			// The reader went away; it resumes from its last page.
		case !started && apperr.CodeOf(err) == apperr.InvalidInput:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			logger.ErrorContext(ctx, "export failed", "path", r.URL.Path, "err", err)
			if !started {
				http.Error(w, "export failed", http.StatusInternalServerError)
				return
			}
			_ = enc.Encode(line[T]{Error: "export failed"})
		}
	})
}

// Client reads exports. The zero value works.
type Client struct {
	// HTTP sends the requests (default: http.DefaultTransport, no overall
	// timeout: an export may stream for minutes).
	HTTP *http.Client
	// Patience is how long Stream keeps asking again without receiving a
	// page: the owner restarting, unreachable or failing (default 1 minute;
	// negative: until the context ends, for a service warming up while the
	// owner starts too).
	Patience time.Duration
	// Idle is how long a stream may stay silent before it is taken for cut
	// and resumed (default 30 s; an owner writes each page as it is read).
	Idle   time.Duration
	Logger *slog.Logger
}

// Backoff between attempts: doubled from the first up to the last.
const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// Source binds Stream to url, in the shape the read models' Load and Rebuild
// take (a function that feeds fn with every page).
func Source[T any](ctx context.Context, c *Client, url string) func(fn func([]T) error) error {
	return func(fn func([]T) error) error { return Stream(ctx, c, url, fn) }
}

// Stream reads the export at url and calls fn with every page, in order and
// each once. A refused connection, a 5xx, an error line or a cut stream is
// asked again, after the last page fn received, until Patience passes with
// no new page. fn's error ends the stream and is returned as is; so is a
// 4xx (a bad cursor, an unknown path): asking again would not help.
func Stream[T any](ctx context.Context, c *Client, url string, fn func([]T) error) error {
	if c == nil {
		c = &Client{}
	}
	patience := c.Patience
	if patience == 0 {
		patience = time.Minute
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	after := ""
	backoff := firstBackoff
	progressed := time.Now()
	for attempt := 1; ; attempt++ {
		pages, err := readOnce(ctx, c, url, &after, fn)
		if err == nil {
			return nil
		}
		var stop permanent
		if errors.As(err, &stop) {
			return stop.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if pages > 0 {
			progressed, backoff = time.Now(), firstBackoff
		}
		if patience > 0 && time.Since(progressed) > patience {
			return fmt.Errorf("export %s: no progress for %s: %w", url, patience, err)
		}
		logger.WarnContext(ctx, "export interrupted; asking again", "url", url, "after", after, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// permanent is an error asking again would not cure: fn's own, or a 4xx.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }

// readOnce makes one request from *after, delivering pages to fn and moving
// *after past each; it returns how many pages it delivered and why it
// stopped (nil: the end line was read).
func readOnce[T any](ctx context.Context, c *Client, rawURL string, after *string, fn func([]T) error) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, permanent{fmt.Errorf("export url: %w", err)}
	}
	if *after != "" {
		q := u.Query()
		q.Set("after", *after)
		u.RawQuery = q.Encode()
	}
	idle := c.Idle
	if idle <= 0 {
		idle = 30 * time.Second
	}
	// Silence for idle cancels this attempt (each line read re-arms it): a
	// peer that vanished without closing the connection is not waited for.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	silence := time.AfterFunc(idle, cancel)
	defer silence.Stop()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, permanent{err}
	}
	req.Header.Set("Accept", ContentType)
	hc := c.HTTP
	if hc == nil {
		hc = defaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		err := fmt.Errorf("export %s: HTTP %d %s", u.Redacted(), res.StatusCode, body)
		if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusRequestTimeout {
			return 0, permanent{err}
		}
		return 0, err
	}
	dec := json.NewDecoder(res.Body)
	pages := 0
	for {
		var l line[T]
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // no end line: cut
			}
			return pages, fmt.Errorf("export stream cut after %d pages: %w", pages, err)
		}
		silence.Reset(idle)
		switch {
		case l.Error != "":
			return pages, fmt.Errorf("export owner failed: %s", l.Error)
		case l.End:
			return pages, nil
		case len(l.Items) > 0:
			if err := fn(l.Items); err != nil {
				return pages, permanent{err}
			}
			pages++
			*after = l.Cursor
		}
	}
}

// defaultClient carries the caller's trace to the owner (internal/httpclient);
// the stream itself is bounded by the idle timer, not by a client timeout.
var defaultClient = httpclient.New(0)
