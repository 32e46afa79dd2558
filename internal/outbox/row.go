package outbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/careslot/careslot/internal/events"
)

// columns are the outbox columns a writer fills (migrations/platform 1 and,
// for traceparent, 2), in the order of Row.Args: the one place the outbox
// row's format is written down. Add and every statement that writes its
// event inline (InsertFromSQL) use them.
var columns = []string{"id", "topic", "key", "type", "payload", "traceparent"}

// Row is an event as the outbox stores it.
type Row struct {
	ID, Topic, Key, Type string
	// Payload is the CloudEvents JSON envelope, byte for byte.
	Payload []byte
	// TraceParent is the W3C trace context of the change ("" untraced).
	TraceParent string
}

// NewRow is ev as the outbox row that publishes it on topic (unprefixed,
// e.g. events.BookingEvents) with record key key (the practitioner id, or
// the patient id on patient-events), carrying ctx's trace context.
func NewRow(ctx context.Context, topic, key string, ev events.Envelope) (Row, error) {
	if err := ev.Validate(); err != nil {
		return Row{}, fmt.Errorf("outbox: %w", err)
	}
	if topic == "" {
		return Row{}, fmt.Errorf("outbox: event %s has no topic", ev.ID)
	}
	payload, err := ev.Encode()
	if err != nil {
		return Row{}, fmt.Errorf("outbox: encode event %s: %w", ev.ID, err)
	}
	return Row{ID: ev.ID, Topic: topic, Key: key, Type: ev.Type, Payload: payload, TraceParent: TraceParent(ctx)}, nil
}

// Args are the row's values, in the order of the placeholders of
// InsertFromSQL (and of Add's statement).
func (r Row) Args() []any {
	return []any{r.ID, r.Topic, r.Key, r.Type, r.Payload, r.TraceParent}
}

// InsertFromSQL is the INSERT of one outbox row for each row of from — the
// name of a data-modifying CTE of the same statement, such as "ins" — with
// the row's values in the placeholders $first … $first+5 (pass Args there).
// It makes a statement that writes a change write its event too, only if it
// wrote the change, in one round trip:
//
//	WITH ins AS (INSERT INTO appointments … ON CONFLICT DO NOTHING RETURNING id),
//	     o AS (<InsertFromSQL("ins", 7)>)
//	SELECT count(*) FROM ins
//
// The text depends on from and first only, so a store builds it once.
func InsertFromSQL(from string, first int) string {
	return "INSERT INTO outbox (" + strings.Join(columns, ", ") + ") SELECT " + placeholders(first) + " FROM " + from
}

// insertSQL is Add's statement: one row in $1 … $6.
var insertSQL = "INSERT INTO outbox (" + strings.Join(columns, ", ") + ") VALUES (" + placeholders(1) + ")"

// placeholders is "$first, …" for every column.
func placeholders(first int) string {
	ps := make([]string, len(columns))
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(first+i)
	}
	return strings.Join(ps, ", ")
}
