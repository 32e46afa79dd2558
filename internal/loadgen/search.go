package loadgen

import (
	"context"
	"math/rand/v2"

	"github.com/careslot/careslot/internal/gqlclient"
)

// SearchQuery is the patient web app's search operation, as the contract has it.
const SearchQuery = `query SearchPractitioners($input: PractitionerSearchInput!, $first: Int, $after: String) {
  searchPractitioners(input: $input, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      distanceKm
      nextAvailableSlot
      location { id name city coordinates { lat lon } }
      practitioner { id displayName specialties { code label } languages acceptsNewPatients rating }
    }
  }
}`

// Place is somewhere patients search around.
type Place struct {
	Country  string
	Lat, Lon float64
}

// SearchOp sends varied searches (so the router's deduplication of identical
// in-flight requests is not what is measured): a random place, specialty,
// radius, and sometimes availability, language or a sort.
func SearchOp(c *gqlclient.Client, places []Place, specialties map[string][]string) Op {
	sorts := []string{"RELEVANCE", "RELEVANCE", "DISTANCE", "SOONEST"}
	return func(ctx context.Context, _, _ int) (Outcome, error) {
		pl := places[rand.IntN(len(places))]
		in := map[string]any{
			"country": pl.Country,
			"near": map[string]any{"lat": pl.Lat + (rand.Float64()-0.5)*0.1, "lon": pl.Lon + (rand.Float64()-0.5)*0.1,
				"radiusKm": 3 + rand.Float64()*20},
			"sort": sorts[rand.IntN(len(sorts))],
		}
		if specs := specialties[pl.Country]; len(specs) > 0 && rand.IntN(10) < 8 {
			in["specialty"] = specs[rand.IntN(len(specs))]
		}
		switch rand.IntN(6) {
		case 0:
			in["availableWithinDays"] = 7
		case 1:
			in["language"] = "en"
		case 2:
			in["acceptsNewPatients"] = true
		}
		res, err := c.Do(ctx, "", SearchQuery, map[string]any{"input": in, "first": 20})
		if err != nil {
			return "", err
		}
		if err := res.Err(); err != nil {
			return "", err
		}
		return "ok", nil
	}
}
