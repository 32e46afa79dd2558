package store

import (
	"math"
	"time"
)

// Relevance weights. The RELEVANCE order is by
//
//	score = 0.5·d + 0.3·s + 0.2·r
//
// where d = 1/(1 + km/10) is the distance part (0 without a point to measure
// from), s = 1/(1 + h/48) with h the hours from the query's reference time to
// the next open slot (h < 0 counts as 0; s = 0 without a slot), and r is the
// rating out of 5 (0 unrated). A practitioner 10 km away scores half the
// distance part of one next door; a slot two days out half the slot part of
// one right now. Both backends compute exactly this (OpenSearch in a
// script_score), so they order alike.
const (
	RelevanceWeightDistance = 0.5
	RelevanceWeightSlot     = 0.3
	RelevanceWeightRating   = 0.2
	relevanceDistanceKm     = 10.0
	relevanceSlotHours      = 48.0
)

// Relevance is the RELEVANCE score of a document (higher first).
func Relevance(distanceKm *float64, next *time.Time, rating *float64, now time.Time) float64 {
	var d, s, r float64
	if distanceKm != nil {
		d = 1 / (1 + *distanceKm/relevanceDistanceKm)
	}
	if next != nil {
		h := float64(next.UnixMilli()-now.UnixMilli()) / 3.6e6
		s = 1 / (1 + math.Max(h, 0)/relevanceSlotHours)
	}
	if rating != nil {
		r = *rating / 5
	}
	return RelevanceWeightDistance*d + RelevanceWeightSlot*s + RelevanceWeightRating*r
}

const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between two points.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}
