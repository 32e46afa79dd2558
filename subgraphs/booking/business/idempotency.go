package business

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Idempotency keys: a booking or a move names a key of the caller's; the key
// remembers the request (its operation and a hash of its content) and the
// answer, written with the change itself. The same request again gets that
// answer; another request under the same key is INVALID_INPUT.

const (
	opBook        = "book"
	opReschedule  = "reschedule"
	opAcceptOffer = "accept-offer"
)

// answer is what an idempotency key remembers.
type answer struct {
	Appointment store.Appointment  `json:"appointment"`
	Previous    *store.Appointment `json:"previous,omitempty"`
}

// errReplayed aborts a transaction whose idempotency key another request
// committed first; the caller then returns that request's answer.
var errReplayed = errors.New("idempotency key already used")

// replay returns the stored answer of an idempotency key, if the key was
// used: INVALID_INPUT when it was used for a different request.
func (s *Service) replay(ctx context.Context, me, key, op string, hash []byte) (answer, bool, error) {
	k, err := s.store.LookupKey(ctx, me, key)
	if errors.Is(err, store.ErrNotFound) {
		return answer{}, false, nil
	}
	if err != nil {
		return answer{}, false, err
	}
	a, err := storedAnswer(k, op, hash)
	return a, err == nil, err
}

// storedAnswer is the answer a used key gives a request: INVALID_INPUT when
// it was used for a different request.
func storedAnswer(k store.Key, op string, hash []byte) (answer, error) {
	if k.Operation != op || !bytes.Equal(k.RequestHash, hash) {
		return answer{}, apperr.Invalid("idempotencyKey", "was already used for a different request")
	}
	var a answer
	if err := json.Unmarshal(k.Response, &a); err != nil {
		return answer{}, err
	}
	return a, nil
}

// remember stores the answer of the request that claimed key.
func (s *Service) remember(ctx context.Context, tx *store.Tx, me, key string, a answer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.SaveResponse(ctx, me, key, b)
}

// requestHash identifies a request's content for its idempotency key.
func requestHash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func idempotencyKey(k string) (string, error) {
	k = strings.TrimSpace(k)
	if k == "" || len(k) > MaxKeyLength {
		return "", apperr.Invalid("idempotencyKey", "must be 1 to %d characters", MaxKeyLength)
	}
	return k, nil
}
