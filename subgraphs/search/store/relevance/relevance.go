// Package relevance defines the RELEVANCE order of practitioner search once:
// its weights, the Go score that the embedded engine ranks by and the tests
// check against, and the Painless script (with its parameters made from the
// same constants) that OpenSearch ranks by. Change the order here and both
// backends and the tests follow.
package relevance

import "time"

// The RELEVANCE order is by
//
//	score = WeightDistance·d + WeightSlot·s + WeightRating·r
//
// where d = 1/(1 + km/HalfDistanceKm) is the distance part (0 without a point
// to measure from), s = 1/(1 + h/HalfSlotHours) with h the hours from the
// query's reference time to the next open slot (h < 0 counts as 0; s = 0
// without a slot), and r = rating/MaxRating (0 unrated). A practitioner 10 km
// away scores half the distance part of one next door; a slot two days out
// half the slot part of one right now. Higher scores come first.
const (
	WeightDistance = 0.5
	WeightSlot     = 0.3
	WeightRating   = 0.2
	// HalfDistanceKm is the distance at which the distance part is half its best.
	HalfDistanceKm = 10.0
	// HalfSlotHours is the wait at which the slot part is half its best.
	HalfSlotHours = 48.0
	// MaxRating is the top of the rating scale.
	MaxRating = 5.0
)

// Inputs are what the score reads of one document. They are flat values, so
// the embedded engine scores a grid entry without allocating.
type Inputs struct {
	// Near: the query has a point, and DistanceKm is the document's distance from it.
	Near       bool
	DistanceKm float64
	// HasSlot: the document has a next open slot, at SlotUnixMilli; NowUnixMilli
	// is the query's reference time.
	HasSlot       bool
	SlotUnixMilli int64
	NowUnixMilli  int64
	// Rated: the practitioner has a Rating (out of MaxRating).
	Rated  bool
	Rating float64
}

// Score is the RELEVANCE score of a document (higher first).
func Score(in Inputs) float64 {
	var d, s, r float64
	if in.Near {
		d = 1 / (1 + in.DistanceKm/HalfDistanceKm)
	}
	if in.HasSlot {
		h := float64(in.SlotUnixMilli-in.NowUnixMilli) / 3.6e6
		s = 1 / (1 + max(h, 0)/HalfSlotHours)
	}
	if in.Rated {
		r = in.Rating / MaxRating
	}
	return WeightDistance*d + WeightSlot*s + WeightRating*r
}

// InputsOf reads a search hit's fields: distanceKm nil when the query had no
// point, next nil without a slot, rating nil when unrated.
func InputsOf(distanceKm *float64, next *time.Time, rating *float64, now time.Time) Inputs {
	in := Inputs{NowUnixMilli: now.UnixMilli()}
	if distanceKm != nil {
		in.Near, in.DistanceKm = true, *distanceKm
	}
	if next != nil {
		in.HasSlot, in.SlotUnixMilli = true, next.UnixMilli()
	}
	if rating != nil {
		in.Rated, in.Rating = true, *rating
	}
	return in
}

// Script is Score in Painless, over the OpenSearch mapping's location,
// next_available_slot and rating fields; every number of the formula but
// the unit conversions comes in ScriptParams.
const Script = `double d = 0; if (params.near && !doc['location'].empty) { d = 1.0 / (1.0 + doc['location'].arcDistance(params.lat, params.lon) / 1000.0 / params.dist_km); } ` +
	`double s = 0; if (!doc['next_available_slot'].empty) { double h = (doc['next_available_slot'].value.toInstant().toEpochMilli() - params.now) / 3600000.0; s = 1.0 / (1.0 + Math.max(h, 0.0) / params.slot_h); } ` +
	`double r = doc['rating'].empty ? 0.0 : doc['rating'].value / params.rating_max; ` +
	`return params.wd * d + params.ws * s + params.wr * r;`

// ScriptParams are Script's parameters: the constants above, the query's
// reference time and its point (near false: none, lat and lon 0).
func ScriptParams(now time.Time, near bool, lat, lon float64) map[string]any {
	if !near {
		lat, lon = 0, 0
	}
	return map[string]any{
		"now": now.UnixMilli(), "near": near, "lat": lat, "lon": lon,
		"dist_km": HalfDistanceKm, "slot_h": HalfSlotHours, "rating_max": MaxRating,
		"wd": WeightDistance, "ws": WeightSlot, "wr": WeightRating,
	}
}
