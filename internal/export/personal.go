package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/httpserver"
)

// The GDPR export: the patient service gathers what every service holds
// about the caller. Each service that holds personal data serves
// PersonalData at PersonalDataPath on its internal listener; the patient
// service reads each with a PersonalDataSource, forwarding the caller's own
// bearer token, so each service verifies it and exports only that subject.

// PersonalDataPath is where a service answers GDPR export requests.
const PersonalDataPath = "/internal/export"

// MaxPersonalDataSize bounds one service's export document.
const MaxPersonalDataSize = 32 << 20

// PersonalData serves GET PersonalDataPath: it verifies the bearer token,
// requires a patient, and answers with the one JSON document fn makes for
// that patient's account. An apperr error answers with its status; an
// internal one is logged.
func PersonalData(verifier auth.Verifier, fn func(ctx context.Context, patientID string) (any, error), logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return auth.Middleware(verifier)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			httpserver.WriteError(w, apperr.E(apperr.InvalidInput, "use GET"))
			return
		}
		ctx := r.Context()
		out, err := func() (any, error) {
			p, err := auth.RequirePatient(ctx)
			if err != nil {
				return nil, err
			}
			return fn(ctx, p.Account)
		}()
		if err != nil {
			if apperr.CodeOf(err) == apperr.Internal {
				logger.ErrorContext(ctx, "export failed", "path", r.URL.Path, "err", err)
			}
			httpserver.WriteError(w, err)
			return
		}
		httpserver.WriteJSON(w, out)
	}))
}

// PersonalDataSource asks one service for its part of a GDPR export: GET
// <BaseURL>/internal/export with the caller's own Authorization header.
type PersonalDataSource struct {
	Name    string
	BaseURL string
	Client  *http.Client
}

// Export fetches the service's document; anything but 200 with JSON is an error.
func (s PersonalDataSource) Export(ctx context.Context, authorization string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.BaseURL, "/")+PersonalDataPath, nil)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s did not answer", s.Name)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxPersonalDataSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s's answer: %w", s.Name, err)
	}
	if len(body) > MaxPersonalDataSize {
		return nil, fmt.Errorf("%s's export is larger than %d bytes", s.Name, MaxPersonalDataSize)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered HTTP %d", s.Name, res.StatusCode)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%s's answer is not JSON", s.Name)
	}
	return body, nil
}
