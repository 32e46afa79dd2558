package sender

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// AWSSettings configure the SES (email) and SNS (SMS) senders.
type AWSSettings struct {
	// Region, e.g. eu-west-3. Credentials come from the default chain
	// (environment, shared files, IRSA web identity, instance role).
	Region string
	// From is the verified SES sender, e.g. "Careslot <no-reply@example.org>".
	From string
	// ConfigurationSet is an optional SES configuration set.
	ConfigurationSet string
	// SMSSenderID is an optional alphanumeric SMS sender id (where allowed).
	SMSSenderID string
	// Endpoint overrides both services' endpoint (tests, local emulators).
	Endpoint string
}

// NewAWS returns a sender that sends emails through SES v2 and SMS through
// SNS, with the default credential chain.
func NewAWS(ctx context.Context, s AWSSettings) (Sender, error) {
	if s.Region == "" || s.From == "" {
		return nil, errors.New("sender: AWS needs a region and a From address")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(s.Region))
	if err != nil {
		return nil, fmt.Errorf("sender: AWS configuration: %w", err)
	}
	return NewAWSFromConfig(cfg, s), nil
}

// NewAWSFromConfig is NewAWS with a ready aws.Config.
func NewAWSFromConfig(cfg aws.Config, s AWSSettings) Sender {
	var ep *string
	if s.Endpoint != "" {
		ep = aws.String(s.Endpoint)
	}
	return ByChannel{
		EmailSender: &SES{Client: sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.BaseEndpoint = ep }),
			From: s.From, ConfigurationSet: s.ConfigurationSet},
		SMSSender: &SNS{Client: sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = ep }), SenderID: s.SMSSenderID},
	}
}

// SESAPI is the part of the SES v2 client the sender uses.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends emails through Amazon SES v2, as raw MIME so that attachments
// (the iCalendar file) travel with them.
type SES struct {
	Client           SESAPI
	From             string
	ConfigurationSet string
}

// Send sends one email.
func (s *SES) Send(ctx context.Context, m Message) error {
	raw, err := MIME(s.From, m)
	if err != nil {
		return err
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{m.To}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if _, err := s.Client.SendEmail(ctx, in); err != nil {
		return fmt.Errorf("ses: send %s: %w", m.ID, err)
	}
	return nil
}

// SNSAPI is the part of the SNS client the sender uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS sends SMS through Amazon SNS (transactional).
type SNS struct {
	Client   SNSAPI
	SenderID string
}

// Send sends one SMS.
func (s *SNS) Send(ctx context.Context, m Message) error {
	attrs := map[string]snstypes.MessageAttributeValue{
		"AWS.SNS.SMS.SMSType": {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
	}
	if s.SenderID != "" {
		attrs["AWS.SNS.SMS.SenderID"] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s.SenderID)}
	}
	_, err := s.Client.Publish(ctx, &sns.PublishInput{PhoneNumber: aws.String(m.To), Message: aws.String(m.Body), MessageAttributes: attrs})
	if err != nil {
		return fmt.Errorf("sns: send %s: %w", m.ID, err)
	}
	return nil
}

// MIME builds a message/rfc822 email: a text/plain body and, when there are
// attachments, a multipart/mixed with each attached (base64).
func MIME(from string, m Message) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", m.To)
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("MIME-Version", "1.0")
	if m.Locale != "" {
		h("Content-Language", m.Locale)
	}
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if len(m.Attachments) == 0 {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n" + body + "\r\n")
		return b.Bytes(), nil
	}
	w := multipart.NewWriter(&b)
	h("Content-Type", `multipart/mixed; boundary="`+w.Boundary()+`"`)
	b.WriteString("\r\n")
	part, err := w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"8bit"},
	})
	if err != nil {
		return nil, err
	}
	if _, err := part.Write([]byte(body + "\r\n")); err != nil {
		return nil, err
	}
	for _, a := range m.Attachments {
		part, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {a.ContentType},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename})},
		})
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			_, _ = part.Write([]byte(enc[:76] + "\r\n"))
			enc = enc[76:]
		}
		_, _ = part.Write([]byte(enc + "\r\n"))
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
