// Package store holds the search index: one interface, Index, with two
// backends — the in-process engine of package store/embedded (the default)
// and OpenSearch (this package) — that the shared behavioural suite (package
// search/indextest) holds to the same behaviour, and whose RELEVANCE order
// both take from package store/relevance. It imports neither the business
// nor the GraphQL layer.
package store

import (
	"context"
	"errors"
	"time"
)

// IndexName is the per-country index name, practitioners_{cc}.
func IndexName(country string) string { return "practitioners_" + country }

// Visit modes, as appointment types carry them.
const (
	ModeInPerson = "IN_PERSON"
	ModeVideo    = "VIDEO"
)

// Sort orders. Every order ends with the document (location) id, so a page
// walk is stable.
type Sort string

const (
	// SortRelevance is a blend of distance, soonest slot and rating; see package relevance.
	SortRelevance Sort = "RELEVANCE"
	// SortDistance is nearest first (requires Query.Near).
	SortDistance Sort = "DISTANCE"
	// SortSoonest is soonest next open slot first, documents without one last.
	SortSoonest Sort = "SOONEST"
)

// Document is one practitioner location as indexed. A practitioner has one
// document per location; the practitioner's fields are repeated in each.
type Document struct {
	// ID is the location id (the document id).
	ID             string
	PractitionerID string
	Version        int64
	Country        string

	DisplayName        string
	Specialties        []string // codes
	SpecialtyLabels    []string // labels in the country's language, parallel to Specialties
	Languages          []string
	AcceptsNewPatients bool
	Rating             *float64
	// VisitModes are the distinct visit modes of the practitioner's appointment types.
	VisitModes       []string
	AppointmentTypes []AppointmentType

	LocationName string
	City         string
	Lat, Lon     float64

	NextAvailableSlot *time.Time
}

// AppointmentType is the part of an appointment type the index keeps.
type AppointmentType struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	VisitMode          string `json:"visit_mode"`
	NewPatientsAllowed bool   `json:"new_patients_allowed"`
}

// Practice is a practitioner's whole set of documents at a version.
type Practice struct {
	ID      string
	Country string
	Version int64
	// Docs are all in Country; none means the practitioner has no location
	// and so no document.
	Docs []Document
}

// Near restricts a search to a circle.
type Near struct {
	Lat, Lon, RadiusKm float64
}

// Query is a validated search.
type Query struct {
	Country   string
	Specialty string
	Near      *Near
	// AvailableBefore keeps documents whose next open slot is at or before it.
	AvailableBefore    *time.Time
	Language           string
	VisitMode          string
	AcceptsNewPatients *bool
	Text               string
	Sort               Sort
	// Now is the reference time of relevance (the slot part of the score); a
	// walk through pages keeps the first page's, so its order is stable.
	Now time.Time
	// After is the sort key of the last hit of the previous page (Hit.SortKey).
	After []any
	// Limit is the page size; Search looks one further to tell HasNext.
	Limit int
}

// Hit is one result.
type Hit struct {
	Doc        Document
	DistanceKm *float64
	// SortKey is what Query.After takes to continue after this hit: a JSON-able
	// list of the sort values, the document id last.
	SortKey []any
}

// Result is one page of a search.
type Result struct {
	Total   int
	Hits    []Hit
	HasNext bool
}

// ErrBadCursor is returned (wrapped) by Search for an After it cannot use.
var ErrBadCursor = errors.New("search: malformed cursor")

// Index is the practitioner search index. Implementations are safe for
// concurrent use.
type Index interface {
	// EnsureIndex creates the country's index if it does not exist.
	EnsureIndex(ctx context.Context, country string) error
	// Upsert makes p.Docs the practitioner's documents at p.Version: it
	// removes the ones it had that p no longer has (a lost location, or every
	// document in another country), unless the index already holds the
	// practitioner at p.Version or later, in which case it changes nothing
	// and reports false. The next available slot survives the replacement.
	Upsert(ctx context.Context, p Practice) (applied bool, err error)
	// DeletePractitioner removes every document of the practitioner (in any
	// country) as of version; a later Upsert with a lower version is stale.
	DeletePractitioner(ctx context.Context, country, practitionerID string, version int64) (applied bool, err error)
	// SetNextAvailable sets the practitioner's next open slot (nil: none)
	// as of asOf; an update older than the one applied last is ignored. It
	// is remembered for a practitioner not (yet) indexed, for a later Upsert.
	SetNextAvailable(ctx context.Context, country, practitionerID string, next *time.Time, asOf time.Time) (applied bool, err error)
	// Search runs q.
	Search(ctx context.Context, q Query) (Result, error)
	// Locations returns the documents with the given ids (missing ones are left out).
	Locations(ctx context.Context, ids []string) ([]Document, error)
	// Practitioners returns one document per given practitioner id (missing ones are left out).
	Practitioners(ctx context.Context, ids []string) ([]Document, error)
	// Count is the number of documents of a country.
	Count(ctx context.Context, country string) (int, error)
	// Reset empties the country's index (and forgets its versions).
	Reset(ctx context.Context, country string) error
}
