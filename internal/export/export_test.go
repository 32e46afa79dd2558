package export_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/export"
)

// numbers is an export of 1..n in pages of size; the cursor is the last
// number given.
func numbers(n, size int) export.Pages[int] {
	return func(ctx context.Context, after string, page func([]int, string) error) error {
		from := 0
		if after != "" {
			var err error
			if from, err = strconv.Atoi(after); err != nil {
				return apperr.E(apperr.InvalidInput, "bad cursor")
			}
		}
		for i := from + 1; i <= n; i += size {
			var items []int
			for j := i; j < i+size && j <= n; j++ {
				items = append(items, j)
			}
			if err := page(items, strconv.Itoa(items[len(items)-1])); err != nil {
				return err
			}
		}
		return nil
	}
}

func upTo(n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		out = append(out, i)
	}
	return out
}

// flaky serves numbers(n, size) but fails the way a server or a network
// does on the requests listed: "cut" ends the stream after two pages without
// its end line, "error" writes an error line after two pages, "503" refuses.
type flaky struct {
	h      http.Handler
	mu     sync.Mutex
	faults map[int]string
	afters []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.afters = append(f.afters, r.URL.Query().Get("after"))
	fault := f.faults[len(f.afters)]
	f.mu.Unlock()
	switch fault {
	case "503":
		http.Error(w, "starting", http.StatusServiceUnavailable)
	case "cut", "error":
		// Two pages, then the failure.
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		pages := numbers(after+6, 3)
		h := export.Handler(func(ctx context.Context, a string, page func([]int, string) error) error {
			if err := pages(ctx, a, page); err != nil {
				return err
			}
			if fault == "cut" {
				panic(http.ErrAbortHandler) // the connection dies
			}
			return errors.New("the database went away")
		}, nil)
		h.ServeHTTP(w, r)
	default:
		f.h.ServeHTTP(w, r)
	}
}

// TestStreamResumes: whatever breaks a stream — a cut connection, the owner
// failing mid-stream, the owner not ready — the client asks again after the
// last page it delivered, so every item comes once and in order.
func TestStreamResumes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults map[int]string
		afters []string
	}{
		{"whole", nil, []string{""}},
		{"cut twice", map[int]string{1: "cut", 2: "cut"}, []string{"", "6", "12"}},
		{"owner failed mid-stream", map[int]string{1: "error"}, []string{"", "6"}},
		{"owner not ready", map[int]string{1: "503", 2: "503"}, []string{"", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{h: export.Handler(numbers(20, 3), nil), faults: tc.faults}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var got []int
			err := export.Stream(context.Background(), &export.Client{Patience: 5 * time.Second}, srv.URL, func(page []int) error {
				got = append(got, page...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, upTo(20)) {
				t.Errorf("got %v", got)
			}
			if !slices.Equal(f.afters, tc.afters) {
				t.Errorf("asked after %q, want %q", f.afters, tc.afters)
			}
		})
	}
}

// TestStreamStops: what asking again cannot cure ends the stream at once —
// the consumer's own error, a refused cursor — and an owner that never
// answers ends it once the client's patience is spent.
func TestStreamStops(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(export.Handler(numbers(20, 3), nil))
	defer srv.Close()

	mine := errors.New("consumer full")
	pages := 0
	err := export.Stream(ctx, nil, srv.URL, func([]int) error {
		if pages++; pages == 2 {
			return mine
		}
		return nil
	})
	if !errors.Is(err, mine) || pages != 2 {
		t.Errorf("consumer error: %v after %d pages", err, pages)
	}

	res, err := http.Get(srv.URL + "?after=x")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("a malformed cursor: HTTP %d, want 400", res.StatusCode)
	}
	if err := export.Stream(ctx, nil, srv.URL+"?after=x", func([]int) error { return nil }); err == nil {
		t.Error("a refused cursor streamed")
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	if err := export.Stream(ctx, &export.Client{Patience: 300 * time.Millisecond}, down.URL, func([]int) error { return nil }); err == nil {
		t.Error("an owner that never answers streamed")
	}
}
