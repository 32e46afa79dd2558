package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunCountsOutcomesAndStops(t *testing.T) {
	r := Run(context.Background(), Config{Name: "t", Clients: 4, Requests: 100}, func(_ context.Context, c, i int) (Outcome, error) {
		if i%10 == 9 {
			return "", errors.New("boom")
		}
		if c == 0 {
			return "a", nil
		}
		return "b", nil
	})
	if r.Requests != 100 {
		t.Fatalf("requests %d", r.Requests)
	}
	if got := r.Outcomes["a"] + r.Outcomes["b"] + r.Outcomes["error"]; got != 100 {
		t.Fatalf("outcomes %v", r.Outcomes)
	}
	if r.Errors["boom"] != r.Outcomes["error"] {
		t.Fatalf("errors %v vs %v", r.Errors, r.Outcomes)
	}
	d := Run(context.Background(), Config{Clients: 2, Duration: 50 * time.Millisecond}, func(ctx context.Context, _, _ int) (Outcome, error) {
		time.Sleep(time.Millisecond)
		return "ok", nil
	})
	if d.Elapsed > time.Second || d.Requests == 0 {
		t.Fatalf("duration-bound run: %v, %d requests", d.Elapsed, d.Requests)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := Percentile(d, 50); p != 50*time.Millisecond {
		t.Fatalf("p50 %v", p)
	}
	if p := Percentile(d, 99); p != 99*time.Millisecond {
		t.Fatalf("p99 %v", p)
	}
	if p := Percentile(nil, 99); p != 0 {
		t.Fatalf("empty %v", p)
	}
}
