// Package events defines Careslot's event envelope (CloudEvents 1.0, JSON
// format) and the Kafka topics events are published on.
//
// An event's type is "careslot.<service>.<Name>.v<N>", for example
// "careslot.booking.AppointmentBooked.v1"; see [TypeName].
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/google/uuid"
)

// Topic names (without any per-environment or per-test prefix; see
// kafka.Topic). Events are keyed by practitioner id, except patient-events
// which is keyed by patient id, so each entity's events stay in order.
const (
	PractitionerEvents = "practitioner-events"
	PatientEvents      = "patient-events"
	BookingEvents      = "booking-events"
	AvailabilityEvents = "availability-events"
)

// AllTopics lists every Careslot topic. Treat it as read-only.
var AllTopics = []string{PractitionerEvents, PatientEvents, BookingEvents, AvailabilityEvents}

const (
	// SpecVersion is the CloudEvents specification version of every envelope.
	SpecVersion = "1.0"
	// ContentTypeJSON is the datacontenttype of every envelope New builds.
	ContentTypeJSON = "application/json"
)

// Envelope is a CloudEvents 1.0 event in the JSON event format.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`

	// checked is the Data that New produced or validated and compacted:
	// while Data is still that slice, Encode writes it as it is instead of
	// scanning it again (for a practice snapshot, most of the cost of an
	// event).
	checked json.RawMessage
}

// TypeName returns the event type "careslot.<service>.<name>.v<version>",
// e.g. TypeName("booking", "AppointmentBooked", 1).
func TypeName(service, name string, version int) string {
	return fmt.Sprintf("careslot.%s.%s.v%d", service, name, version)
}

// Source returns the conventional source attribute for a service,
// "/careslot/<service>".
func Source(service string) string { return "/careslot/" + service }

// New builds an envelope: a fresh UUIDv7 id, the current time in UTC, and
// data marshalled to JSON (data may be nil for an event without data, or a
// json.RawMessage / []byte holding JSON already).
func New(source, eventType, subject string, data any) (Envelope, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Envelope{}, fmt.Errorf("events: new id: %w", err)
	}
	e := Envelope{
		SpecVersion: SpecVersion,
		ID:          id.String(),
		Source:      source,
		Type:        eventType,
		Time:        time.Now().UTC(),
		Subject:     subject,
	}
	if data != nil {
		var raw []byte
		switch d := data.(type) {
		case json.RawMessage:
			raw, err = compact(d)
		case []byte:
			raw, err = compact(d)
		default:
			// json.Marshal's output is valid and compact already.
			raw, err = json.Marshal(data)
		}
		if err != nil {
			return Envelope{}, fmt.Errorf("events: %s data: %w", eventType, err)
		}
		e.Data = json.RawMessage(raw)
		e.checked = e.Data
		e.DataContentType = ContentTypeJSON
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// Validate checks the attributes CloudEvents requires (specversion, id,
// source, type) and that Careslot's types are versioned.
func (e Envelope) Validate() error {
	var errs []error
	if e.SpecVersion != SpecVersion {
		errs = append(errs, fmt.Errorf("specversion %q, want %q", e.SpecVersion, SpecVersion))
	}
	if e.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if e.Source == "" {
		errs = append(errs, errors.New("source is required"))
	}
	if e.Type == "" {
		errs = append(errs, errors.New("type is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("events: invalid envelope: %w", err)
	}
	return nil
}

// compact returns raw without insignificant space, or an error if it is not
// valid JSON.
func compact(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return b.Bytes(), nil
}

// Encode returns the envelope in the CloudEvents JSON format.
func (e Envelope) Encode() ([]byte, error) {
	data := []byte(e.Data)
	if len(data) > 0 && !e.dataChecked() {
		var err error
		if data, err = compact(data); err != nil {
			return nil, fmt.Errorf("events: encode %s: data: %w", e.Type, err)
		}
	}
	head := e
	head.Data, head.checked = nil, nil // omitted: appended below as it is
	out, err := json.Marshal(head)
	if err != nil || len(data) == 0 {
		return out, err
	}
	out = slices.Grow(out[:len(out)-1], len(`,"data":}`)+len(data))
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

// dataChecked reports whether Data is still the slice New checked.
func (e Envelope) dataChecked() bool {
	return len(e.Data) == len(e.checked) && len(e.Data) > 0 && &e.Data[0] == &e.checked[0]
}

// Decode parses a CloudEvents JSON envelope and validates its required
// attributes.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := fastjson.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("events: decode envelope: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	if len(e.Data) > 0 && e.DataContentType != "" && !isJSON(e.DataContentType) {
		return Envelope{}, fmt.Errorf("events: unsupported datacontenttype %q", e.DataContentType)
	}
	return e, nil
}

// ErrMalformed marks an event that is not what its type promises: data that
// does not decode, an id it must carry missing. Retrying cannot cure it, so
// a consumer dead-letters it (kafka.IsPermanent) rather than retry for ever.
var ErrMalformed = errors.New("malformed event")

// Malformed returns an ErrMalformed error naming ev and why (cause may be
// nil: the data decoded but lacks what the type requires).
func Malformed(ev Envelope, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s %s lacks a required field", ErrMalformed, ev.Type, ev.ID)
	}
	return fmt.Errorf("%w: %s %s: %w", ErrMalformed, ev.Type, ev.ID, cause)
}

// DataAs unmarshals the event's data into v.
func (e Envelope) DataAs(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("events: %s %s has no data", e.Type, e.ID)
	}
	if err := fastjson.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("events: unmarshal %s data: %w", e.Type, err)
	}
	return nil
}

func isJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "application/json" || ct == "text/json" || strings.HasSuffix(ct, "+json")
}
