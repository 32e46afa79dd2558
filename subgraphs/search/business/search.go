// Package business is the search subgraph's rules: validating a search,
// paging with opaque keyset cursors, the result cache, and keeping the index
// current from practitioner snapshots and availability changes. It never
// imports the GraphQL layer.
package business

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/subgraphs/search/store"
)

// Page sizes.
const (
	DefaultFirst = 20
	MaxFirst     = 100
	// MaxRadiusKm bounds near.radiusKm.
	MaxRadiusKm = 500
	// MaxWithinDays bounds availableWithinDays.
	MaxWithinDays = 365
	maxTextRunes  = 200
)

// Cache stores search pages for a short time. Get and Set take the key that
// Key derived; Bump invalidates every cached page of a country.
type Cache interface {
	// Generation is the country's current cache generation, part of every key.
	Generation(ctx context.Context, country string) (int64, error)
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte) error
	Bump(ctx context.Context, country string) error
}

// Service runs searches over an Index and keeps it current.
type Service struct {
	index     store.Index
	cache     Cache // nil: no cache
	countries *countries.Catalog
	now       func() time.Time
	log       *slog.Logger
	locks     stripes
}

// New returns a Service. cache may be nil; now defaults to time.Now.
func New(index store.Index, cache Cache, cat *countries.Catalog, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{index: index, cache: cache, countries: cat, now: now, log: log}
}

// Index is the service's index.
func (s *Service) Index() store.Index { return s.index }

// Near is a circle to search in.
type Near struct {
	Lat, Lon, RadiusKm float64
}

// Input is a search as the client sent it.
type Input struct {
	Country             string
	Specialty           *string
	Near                *Near
	AvailableWithinDays *int
	Language            *string
	VisitMode           *string // store.ModeInPerson or store.ModeVideo
	AcceptsNewPatients  *bool
	Text                *string
	Sort                *string // store.Sort values; nil: RELEVANCE
	First               *int
	After               *string
}

// Edge is one result.
type Edge struct {
	Cursor     string         `json:"c"`
	DistanceKm *float64       `json:"d,omitempty"`
	Doc        store.Document `json:"doc"`
}

// Page is one page of results.
type Page struct {
	TotalCount  int     `json:"n"`
	HasNextPage bool    `json:"h"`
	EndCursor   *string `json:"e,omitempty"`
	Edges       []Edge  `json:"x"`
}

