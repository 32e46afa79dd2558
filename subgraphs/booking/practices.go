package booking

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/careslot/careslot/subgraphs/booking/business"
)

// practicePath is where the practitioner service answers one practice's
// current snapshot on its internal listener (its PracticeRoute, GET
// /internal/practices/{id}; booking does not import that service).
const practicePath = "/internal/practices/"

// maxPracticeSize bounds the owner's answer (a practice's snapshot).
const maxPracticeSize = 4 << 20

// practiceOwner reads practices from the practitioner service over HTTP.
type practiceOwner struct {
	baseURL string
	client  *http.Client
}

// Practice is GET <baseURL>/internal/practices/{id}: the snapshot on 200,
// business.ErrPracticeUnknown on 404, an error otherwise.
func (o practiceOwner) Practice(ctx context.Context, practitionerID string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(o.baseURL, "/")+practicePath+url.PathEscape(practitionerID), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, business.ErrPracticeUnknown
	default:
		return nil, fmt.Errorf("practitioner service answered HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxPracticeSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxPracticeSize {
		return nil, fmt.Errorf("practitioner service's answer is larger than %d bytes", maxPracticeSize)
	}
	return body, nil
}
