package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A consumer is caught up once it has joined its group and processed every
// record its assigned partitions held when they were assigned: up to the
// log-end offsets it saw then. A service whose consumers have not caught up
// serves state older than what it has been told (ADR 0016), so it is not
// ready. Once caught up a consumer stays so: later lag is the normal
// propagation delay, not a start-up condition.

type topicPartition struct {
	topic     string
	partition int32
}

// catchUp follows one consumer's assignment and progress.
type catchUp struct {
	mu       sync.Mutex
	joined   bool
	assigned map[topicPartition]bool
	target   map[topicPartition]int64 // log end when assigned
	position map[topicPartition]int64 // next offset to process, a lower bound
	done     chan struct{}
	changed  chan struct{} // an assignment came: targets to observe
}

func newCatchUp() *catchUp {
	return &catchUp{
		assigned: map[topicPartition]bool{},
		target:   map[topicPartition]int64{},
		position: map[topicPartition]int64{},
		done:     make(chan struct{}),
		changed:  make(chan struct{}, 1),
	}
}

func (u *catchUp) assign(partitions map[string][]int32) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.joined = true // called on every join, even with nothing assigned
	for topic, ps := range partitions {
		for _, p := range ps {
			u.assigned[topicPartition{topic, p}] = true
		}
	}
	select {
	case u.changed <- struct{}{}:
	default:
	}
	u.checkLocked()
}

func (u *catchUp) revoke(partitions map[string][]int32) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for topic, ps := range partitions {
		for _, p := range ps {
			delete(u.assigned, topicPartition{topic, p})
		}
	}
	u.checkLocked()
}

// processed records that every record of tp before next has been handled.
func (u *catchUp) processed(tp topicPartition, next int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.position[tp] = max(u.position[tp], next)
	u.checkLocked()
}

// unobserved are the assigned partitions without a target yet.
func (u *catchUp) unobserved() []topicPartition {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []topicPartition
	for tp := range u.assigned {
		if _, ok := u.target[tp]; !ok {
			out = append(out, tp)
		}
	}
	return out
}

// observed sets the target (log end) and the start position of partitions.
func (u *catchUp) observed(targets, starts map[topicPartition]int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for tp, end := range targets {
		if _, ok := u.target[tp]; !ok {
			u.target[tp] = end
			u.position[tp] = max(u.position[tp], starts[tp])
		}
	}
	u.checkLocked()
}

func (u *catchUp) checkLocked() {
	select {
	case <-u.done:
		return
	default:
	}
	if !u.joined {
		return
	}
	for tp := range u.assigned {
		end, ok := u.target[tp]
		if !ok || u.position[tp] < end {
			return
		}
	}
	close(u.done)
}

// lagging describes what is left, for a readiness message.
func (u *catchUp) lagging() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.joined {
		return "not in its group yet"
	}
	var behind, unknown int
	var records int64
	for tp := range u.assigned {
		end, ok := u.target[tp]
		switch {
		case !ok:
			unknown++
		case u.position[tp] < end:
			behind++
			records += end - u.position[tp]
		}
	}
	return fmt.Sprintf("%d partitions behind (%d records), %d not measured yet", behind, records, unknown)
}

// observeTargets measures, for the assigned partitions that have no target
// yet, the log end (the target) and where consuming starts: the group's
// commit or, without one, where a new group starts (the log start, or the
// first record at StartAt), never below the log start.
func (c *Consumer) observeTargets(ctx context.Context, adm *kadm.Client) error {
	tps := c.caughtUp.unobserved()
	if len(tps) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var topics []string
	for _, tp := range tps {
		if !seen[tp.topic] {
			seen[tp.topic] = true
			topics = append(topics, tp.topic)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	logStarts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = logStarts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	commits, err := adm.FetchOffsets(ctx, c.cfg.Group)
	if err == nil {
		err = commits.Error()
	}
	if err != nil {
		return fmt.Errorf("fetch committed offsets: %w", err)
	}
	var afterStart kadm.ListedOffsets
	if !c.cfg.StartAt.IsZero() {
		afterStart, err = adm.ListOffsetsAfterMilli(ctx, c.cfg.StartAt.UnixMilli(), topics...)
		if err == nil {
			err = afterStart.Error()
		}
		if err != nil {
			return fmt.Errorf("list offsets after %s: %w", c.cfg.StartAt, err)
		}
	}
	targets := make(map[topicPartition]int64, len(tps))
	starts := make(map[topicPartition]int64, len(tps))
	for _, tp := range tps {
		end, ok := ends.Lookup(tp.topic, tp.partition)
		if !ok {
			return fmt.Errorf("no end offset for %s/%d", tp.topic, tp.partition)
		}
		targets[tp] = end.Offset
		var start int64
		if ls, ok := logStarts.Lookup(tp.topic, tp.partition); ok {
			start = ls.Offset
		}
		if cm, ok := commits.Lookup(tp.topic, tp.partition); ok && cm.At >= 0 {
			start = max(start, cm.At)
		} else if as, ok := afterStart.Lookup(tp.topic, tp.partition); ok && as.Offset >= 0 {
			start = max(start, as.Offset)
		}
		starts[tp] = start
	}
	c.caughtUp.observed(targets, starts)
	return nil
}

// trackCatchUp observes the targets of each new assignment until the
// consumer caught up or ctx ends.
func (c *Consumer) trackCatchUp(ctx context.Context, cl *kgo.Client) {
	adm := kadm.NewClient(cl)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.caughtUp.done:
			return
		case <-c.caughtUp.changed:
		}
		for attempt := 0; ; attempt++ {
			err := c.observeTargets(ctx, adm)
			if err == nil || ctx.Err() != nil {
				break
			}
			wait := backoff(attempt, 2*time.Second)
			c.log.Warn("measuring the log end to catch up to", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// CaughtUp is closed once the consumer has joined its group and processed
// every record its partitions held when they were assigned to it.
func (c *Consumer) CaughtUp() <-chan struct{} { return c.caughtUp.done }

// CaughtUp returns nil once every consumer has caught up, else an error
// naming the first group that has not (a readiness check).
func CaughtUp(consumers ...*Consumer) error {
	for _, c := range consumers {
		select {
		case <-c.CaughtUp():
		default:
			return fmt.Errorf("consumer %s catching up: %s", c.cfg.Group, c.caughtUp.lagging())
		}
	}
	return nil
}
