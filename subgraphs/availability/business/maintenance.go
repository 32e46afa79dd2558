package business

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultMaintenanceInterval is how often the maintenance worker looks for
// practitioners due (window roll at local midnight, next slot expiry).
const DefaultMaintenanceInterval = 5 * time.Second

// maintenanceBatch is how many due practitioners one pass takes.
const maintenanceBatch = 500

// maintenanceLanes is how many practitioners a pass refreshes at once. A
// refresh is bound by its Redis round trips, and slots start on the quarter
// hour: at 07:30 most practitioners of a zone are due in the same second
// (BenchmarkBusinessDayMaintenance), so one at a time would leave the last
// of them with an expired next slot for minutes.
const maintenanceLanes = 8

// RunMaintenance refreshes the practitioners whose maintenance is due (the
// day entering the window at local midnight, a next slot that time
// overtook) every interval until ctx ends.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultMaintenanceInterval
	}
	if old, err := s.st.FormerLayout(ctx); err == nil && old {
		s.log.Error("the availability read model in Redis has the layout of an earlier release: listings stay empty until `careslot rebuild availability` runs (docs/deploy.md, Upgrading)")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.MaintainOnce(ctx, s.now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("availability maintenance", "err", err)
		}
		if n == maintenanceBatch && err == nil {
			continue // more are due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// MaintainOnce refreshes up to a batch of practitioners due at now and says
// how many it took.
func (s *Service) MaintainOnce(ctx context.Context, now time.Time) (int, error) {
	due, err := s.st.DueBefore(ctx, now, maintenanceBatch)
	if err != nil {
		return 0, err
	}
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(maintenanceLanes)
	for _, pid := range due {
		g.Go(func() error {
			if _, err := s.Refresh(ctx, pid); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("refresh %s: %w", pid, err))
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // the lanes report into errs
	return len(due), errors.Join(errs...)
}
