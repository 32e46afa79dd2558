// Package sender delivers rendered messages: by email through Amazon SES v2
// and by SMS through Amazon SNS when AWS settings exist, and otherwise to the
// log (the notification store keeps every message either way, where the
// patient reads it).
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Channels.
const (
	Email = "EMAIL"
	SMS   = "SMS"
)

// Attachment is a file sent with an email.
type Attachment struct {
	Filename    string
	ContentType string // e.g. "text/calendar; charset=utf-8; method=PUBLISH"
	Data        []byte
}

// Message is one rendered message to one recipient.
type Message struct {
	// ID is the notification's id (used as an idempotency hint where the
	// provider has one, and in logs).
	ID      string
	Channel string // Email or SMS
	To      string // an email address or an E.164 phone number
	Subject string // email only
	Body    string // plain text
	// Locale is the BCP 47 tag the message was written in (Content-Language).
	Locale      string
	Attachments []Attachment // email only
}

// Sender hands a message to a provider. An error means it was not sent and
// may be retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Func adapts a function to Sender.
type Func func(ctx context.Context, m Message) error

// Send calls f.
func (f Func) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// Log is the sender used without AWS settings: it writes each message to the
// log. The notification store records every message (subject, body, status),
// which is where the patient reads it.
type Log struct {
	Logger *slog.Logger
}

// Send logs the message.
func (l Log) Send(ctx context.Context, m Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	attachments := make([]string, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		attachments = append(attachments, a.Filename)
	}
	logger.InfoContext(ctx, "notification sent (log sender)", "notification_id", m.ID, "channel", m.Channel,
		"to", m.To, "subject", m.Subject, "body", m.Body, "attachments", attachments)
	return nil
}

// ByChannel sends emails with EmailSender and SMS with SMSSender; a channel
// without a sender is an error.
type ByChannel struct {
	EmailSender Sender
	SMSSender   Sender
}

// Send dispatches on the message's channel.
func (b ByChannel) Send(ctx context.Context, m Message) error {
	var s Sender
	switch m.Channel {
	case Email:
		s = b.EmailSender
	case SMS:
		s = b.SMSSender
	default:
		return fmt.Errorf("sender: unknown channel %q", m.Channel)
	}
	if s == nil {
		return errors.New("sender: no sender for channel " + m.Channel)
	}
	return s.Send(ctx, m)
}
