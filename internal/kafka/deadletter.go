package kafka

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
)

// A dead letter is an event the consumer gave up on: it cannot be decoded, or
// its handler said that retrying cannot help (Permanent) and was tried
// MaxPermanentAttempts times. It is written to its topic's DeadLetterTopic,
// as it was (key, value, headers) plus the headers below, before its offset
// is committed, so nothing accepted is lost and the partition moves on
// (ADR 0024). Any other error is transient and retried until it succeeds.

// Headers a dead letter carries besides the original record's.
const (
	HeaderDLQReason    = "careslot-dlq-reason"    // the error
	HeaderDLQGroup     = "careslot-dlq-group"     // the consumer group that gave up
	HeaderDLQTopic     = "careslot-dlq-topic"     // where the record was read
	HeaderDLQPartition = "careslot-dlq-partition" // its partition, decimal
	HeaderDLQOffset    = "careslot-dlq-offset"    // its offset, decimal
	HeaderDLQAttempts  = "careslot-dlq-attempts"  // handler runs (0: undecodable)
	HeaderDLQAt        = "careslot-dlq-at"        // when, RFC 3339 UTC
)

// DefaultMaxPermanentAttempts is how many times a handler that returns a
// Permanent error runs before its event is dead-lettered.
const DefaultMaxPermanentAttempts = 3

// DeadLetterTopic returns the dead-letter topic of topic (a full, prefixed
// name): "<topic>.dlq".
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// permanentError marks an error retrying cannot cure.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying the event cannot cure (the event
// itself is wrong: data that does not decode, an id that is not one): the
// consumer tries it a few times, then dead-letters the event and moves on.
// Permanent(nil) is nil. Do not mark an error of a dependency (a database,
// a broker): those are retried until they pass.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent or is an events.ErrMalformed (what a handler returns for an
// event it cannot read: events.Malformed).
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, events.ErrMalformed)
}

// deadLetterer writes a consumer's dead letters.
type deadLetterer struct {
	cl      *kgo.Client
	group   string
	ensured sync.Map // dead-letter topic → struct{}: created (or found) already
}

// write puts r in its dead-letter topic, retrying with backoff until the
// broker took it; false when ctx ended first (the record is then neither
// dead-lettered nor committed, and comes again).
func (d *deadLetterer) write(ctx context.Context, c *Consumer, r *kgo.Record, reason error, attempts int) bool {
	dlq := DeadLetterTopic(r.Topic)
	rec := &kgo.Record{
		Topic: dlq,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
			kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason.Error())},
			kgo.RecordHeader{Key: HeaderDLQGroup, Value: []byte(d.group)},
			kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
			kgo.RecordHeader{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(attempts))},
			kgo.RecordHeader{Key: HeaderDLQAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		),
	}
	for attempt := 0; ; attempt++ {
		err := d.produce(ctx, dlq, rec)
		if err == nil {
			deadLetteredTotal.WithLabelValues(d.group, r.Topic).Inc()
			c.log.Error("event dead-lettered", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
				"key", string(r.Key), "dead_letter_topic", dlq, "attempts", attempts, "err", reason)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait := backoff(attempt, c.cfg.MaxRetryBackoff)
		c.log.Warn("writing a dead letter failed, retrying", "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "dead_letter_topic", dlq, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// produce creates the dead-letter topic once (a cluster need not allow
// automatic creation), then writes rec, giving up after a while so that
// write's loop logs and backs off rather than hangs.
func (d *deadLetterer) produce(ctx context.Context, dlq string, rec *kgo.Record) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, ok := d.ensured.Load(dlq); !ok {
		if err := createTopics(ctx, kadm.NewClient(d.cl), []string{dlq}); err != nil {
			return err
		}
		d.ensured.Store(dlq, struct{}{})
	}
	// A copy: a failed produce leaves its record's fields set.
	r := *rec
	return d.cl.ProduceSync(ctx, &r).FirstErr()
}
