package business

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// ExportFormat names the export document's shape.
const ExportFormat = "careslot-export/1"

// ExportTimeout bounds the whole export, every source included.
const ExportTimeout = 20 * time.Second

// ExportSource is another service's part of a GDPR export: everything it
// holds about the patient whose bearer token (the caller's Authorization
// header, forwarded) it is given, as one JSON document.
type ExportSource interface {
	Export(ctx context.Context, authorization string) (json.RawMessage, error)
}

// SetExportSources names the services asked for their part of every export
// (e.g. "booking", "notification").
func (s *Service) SetExportSources(sources map[string]ExportSource) { s.sources = sources }

type authorizationKey struct{}

// WithAuthorization keeps the request's Authorization header in ctx, so that
// an export can forward it to the other services.
func WithAuthorization(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, authorizationKey{}, header)
}

func authorization(ctx context.Context) string {
	h, _ := ctx.Value(authorizationKey{}).(string)
	return h
}

// exportedAccount is this service's part of the export.
type exportedAccount struct {
	Account                 exportedPatient    `json:"account"`
	NotificationPreferences map[string]bool    `json:"notificationPreferences"`
	Relatives               []exportedRelative `json:"relatives"`
}

type exportedPatient struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone,omitempty"`
	BirthDate string `json:"birthDate"`
	Locale    string `json:"locale"`
	Country   string `json:"country"`
	// The OIDC identity the account is bound to.
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type exportedRelative struct {
	ID        string    `json:"id"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	BirthDate string    `json:"birthDate"`
	CreatedAt time.Time `json:"createdAt"`
}

// Export is the GDPR export of the calling patient: their account from this
// service and, asked synchronously with the caller's own token, what every
// export source holds, as one document. Any source that fails makes the whole
// export fail (INTERNAL, reason EXPORT_INCOMPLETE): never a partial export.
func (s *Service) Export(ctx context.Context) (json.RawMessage, error) {
	id, err := self(ctx)
	if err != nil {
		return nil, err
	}
	agg, err := s.store.Aggregate(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	p := agg.Patient
	own := exportedAccount{
		Account: exportedPatient{ID: p.ID, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, Phone: p.Phone,
			BirthDate: p.BirthDate.Format(time.DateOnly), Locale: p.Locale, Country: p.Country, Issuer: p.Issuer, Subject: p.Subject, Version: p.Version,
			CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt},
		NotificationPreferences: map[string]bool{"email": p.NotifyEmail, "sms": p.NotifySMS},
		Relatives:               make([]exportedRelative, 0, len(agg.Relatives)),
	}
	for _, r := range agg.Relatives {
		own.Relatives = append(own.Relatives, exportedRelative{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName,
			BirthDate: r.BirthDate.Format(time.DateOnly), CreatedAt: r.CreatedAt})
	}
	mine, err := json.Marshal(own)
	if err != nil {
		return nil, err
	}
	parts := map[string]json.RawMessage{"patient": mine}

	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	got := make([]json.RawMessage, len(names))
	ctx, cancel := context.WithTimeout(ctx, ExportTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	header := authorization(ctx)
	for i, n := range names {
		g.Go(func() error {
			doc, err := s.sources[n].Export(gctx, header)
			if err == nil && !json.Valid(doc) {
				err = errors.New("the answer is not JSON")
			}
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			got[i] = doc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, &apperr.Error{Code: apperr.Internal, Reason: "EXPORT_INCOMPLETE",
			Message: fmt.Sprintf("the export could not be completed (%v); nothing was exported, please try again later", err)}
	}
	for i, n := range names {
		parts[n] = got[i]
	}
	return json.Marshal(map[string]any{
		"format": ExportFormat, "subject": id, "exportedAt": s.now().UTC().Format(time.RFC3339), "services": parts,
	})
}

// DeleteAccount erases the calling patient's account (GDPR): the account,
// its guardian links and the relatives no other guardian keeps are deleted,
// the email is freed, and PatientErased goes to patient-events in the same
// transaction so that every service deletes or anonymises what it holds.
func (s *Service) DeleteAccount(ctx context.Context) error {
	id, err := self(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		v, erasedRelatives, err := tx.ErasePatient(ctx, id)
		if err != nil {
			return notFound(err)
		}
		ev, err := events.New(Source, eventdata.PatientErased, id, eventdata.Patient{ID: id, Version: v + 1, Relatives: []eventdata.Relative{},
			ErasedRelativeIDs: erasedRelatives})
		if err != nil {
			return err
		}
		return tx.Emit(ctx, events.PatientEvents, id, ev)
	})
}
