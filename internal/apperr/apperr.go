// Package apperr defines the typed domain errors every subgraph returns. The
// GraphQL edge maps them once to extensions.code (see internal/gqlserver), so a
// frontend can act on a stable code instead of parsing messages.
package apperr

import (
	"errors"
	"fmt"
)

// Code is the machine-readable error class a client acts on.
type Code string

const (
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	NotFound           Code = "NOT_FOUND"
	InvalidInput       Code = "INVALID_INPUT"
	Conflict           Code = "CONFLICT"
	SlotUnavailable    Code = "SLOT_UNAVAILABLE"
	CancellationClosed Code = "CANCELLATION_CLOSED"
	RateLimited        Code = "RATE_LIMITED"
	// Domain limits against slot hoarding and sign-up floods (per country,
	// internal/countries): each its own code, so a client can say which.
	HoldLimitReached         Code = "HOLD_LIMIT_REACHED"
	BookingLimitReached      Code = "BOOKING_LIMIT_REACHED"
	RegistrationLimitReached Code = "REGISTRATION_LIMIT_REACHED"
	// BookingRestricted: the practice's no-show policy stops the account
	// booking it online until extensions.until (the desk still can).
	BookingRestricted Code = "BOOKING_RESTRICTED"
	// OfferUnavailable: an earlier-slot offer that was already taken,
	// declined, withdrawn or has expired.
	OfferUnavailable Code = "OFFER_UNAVAILABLE"
	Internal         Code = "INTERNAL"
)

// Error is a domain error: a code, a human message, and optionally the input
// field at fault and a finer reason (e.g. OUTSIDE_OPENING_HOURS).
type Error struct {
	Code    Code
	Message string
	Field   string
	Reason  string
	// Extensions are further facts a client acts on (e.g. until when a
	// restriction lasts), added to the GraphQL error's extensions beside
	// code, field and reason (which they never replace).
	Extensions map[string]any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is lets errors.Is(err, apperr.E(code, "")) match on the code alone.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// E builds an error of the given code.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input on one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing entity.
func NotFoundf(format string, args ...any) *Error { return E(NotFound, format, args...) }

// Forbiddenf reports an authenticated caller acting outside their rights.
func Forbiddenf(format string, args ...any) *Error { return E(Forbidden, format, args...) }

// CodeOf returns the code of err, or Internal for anything untyped.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the domain error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
