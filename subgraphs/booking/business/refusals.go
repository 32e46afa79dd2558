package business

import (
	"errors"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The errors a refusal is to a client: a decision's reason (internal/slots),
// and the store's conflicts (the constraints that settled a race).

// refusal maps a decision's reason to the error a client sees.
func refusal(r slots.Reason) error {
	switch r {
	case "":
		return nil
	case slots.ReasonTaken:
		return slotTaken()
	}
	return &apperr.Error{Code: apperr.InvalidInput, Field: "startsAt", Reason: string(r), Message: reasonText(r)}
}

func slotTaken() error {
	return &apperr.Error{Code: apperr.SlotUnavailable, Reason: string(slots.ReasonTaken),
		Message: "this slot is no longer available"}
}

func offerUnavailable() error {
	return apperr.E(apperr.OfferUnavailable, "this offer is no longer available: it was accepted, declined or has expired")
}

// ReasonPatientOverlap is the reason of SLOT_UNAVAILABLE when the person
// attending already has a confirmed appointment at that time.
const ReasonPatientOverlap = "PATIENT_OVERLAP"

func patientOverlap() error {
	return &apperr.Error{Code: apperr.SlotUnavailable, Reason: ReasonPatientOverlap,
		Message: "you already have an appointment at that time"}
}

// conflict maps the store's overlap errors to SLOT_UNAVAILABLE, and a
// booking past the day's limit to BOOKING_LIMIT_REACHED.
func conflict(err error) error {
	switch {
	case errors.Is(err, store.ErrBookingLimit):
		return apperr.E(apperr.BookingLimitReached,
			"you have booked the most appointments with this practice for today; please call the practice")
	case errors.Is(err, store.ErrPersonOverlap):
		return patientOverlap()
	case errors.Is(err, store.ErrPractitionerOverlap):
		return slotTaken()
	}
	return err
}

func reasonText(r slots.Reason) string {
	switch r {
	case slots.ReasonOutsideOpeningHours:
		return "the practitioner does not receive at that time"
	case slots.ReasonTypeNotAllowed:
		return "this appointment type cannot be booked at that time"
	case slots.ReasonWrongStep:
		return "appointments do not start at that time"
	case slots.ReasonInAbsence:
		return "the practitioner is absent at that time"
	case slots.ReasonTooSoon:
		return "too close to the start: this appointment type needs more notice"
	case slots.ReasonBeyondHorizon:
		return "too far ahead: this appointment type cannot be booked that early"
	case slots.ReasonNotOnline:
		return "this appointment type cannot be booked online"
	case slots.ReasonNewPatient:
		return "this appointment type is not open to new patients"
	case slots.ReasonInPast:
		return "that time has passed"
	case slots.ReasonNotOnTick:
		return "a start must be on a 5-minute mark"
	}
	return "that start cannot be booked (" + string(r) + ")"
}
