package graph

import (
	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/graph/model"
)

func notification(m business.Message) *model.Notification {
	return &model.Notification{
		ID: m.ID, Kind: model.NotificationKind(m.Kind), Channel: model.NotificationChannel(m.Channel),
		Status: model.NotificationStatus(m.Status), AppointmentID: m.AppointmentID, DueAt: m.DueAt, SentAt: m.SentAt,
		Attempts: m.Attempts, Subject: gqlscalar.Optional(m.Subject), Body: gqlscalar.Optional(m.Body),
	}
}

func connection(p business.Page) *model.NotificationConnection {
	c := &model.NotificationConnection{Edges: make([]model.NotificationEdge, len(p.Messages)),
		PageInfo: &model.NotificationPageInfo{HasNextPage: p.HasNextPage}}
	for i, m := range p.Messages {
		c.Edges[i] = model.NotificationEdge{Cursor: p.Cursors[i], Node: notification(m)}
	}
	if n := len(p.Cursors); n > 0 {
		end := p.Cursors[n-1]
		c.PageInfo.EndCursor = &end
	}
	return c
}

func practiceConnection(p business.PracticePage) *model.PracticeNotificationConnection {
	c := &model.PracticeNotificationConnection{Edges: make([]model.PracticeNotificationEdge, len(p.Messages)),
		PageInfo: &model.NotificationPageInfo{HasNextPage: p.HasNextPage}}
	for i, m := range p.Messages {
		c.Edges[i] = model.PracticeNotificationEdge{Cursor: p.Cursors[i], Node: &model.PracticeNotification{
			ID: m.ID, Kind: model.PracticeNotificationKind(m.Kind), AppointmentID: m.AppointmentID,
			StartsAt: m.StartsAt, EndsAt: m.EndsAt, Reason: gqlscalar.Optional(m.Reason), CreatedAt: m.CreatedAt}}
	}
	if n := len(p.Cursors); n > 0 {
		end := p.Cursors[n-1]
		c.PageInfo.EndCursor = &end
	}
	return c
}