// cursor is the opaque cursor's content: the sort it belongs to, the walk's
// reference time, and the last hit's sort key (keyset, not offset).
type cursor struct {
	Sort store.Sort `json:"s"`
	Ref  int64      `json:"t"` // unix milliseconds
	Key  []any      `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return cursor{}, err
	}
	if len(c.Key) == 0 || c.Ref <= 0 {
		return cursor{}, errors.New("incomplete cursor")
	}
	return c, nil
}

// normalized is a validated search: what the index is asked and what the
// cache key is made of.
type normalized struct {
	Country            string      `json:"c"`
	Specialty          string      `json:"sp,omitempty"`
	Near               *store.Near `json:"n,omitempty"`
	WithinDays         *int        `json:"w,omitempty"`
	Language           string      `json:"l,omitempty"`
	VisitMode          string      `json:"v,omitempty"`
	AcceptsNewPatients *bool       `json:"a,omitempty"`
	Text               string      `json:"t,omitempty"`
	Sort               store.Sort  `json:"s"`
	First              int         `json:"f"`
	After              string      `json:"af,omitempty"`
}

func badFloat(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// validate checks in and returns its normal form and decoded cursor.
func (s *Service) validate(in Input) (normalized, *cursor, error) {
	n := normalized{Country: strings.TrimSpace(in.Country), Sort: store.SortRelevance, First: DefaultFirst}
	c, ok := s.countries.Get(n.Country)
	if !ok {
		return n, nil, apperr.Invalid("input.country", "country %q is not served", in.Country)
	}
	if in.Specialty != nil && strings.TrimSpace(*in.Specialty) != "" {
		n.Specialty = strings.TrimSpace(*in.Specialty)
		if _, ok := c.Specialty(n.Specialty); !ok {
			return n, nil, apperr.Invalid("input.specialty", "unknown specialty %q in %s", n.Specialty, n.Country)
		}
	}
	if in.Near != nil {
		p := *in.Near
		switch {
		case badFloat(p.Lat) || p.Lat < -90 || p.Lat > 90:
			return n, nil, apperr.Invalid("input.near.lat", "latitude must be between -90 and 90")
		case badFloat(p.Lon) || p.Lon < -180 || p.Lon > 180:
			return n, nil, apperr.Invalid("input.near.lon", "longitude must be between -180 and 180")
		case badFloat(p.RadiusKm) || p.RadiusKm <= 0 || p.RadiusKm > MaxRadiusKm:
			return n, nil, apperr.Invalid("input.near.radiusKm", "radius must be more than 0 and at most %d km", MaxRadiusKm)
		}
		n.Near = &store.Near{Lat: p.Lat, Lon: p.Lon, RadiusKm: p.RadiusKm}
	}
	if d := in.AvailableWithinDays; d != nil {
		if *d < 0 || *d > MaxWithinDays {
			return n, nil, apperr.Invalid("input.availableWithinDays", "must be between 0 and %d", MaxWithinDays)
		}
		n.WithinDays = d
	}
	if in.Language != nil {
		n.Language = strings.ToLower(strings.TrimSpace(*in.Language))
		if len(n.Language) > 16 {
			return n, nil, apperr.Invalid("input.language", "not a language code")
		}
	}
	if in.VisitMode != nil {
		switch *in.VisitMode {
		case store.ModeInPerson, store.ModeVideo:
			n.VisitMode = *in.VisitMode
		default:
			return n, nil, apperr.Invalid("input.visitMode", "unknown visit mode %q", *in.VisitMode)
		}
	}
	n.AcceptsNewPatients = in.AcceptsNewPatients
	if in.Text != nil {
		if utf8.RuneCountInString(*in.Text) > maxTextRunes {
			return n, nil, apperr.Invalid("input.text", "at most %d characters", maxTextRunes)
		}
		n.Text = store.Fold(*in.Text)
	}
	if in.Sort != nil {
		switch srt := store.Sort(*in.Sort); srt {
		case store.SortRelevance, store.SortDistance, store.SortSoonest:
			n.Sort = srt
		default:
			return n, nil, apperr.Invalid("input.sort", "unknown sort %q", *in.Sort)
		}
	}
	if n.Sort == store.SortDistance && n.Near == nil {
		return n, nil, apperr.Invalid("input.sort", "DISTANCE needs near")
	}
	if in.First != nil {
		if *in.First < 1 || *in.First > MaxFirst {
			return n, nil, apperr.Invalid("first", "must be between 1 and %d", MaxFirst)
		}
		n.First = *in.First
	}
	var cur *cursor
	if in.After != nil {
		c, err := decodeCursor(*in.After)
		if err != nil {
			return n, nil, apperr.Invalid("after", "malformed cursor")
		}
		if c.Sort != n.Sort {
			return n, nil, apperr.Invalid("after", "the cursor belongs to another sort")
		}
		cur, n.After = &c, *in.After
	}
	return n, cur, nil
}

// Search validates in and returns a page, from the cache when it has it.
func (s *Service) Search(ctx context.Context, in Input) (*Page, error) {
	n, cur, err := s.validate(in)
	if err != nil {
		return nil, err
	}
	var key string
	if s.cache != nil {
		if gen, err := s.cache.Generation(ctx, n.Country); err != nil {
			s.log.WarnContext(ctx, "search cache generation", "err", err)
		} else {
			key = cacheKey(n, gen)
			if b, ok, err := s.cache.Get(ctx, key); err != nil {
				s.log.WarnContext(ctx, "search cache get", "err", err)
			} else if ok {
				var p Page
				if err := json.Unmarshal(b, &p); err == nil {
					return &p, nil
				}
			}
		}
	}
	page, err := s.run(ctx, n, cur)
	if err != nil {
		return nil, err
	}
	if key != "" {
		if b, err := json.Marshal(page); err == nil {
			if err := s.cache.Set(ctx, key, b); err != nil {
				s.log.WarnContext(ctx, "search cache set", "err", err)
			}
		}
	}
	return page, nil
}

// cacheKey hashes the normalised search (cursor included) under the
// country's generation: "{cc}:{generation}:{sha256}".
func cacheKey(n normalized, gen int64) string {
	b, _ := json.Marshal(n)
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s:%d:%s", n.Country, gen, hex.EncodeToString(sum[:16]))
}

func (s *Service) run(ctx context.Context, n normalized, cur *cursor) (*Page, error) {
	ref := s.now()
	q := store.Query{
		Country: n.Country, Specialty: n.Specialty, Near: n.Near, Language: n.Language,
		VisitMode: n.VisitMode, AcceptsNewPatients: n.AcceptsNewPatients, Text: n.Text,
		Sort: n.Sort, Limit: n.First,
	}
	if n.WithinDays != nil {
		t := ref.Add(time.Duration(*n.WithinDays) * 24 * time.Hour)
		q.AvailableBefore = &t
	}
	if cur != nil {
		ref = time.UnixMilli(cur.Ref)
		q.After = cur.Key
	}
	q.Now = time.UnixMilli(ref.UnixMilli()) // what the cursor can carry
	res, err := s.index.Search(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, apperr.Invalid("after", "malformed cursor")
	}
	if err != nil {
		return nil, err
	}
	page := &Page{TotalCount: res.Total, HasNextPage: res.HasNext, Edges: make([]Edge, len(res.Hits))}
	for i, h := range res.Hits {
		page.Edges[i] = Edge{
			Cursor:     encodeCursor(cursor{Sort: n.Sort, Ref: q.Now.UnixMilli(), Key: h.SortKey}),
			DistanceKm: h.DistanceKm,
			Doc:        h.Doc,
		}
	}
	if len(page.Edges) > 0 {
		end := page.Edges[len(page.Edges)-1].Cursor
		page.EndCursor = &end
	}
	return page, nil
}

// Practitioners returns one document per practitioner id found (for the
// entity resolvers).
func (s *Service) Practitioners(ctx context.Context, ids []string) ([]store.Document, error) {
	return s.index.Practitioners(ctx, ids)
}

// Locations returns the documents of the location ids found.
func (s *Service) Locations(ctx context.Context, ids []string) ([]store.Document, error) {
	return s.index.Locations(ctx, ids)
}

// SpecialtyLabel is the label of a specialty code in a country (the code
// when the catalogue does not know it).
func (s *Service) SpecialtyLabel(country, code string) string {
	if c, ok := s.countries.Get(country); ok {
		if sp, ok := c.Specialty(code); ok {
			return sp.Label
		}
	}
	return code
}
