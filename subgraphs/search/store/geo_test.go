package store

import (
	"math"
	"math/rand/v2"
	"testing"
)

// textbookDistanceKm is the haversine formula as DistanceKm was first
// written: every sine and cosine computed where it appears.
func textbookDistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// TestDistanceKmIsTheTextbookFormulaBitForBit: the search ranks and pages
// (cursors carry distances) on these values, so computing each sine and the
// origin's cosine once must change no bit of them.
func TestDistanceKmIsTheTextbookFormulaBitForBit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		lat1, lon1 := r.Float64()*180-90, r.Float64()*360-180
		lat2, lon2 := lat1+(r.Float64()-0.5)*float64(i%7), lon1+(r.Float64()-0.5)*float64(i%11)
		want := textbookDistanceKm(lat1, lon1, lat2, lon2)
		if got := DistanceKm(lat1, lon1, lat2, lon2); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("DistanceKm(%v, %v, %v, %v) = %v, want %v", lat1, lon1, lat2, lon2, got, want)
		}
		if got := From(lat1, lon1).DistanceKm(lat2, lon2); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("From(%v, %v).DistanceKm(%v, %v) = %v, want %v", lat1, lon1, lat2, lon2, got, want)
		}
	}
}
