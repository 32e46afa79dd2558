package outbox

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/events"
)

// Tx is the outbox side of a store's transaction (begun with InTx): a
// store's own Tx type embeds it, so that what the business layer does in a
// transaction — emit an event, claim a consumed one — commits with the
// change.
type Tx struct{ tx pgx.Tx }

// NewTx returns the outbox side of tx.
func NewTx(tx pgx.Tx) Tx { return Tx{tx: tx} }

// Emit writes ev to the outbox in this transaction (Add).
func (t Tx) Emit(ctx context.Context, topic, key string, ev events.Envelope) error {
	return Add(ctx, t.tx, topic, key, ev)
}

// Claim records that consumer applies event eventID in this transaction;
// false when it was applied before (a replay), so the caller changes nothing
// (ClaimEvent).
func (t Tx) Claim(ctx context.Context, consumer, eventID string) (bool, error) {
	return ClaimEvent(ctx, t.tx, consumer, eventID)
}
