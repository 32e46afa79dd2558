package graph

import (
	"context"
	"time"

	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/graph/model"
)

// The waitlist's mapping between the schema and the business layer.

var isoWeekday = map[model.Weekday]int{
	model.WeekdayMonday: 1, model.WeekdayTuesday: 2, model.WeekdayWednesday: 3, model.WeekdayThursday: 4,
	model.WeekdayFriday: 5, model.WeekdaySaturday: 6, model.WeekdaySunday: 7,
}

func isoWeekdays(days []model.Weekday) []int {
	out := make([]int, 0, len(days))
	for _, d := range days {
		out = append(out, isoWeekday[d])
	}
	return out
}

func minutes(t *gqlscalar.LocalTime) *int {
	if t == nil {
		return nil
	}
	m := t.Minutes
	return &m
}

// waitlistEntry maps an entry; its current appointment is read when it is
// still one the caller may see.
func (r *Resolver) waitlistEntry(ctx context.Context, it business.WaitlistItem) *model.WaitlistEntry {
	e := it.Entry
	m := &model.WaitlistEntry{ID: e.ID, Status: model.WaitlistEntryStatus(e.Status),
		Practitioner: &model.Practitioner{ID: e.PractitionerID}, AppointmentType: &model.AppointmentType{ID: e.AppointmentTypeID},
		LatestDate: gqlscalar.Date{Time: e.LatestDate}, EarliestTime: gqlscalar.LocalTime{Minutes: e.EarliestMinute},
		LatestTime: gqlscalar.LocalTime{Minutes: e.LatestMinute}, Weekdays: []model.Weekday{}, CreatedAt: e.CreatedAt}
	for _, d := range e.Weekdays {
		for wd, n := range isoWeekday {
			if n == d {
				m.Weekdays = append(m.Weekdays, wd)
			}
		}
	}
	if e.RelativeID != "" {
		m.Relative = &model.Relative{ID: e.RelativeID}
	}
	if e.CurrentAppointmentID != "" {
		if a, err := r.Service.Appointment(ctx, e.CurrentAppointmentID); err == nil {
			m.CurrentAppointment = appointment(a)
		}
	}
	if it.Offer != nil {
		m.Offer = slotOffer(*it.Offer, r.Service.Now())
	}
	return m
}

func slotOffer(o business.Offer, now time.Time) *model.SlotOffer {
	out := &model.SlotOffer{ID: o.ID, Status: model.SlotOfferStatus(o.Effective(now)), StartsAt: o.Hold.StartsAt,
		EndsAt: o.Hold.EndsAt, Location: &model.Location{ID: o.Hold.LocationID}}
	if o.Hold.HoldExpiresAt != nil {
		out.ExpiresAt = *o.Hold.HoldExpiresAt
	}
	return out
}
