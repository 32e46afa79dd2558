package sender_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/careslot/careslot/subgraphs/notification/sender"
)

var confirmation = sender.Message{
	ID: "n1", Channel: sender.Email, To: "camille@example.fr", Locale: "fr-FR",
	Subject: "Rendez-vous confirmé : Dr Claire Dubois", Body: "Bonjour Camille,\nVotre rendez-vous est confirmé.",
	Attachments: []sender.Attachment{{Filename: "appointment.ics", ContentType: "text/calendar; charset=utf-8; method=PUBLISH",
		Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}},
}

func TestMIME(t *testing.T) {
	t.Parallel()
	raw, err := sender.MIME("Careslot <no-reply@example.org>", confirmation)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != confirmation.Subject || msg.Header.Get("To") != confirmation.To || msg.Header.Get("Content-Language") != "fr-FR" {
		t.Fatalf("headers = %v (subject %q)", msg.Header, subject)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("content type %s", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(text)
	if !strings.Contains(string(b), "Bonjour Camille,\r\nVotre rendez-vous est confirmé.") {
		t.Fatalf("text part = %q", b)
	}
	att, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if att.FileName() != "appointment.ics" || !strings.HasPrefix(att.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("attachment header = %v", att.Header)
	}
	enc, _ := io.ReadAll(att)
	dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(enc), "\r\n", ""))
	if err != nil || string(dec) != string(confirmation.Attachments[0].Data) {
		t.Fatalf("attachment = %q, %v", dec, err)
	}

	plain, err := sender.MIME("no-reply@example.org", sender.Message{To: "a@example.org", Subject: "Hi", Body: "text"})
	if err != nil || !strings.Contains(string(plain), "Content-Type: text/plain; charset=utf-8\r\n") || strings.Contains(string(plain), "multipart") {
		t.Fatalf("plain = %s, %v", plain, err)
	}
}

// The SES v2 and SNS senders call the real AWS SDK clients against a fake
// endpoint: SendEmail gets the raw MIME, Publish the phone number and text.
func TestAWSSenders(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sesBody map[string]any
	var snsForm url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/v2/email/outbound-emails":
			_ = json.Unmarshal(body, &sesBody)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"MessageId":"ses-1"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/":
			snsForm, _ = url.ParseQuery(string(body))
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>sns-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`)
		default:
			http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-3", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient: srv.Client()}
	s := sender.NewAWSFromConfig(cfg, sender.AWSSettings{Region: "eu-west-3", From: "Careslot <no-reply@example.org>",
		Endpoint: srv.URL, SMSSenderID: "Careslot"})

	if err := s.Send(context.Background(), confirmation); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	content, _ := sesBody["Content"].(map[string]any)
	raw, _ := content["Raw"].(map[string]any)
	data, _ := base64.StdEncoding.DecodeString(raw["Data"].(string))
	dest, _ := sesBody["Destination"].(map[string]any)
	mu.Unlock()
	if !strings.Contains(string(data), "appointment.ics") || sesBody["FromEmailAddress"] != "Careslot <no-reply@example.org>" ||
		dest["ToAddresses"].([]any)[0] != "camille@example.fr" {
		t.Fatalf("SES request = %v", sesBody)
	}

	if err := s.Send(context.Background(), sender.Message{ID: "n2", Channel: sender.SMS, To: "+33612345678", Body: "Careslot : RDV"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if snsForm.Get("Action") != "Publish" || snsForm.Get("PhoneNumber") != "+33612345678" || snsForm.Get("Message") != "Careslot : RDV" {
		t.Fatalf("SNS request = %v", snsForm)
	}
	if !strings.Contains(snsForm.Encode(), "Transactional") {
		t.Errorf("SMS type not set: %v", snsForm)
	}

	if err := s.Send(context.Background(), sender.Message{Channel: "PIGEON"}); err == nil {
		t.Error("an unknown channel was accepted")
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := sender.Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	if err := l.Send(context.Background(), confirmation); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"to":"camille@example.fr"`) || !strings.Contains(buf.String(), "appointment.ics") {
		t.Fatalf("log = %s", buf.String())
	}
}
