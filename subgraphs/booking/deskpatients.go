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

// deskPatientPath is where the patient service answers one desk patient's
// current snapshot on its internal listener (its DeskPatientRoute, GET
// /internal/desk-patients/{id}; booking does not import that service).
const deskPatientPath = "/internal/desk-patients/"

// maxDeskPatientSize bounds the owner's answer (one record).
const maxDeskPatientSize = 64 << 10

// deskPatientOwner reads desk patients from the patient service over HTTP.
type deskPatientOwner struct {
	baseURL string
	client  *http.Client
}

// DeskPatient is GET <baseURL>/internal/desk-patients/{id}: the snapshot on
// 200, business.ErrDeskPatientUnknown on 404, an error otherwise.
func (o deskPatientOwner) DeskPatient(ctx context.Context, id string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(o.baseURL, "/")+deskPatientPath+url.PathEscape(id), nil)
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
		return nil, business.ErrDeskPatientUnknown
	default:
		return nil, fmt.Errorf("patient service answered HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDeskPatientSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDeskPatientSize {
		return nil, fmt.Errorf("patient service's answer is larger than %d bytes", maxDeskPatientSize)
	}
	return body, nil
}
