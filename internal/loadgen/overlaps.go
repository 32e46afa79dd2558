package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/careslot/careslot/internal/httpclient"
)

// DoubleBookings asks booking's internal overlaps endpoint (url: its
// internal listener plus booking.OverlapsPath) how many pairs of confirmed
// appointments of one practitioner overlap. The check goes through the
// owner, never its database.
func DoubleBookings(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := httpclient.New(time.Minute).Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, res.Status)
	}
	var body struct {
		DoubleBookings *int `json:"doubleBookings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	if body.DoubleBookings == nil {
		return 0, fmt.Errorf("%s: no doubleBookings in the answer", url)
	}
	return *body.DoubleBookings, nil
}
