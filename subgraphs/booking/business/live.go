package business

import (
	"context"
	"encoding/json"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// AgendaGroup is the consumer group (one for all instances) that turns
// booking-events into agenda changes on Redis.
const AgendaGroup = "booking.agenda"

// Agenda change kinds.
const (
	ChangeBooked      = "BOOKED"
	ChangeRescheduled = "RESCHEDULED"
	ChangeCancelled   = "CANCELLED"
	ChangeNoShow      = "NO_SHOW"
)

// agendaBuffer is how many changes a slow agenda subscriber may lag behind
// before the oldest are dropped.
const agendaBuffer = 64

// changeOf maps a booking event type to the agenda change it is ("" for
// holds, which are not in the agenda).
func changeOf(eventType string) string {
	switch eventType {
	case eventdata.AppointmentBooked:
		return ChangeBooked
	case eventdata.AppointmentRescheduled:
		return ChangeRescheduled
	case eventdata.AppointmentCancelled:
		return ChangeCancelled
	case eventdata.AppointmentNoShow:
		return ChangeNoShow
	}
	return ""
}

// AgendaChange is one message of a practitioner's agenda channel.
type AgendaChange struct {
	Change      string            `json:"change"`
	Appointment store.Appointment `json:"appointment"`
}

// Live streams agenda changes (design §6): the booking-events consumer of
// group AgendaGroup publishes each change on the practitioner's Redis
// channel {prefix}agenda-changes:{pid}, and every instance's subscribers
// listen there through the instance's hub.
type Live struct {
	svc    *Service
	rdb    redis.UniversalClient
	prefix string
	hub    *livehub.Hub
}

// NewLive returns the agenda stream over rdb (keys and channels under prefix).
func NewLive(svc *Service, rdb redis.UniversalClient, prefix string, hub *livehub.Hub) *Live {
	return &Live{svc: svc, rdb: rdb, prefix: prefix, hub: hub}
}

// Channel is the practitioner's agenda channel.
func (l *Live) Channel(practitionerID string) string {
	return l.prefix + "agenda-changes:" + practitionerID
}

// Stats are the hub's counters.
func (l *Live) Stats() livehub.Stats { return l.hub.Stats() }

// PublishEvent is the handler of the AgendaGroup consumer: an appointment
// event becomes a change on the practitioner's channel, carrying the event's
// state of the appointment and the row's other fields (names, note,
// creation time).
func (l *Live) PublishEvent(ctx context.Context, ev events.Envelope) error {
	change := changeOf(ev.Type)
	if change == "" {
		return nil
	}
	var a eventdata.Appointment
	if err := ev.DataAs(&a); err != nil || !uid.Valid(a.ID) || a.PractitionerID == "" {
		return events.Malformed(ev, err)
	}
	rows, err := l.svc.store.ByIDs(ctx, []string{a.ID})
	if err != nil {
		return err
	}
	var row store.Appointment
	if len(rows) == 1 {
		row = rows[0]
	}
	row.ID, row.PractitionerID, row.Country, row.PatientID, row.RelativeID = a.ID, a.PractitionerID, a.Country, a.PatientID, a.RelativeID
	row.AppointmentTypeID, row.LocationID, row.Status, row.Version = a.AppointmentTypeID, a.LocationID, a.Status, a.Version
	row.StartsAt, row.EndsAt, row.BlockedFrom, row.BlockedUntil = a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil
	row.CancelledBy, row.CancellationReason = a.CancelledBy, a.CancellationReason
	if row.CreatedAt.IsZero() {
		row.CreatedAt = ev.Time
	}
	b, err := json.Marshal(AgendaChange{Change: change, Appointment: row})
	if err != nil {
		return err
	}
	return l.rdb.Publish(ctx, l.Channel(a.PractitionerID), b).Err()
}

// AgendaWatch follows a practitioner's agenda changes.
type AgendaWatch struct {
	sub *livehub.Subscription
	log func(msg string, args ...any)
}

// Watch starts following a practitioner's agenda: for the practitioner or a
// secretary acting for them.
func (l *Live) Watch(ctx context.Context, practitionerID string) (*AgendaWatch, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, err
	}
	if caller.Role == auth.RolePatient || !auth.CanActForPractitioner(caller, practitionerID) {
		return nil, apperr.Forbiddenf("you do not act for practitioner %q", practitionerID)
	}
	if !uid.Valid(practitionerID) {
		return nil, apperr.NotFoundf("practitioner %q not found", practitionerID)
	}
	sub, err := l.hub.Subscribe(ctx, l.Channel(practitionerID), agendaBuffer)
	if err != nil {
		return nil, err
	}
	return &AgendaWatch{sub: sub, log: l.svc.log.Warn}, nil
}

// Next waits for the next change; it returns ctx's error when ctx ends.
func (w *AgendaWatch) Next(ctx context.Context) (AgendaChange, error) {
	for {
		select {
		case <-ctx.Done():
			return AgendaChange{}, ctx.Err()
		case msg := <-w.sub.C:
			if msg == nil {
				continue // a resync: nothing to recompute, changes are events
			}
			var c AgendaChange
			if err := json.Unmarshal(msg, &c); err != nil {
				w.log("agenda change: undecodable message", "err", err)
				continue
			}
			return c, nil
		}
	}
}

// Close stops following.
func (w *AgendaWatch) Close() { w.sub.Close() }

// ErrNoLive is what agendaChanged answers when the service runs without Redis.
var ErrNoLive = apperr.E(apperr.Internal, "agenda changes are not available: the booking service runs without Redis")
