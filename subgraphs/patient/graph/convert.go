package graph

import (
	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/subgraphs/patient/business"
	"github.com/careslot/careslot/subgraphs/patient/graph/model"
)

func patient(p business.Patient) *model.Patient {
	m := &model.Patient{
		ID: p.ID, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		BirthDate: gqlscalar.Date{Time: p.BirthDate}, Locale: p.Locale, Country: p.Country,
		NotificationPreferences: &model.NotificationPreferences{Email: p.NotifyEmail, Sms: p.NotifySMS},
		CreatedAt:               p.CreatedAt,
	}
	if p.Phone != "" {
		ph := p.Phone
		m.Phone = &ph
	}
	return m
}

func relative(r business.Relative) *model.Relative {
	return &model.Relative{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName, BirthDate: gqlscalar.Date{Time: r.BirthDate}}
}

func deskPatient(d business.DeskPatient) *model.DeskPatient {
	return &model.DeskPatient{ID: d.ID, PractitionerID: d.PractitionerID, FirstName: d.FirstName, LastName: d.LastName,
		BirthDate: gqlscalar.Date{Time: d.BirthDate}, Email: gqlscalar.Optional(d.Email), Phone: gqlscalar.Optional(d.Phone),
		Claimed: d.ClaimedBy != "", CreatedAt: d.CreatedAt}
}

func deskConnection(p business.DeskPage) *model.DeskPatientConnection {
	c := &model.DeskPatientConnection{Edges: make([]model.DeskPatientEdge, len(p.Patients)),
		PageInfo: &model.DeskPatientPageInfo{HasNextPage: p.HasNextPage}}
	for i, d := range p.Patients {
		c.Edges[i] = model.DeskPatientEdge{Cursor: p.Cursors[i], Node: deskPatient(d)}
	}
	if n := len(p.Cursors); n > 0 {
		end := p.Cursors[n-1]
		c.PageInfo.EndCursor = &end
	}
	return c
}
