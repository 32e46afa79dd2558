package graph

import (
	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/graph/model"
)

func appointment(a business.Appointment) *model.Appointment {
	m := &model.Appointment{
		ID: a.ID, Status: model.AppointmentStatus(a.Status), StartsAt: a.StartsAt, EndsAt: a.EndsAt,
		Practitioner:       &model.Practitioner{ID: a.PractitionerID},
		Location:           &model.Location{ID: a.LocationID},
		AppointmentType:    &model.AppointmentType{ID: a.AppointmentTypeID},
		PatientName:        gqlscalar.Optional(a.PatientName),
		PatientPhone:       gqlscalar.Optional(a.PatientPhone),
		Note:               gqlscalar.Optional(a.Note),
		CancelledAt:        a.CancelledAt,
		CancellationReason: gqlscalar.Optional(a.CancellationReason),
		CreatedAt:          a.CreatedAt,
	}
	if a.RelativeID != "" {
		m.Relative = &model.Relative{ID: a.RelativeID}
	}
	if a.DeskPatient {
		m.DeskPatient = &model.DeskPatient{ID: a.PatientID}
	}
	if a.CancelledBy != "" {
		by := model.CancelledBy(a.CancelledBy)
		m.CancelledBy = &by
	}
	if a.SeriesID != "" {
		m.Series = &model.AppointmentSeries{ID: a.SeriesID, Index: a.SeriesIndex, Count: a.SeriesCount}
	}
	return m
}

func appointments(rows []business.Appointment) []model.Appointment {
	out := make([]model.Appointment, len(rows))
	for i, a := range rows {
		out[i] = *appointment(a)
	}
	return out
}

func restrictions(rows []business.Restriction) []model.BookingRestriction {
	out := make([]model.BookingRestriction, len(rows))
	for i, x := range rows {
		out[i] = model.BookingRestriction{Practitioner: &model.Practitioner{ID: x.PractitionerID}, PatientID: x.PatientID,
			PatientName: gqlscalar.Optional(x.PatientName), NoShows: x.NoShows, Since: x.Since, Until: x.Until}
	}
	return out
}

func previous(a business.Appointment) *model.PreviousAppointment {
	return &model.PreviousAppointment{ID: a.ID, Status: model.AppointmentStatus(a.Status), StartsAt: a.StartsAt, EndsAt: a.EndsAt}
}

func hold(a business.Appointment) *model.Hold {
	h := &model.Hold{ID: a.ID, StartsAt: a.StartsAt, EndsAt: a.EndsAt}
	if a.HoldExpiresAt != nil {
		h.ExpiresAt = *a.HoldExpiresAt
	}
	return h
}

func connection(p business.Page) *model.AppointmentConnection {
	c := &model.AppointmentConnection{Edges: make([]model.AppointmentEdge, len(p.Appointments)),
		PageInfo: &model.AppointmentPageInfo{HasNextPage: p.HasNextPage}}
	for i, a := range p.Appointments {
		c.Edges[i] = model.AppointmentEdge{Cursor: p.Cursors[i], Node: appointment(a)}
	}
	if n := len(p.Cursors); n > 0 {
		end := p.Cursors[n-1]
		c.PageInfo.EndCursor = &end
	}
	return c
}
