package patient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ExportPath is where a service answers GDPR export requests.
const ExportPath = "/internal/export"

// MaxExportSize bounds one service's export document.
const MaxExportSize = 32 << 20

// HTTPExportSource asks one service for its part of a GDPR export: GET
// <BaseURL>/internal/export with the caller's own Authorization header, so the
// service verifies the token itself and exports only that subject's data.
type HTTPExportSource struct {
	Name    string
	BaseURL string
	Client  *http.Client
}

// Export fetches the service's document; anything but 200 with JSON is an error.
func (s HTTPExportSource) Export(ctx context.Context, authorization string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.BaseURL, "/")+ExportPath, nil)
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
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxExportSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s's answer: %w", s.Name, err)
	}
	if len(body) > MaxExportSize {
		return nil, fmt.Errorf("%s's export is larger than %d bytes", s.Name, MaxExportSize)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered HTTP %d", s.Name, res.StatusCode)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%s's answer is not JSON", s.Name)
	}
	return body, nil
}
