package store

import "math"

const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between two points.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	return From(lat1, lon1).DistanceKm(lat2, lon2)
}

// Origin is a point that many distances are measured from (a search's
// centre, against every candidate): the cosine of its latitude is computed
// once. Each sine is computed once too: the results are those of the textbook
// formula, bit for bit, at half its sines and cosines.
type Origin struct{ lat, lon, cosLat float64 }

const rad = math.Pi / 180

// From returns the origin at lat, lon (degrees).
func From(lat, lon float64) Origin {
	return Origin{lat: lat, lon: lon, cosLat: math.Cos(lat * rad)}
}

// DistanceKm is the great-circle (haversine) distance from o to lat, lon.
func (o Origin) DistanceKm(lat, lon float64) float64 {
	sLat := math.Sin((lat - o.lat) * rad / 2)
	sLon := math.Sin((lon - o.lon) * rad / 2)
	a := sLat*sLat + o.cosLat*math.Cos(lat*rad)*sLon*sLon
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}
