package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"

	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

// VersionsIndex holds one small document per practitioner, indexed with
// OpenSearch's external versioning at the practitioner's version: the gate
// that makes Upsert and DeletePractitioner apply by version (a stale snapshot
// is refused with 409 there before any location document is touched). It
// also remembers the practitioner's country and next available slot, which a
// replacement carries over to the new location documents.
const VersionsIndex = "practitioner_versions"

// allCountries matches every country's index (for removals across countries).
const allCountries = "practitioners_*"

// OpenSearch is the OpenSearch backend: an index per country with explicit
// mappings, bulk writes with refresh=wait_for (so a write is searchable when
// it returns and the cache generation bumped after it cannot be refilled with
// the old state), and search_after cursors. The request bodies are built by
// the pure functions below and pinned by golden tests.
type OpenSearch struct {
	c      *opensearch.Client
	prefix string
}

var _ Index = (*OpenSearch)(nil)

// NewOpenSearch connects to a cluster (rawURL may carry user:password).
// indexPrefix is put before every index name (tests use their own).
func NewOpenSearch(rawURL, indexPrefix string) (*OpenSearch, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("search: OpenSearch URL: %w", err)
	}
	// Requests made inside a trace (a search, a consumer's update) are spans of it.
	cfg := opensearch.Config{Addresses: []string{rawURL}, Transport: httpclient.Transport(nil)}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		u.User = nil
		cfg.Addresses = []string{u.String()}
	}
	c, err := opensearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("search: OpenSearch client: %w", err)
	}
	return &OpenSearch{c: c, prefix: indexPrefix}, nil
}

// ---- request bodies (golden-tested) ----

// textAnalysis: names and labels are indexed as folded edge n-grams and
// searched folded, so every query word matches as a prefix of a word,
// whatever its case and accents.
var textAnalysis = map[string]any{
	"filter": map[string]any{
		"prefix_edge": map[string]any{"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
	},
	"analyzer": map[string]any{
		"folded":        map[string]any{"type": "custom", "tokenizer": "standard", "filter": []string{"lowercase", "asciifolding"}},
		"folded_prefix": map[string]any{"type": "custom", "tokenizer": "standard", "filter": []string{"lowercase", "asciifolding", "prefix_edge"}},
	},
}

func kw() map[string]any { return map[string]any{"type": "keyword"} }

func prefixText() map[string]any {
	return map[string]any{"type": "text", "analyzer": "folded_prefix", "search_analyzer": "folded"}
}

// IndexBody is the settings and mappings of a country index.
func IndexBody() map[string]any {
	return map[string]any{
		"settings": map[string]any{"analysis": textAnalysis},
		"mappings": map[string]any{
			"dynamic": "strict",
			"properties": map[string]any{
				"id":                   kw(),
				"practitioner_id":      kw(),
				"version":              map[string]any{"type": "long"},
				"country":              kw(),
				"display_name":         prefixText(),
				"specialties":          kw(),
				"specialty_labels":     prefixText(),
				"languages":            kw(),
				"accepts_new_patients": map[string]any{"type": "boolean"},
				"rating":               map[string]any{"type": "double"},
				"visit_modes":          kw(),
				"appointment_types": map[string]any{"properties": map[string]any{
					"id":                   kw(),
					"name":                 map[string]any{"type": "text", "analyzer": "folded"},
					"visit_mode":           kw(),
					"new_patients_allowed": map[string]any{"type": "boolean"},
				}},
				"location_name":       map[string]any{"type": "text", "analyzer": "folded"},
				"city":                kw(),
				"location":            map[string]any{"type": "geo_point"},
				"next_available_slot": map[string]any{"type": "date"},
			},
		},
	}
}

// VersionsIndexBody is the mapping of VersionsIndex.
func VersionsIndexBody() map[string]any {
	return map[string]any{"mappings": map[string]any{
		"dynamic": "strict",
		"properties": map[string]any{
			"country":             kw(),
			"deleted":             map[string]any{"type": "boolean"},
			"next_available_slot": map[string]any{"type": "date"},
			"next_as_of":          map[string]any{"type": "long"},
		},
	}}
}

// source is a location document as stored.
type source struct {
	ID                 string            `json:"id"`
	PractitionerID     string            `json:"practitioner_id"`
	Version            int64             `json:"version"`
	Country            string            `json:"country"`
	DisplayName        string            `json:"display_name"`
	Specialties        []string          `json:"specialties"`
	SpecialtyLabels    []string          `json:"specialty_labels"`
	Languages          []string          `json:"languages"`
	AcceptsNewPatients bool              `json:"accepts_new_patients"`
	Rating             *float64          `json:"rating"`
	VisitModes         []string          `json:"visit_modes"`
	AppointmentTypes   []AppointmentType `json:"appointment_types"`
	LocationName       string            `json:"location_name"`
	City               string            `json:"city"`
	Location           geoPoint          `json:"location"`
	NextAvailableSlot  *time.Time        `json:"next_available_slot"`
}

type geoPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

func toSource(d Document, next *time.Time) source {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	types := d.AppointmentTypes
	if types == nil {
		types = []AppointmentType{}
	}
	if next != nil {
		t := next.UTC()
		next = &t
	}
	return source{
		ID: d.ID, PractitionerID: d.PractitionerID, Version: d.Version, Country: d.Country,
		DisplayName: d.DisplayName, Specialties: nz(d.Specialties), SpecialtyLabels: nz(d.SpecialtyLabels),
		Languages: nz(d.Languages), AcceptsNewPatients: d.AcceptsNewPatients, Rating: d.Rating,
		VisitModes: nz(d.VisitModes), AppointmentTypes: types, LocationName: d.LocationName, City: d.City,
		Location: geoPoint{Lat: d.Lat, Lon: d.Lon}, NextAvailableSlot: next,
	}
}

func (s source) document() Document {
	return Document{
		ID: s.ID, PractitionerID: s.PractitionerID, Version: s.Version, Country: s.Country,
		DisplayName: s.DisplayName, Specialties: s.Specialties, SpecialtyLabels: s.SpecialtyLabels,
		Languages: s.Languages, AcceptsNewPatients: s.AcceptsNewPatients, Rating: s.Rating,
		VisitModes: s.VisitModes, AppointmentTypes: s.AppointmentTypes, LocationName: s.LocationName,
		City: s.City, Lat: s.Location.Lat, Lon: s.Location.Lon, NextAvailableSlot: s.NextAvailableSlot,
	}
}

// BulkBody is the NDJSON bulk request that indexes a practice's documents,
// each carrying the practitioner's next available slot.
func BulkBody(index string, p Practice, next *time.Time) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, d := range p.Docs {
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": index, "_id": d.ID}})
		_ = enc.Encode(toSource(d, next))
	}
	return b.Bytes()
}

// RemoveOlderBody deletes (by query, across countries) the practitioner's
// documents older than version: lost locations and a former country's.
func RemoveOlderBody(practitionerID string, version int64) map[string]any {
	return map[string]any{"query": map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"term": map[string]any{"practitioner_id": practitionerID}},
		map[string]any{"range": map[string]any{"version": map[string]any{"lt": version}}},
	}}}}
}

// SetNextBody sets next_available_slot on the practitioner's documents.
func SetNextBody(practitionerID string, next *time.Time) map[string]any {
	var v any
	if next != nil {
		v = next.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"query": map[string]any{"term": map[string]any{"practitioner_id": practitionerID}},
		"script": map[string]any{
			"lang":   "painless",
			"source": "ctx._source.next_available_slot = params.next",
			"params": map[string]any{"next": v},
		},
	}
}

func point(n *Near) map[string]any { return map[string]any{"lat": n.Lat, "lon": n.Lon} }

// SearchBody is the search request for q.
func SearchBody(q Query) map[string]any {
	filter := []any{}
	if q.Specialty != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"specialties": q.Specialty}})
	}
	if q.Near != nil {
		filter = append(filter, map[string]any{"geo_distance": map[string]any{
			"distance": strconv.FormatFloat(q.Near.RadiusKm, 'f', -1, 64) + "km",
			"location": point(q.Near),
		}})
	}
	if q.AvailableBefore != nil {
		filter = append(filter, map[string]any{"range": map[string]any{"next_available_slot": map[string]any{
			"lte": q.AvailableBefore.UTC().Format(time.RFC3339)}}})
	}
	if q.Language != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"languages": q.Language}})
	}
	if q.VisitMode != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"visit_modes": q.VisitMode}})
	}
	if q.AcceptsNewPatients != nil {
		filter = append(filter, map[string]any{"term": map[string]any{"accepts_new_patients": *q.AcceptsNewPatients}})
	}
	if t := Fold(q.Text); t != "" {
		filter = append(filter, map[string]any{"multi_match": map[string]any{
			"query": t, "fields": []string{"display_name", "specialty_labels"},
			"type": "cross_fields", "operator": "and",
		}})
	}
	var query any = map[string]any{"bool": map[string]any{"filter": filter}}
	var sort []any
	switch q.Sort {
	case SortDistance:
		sort = []any{map[string]any{"_geo_distance": map[string]any{
			"location": point(q.Near), "order": "asc", "unit": "km", "distance_type": "arc",
		}}}
	case SortSoonest:
		sort = []any{map[string]any{"next_available_slot": map[string]any{"order": "asc", "missing": "_last"}}}
	default:
		var lat, lon float64
		if q.Near != nil {
			lat, lon = q.Near.Lat, q.Near.Lon
		}
		query = map[string]any{"script_score": map[string]any{
			"query": query,
			"script": map[string]any{"lang": "painless", "source": relevance.Script,
				"params": relevance.ScriptParams(q.Now, q.Near != nil, lat, lon)},
		}}
		sort = []any{map[string]any{"_score": "desc"}}
	}
	sort = append(sort, map[string]any{"id": "asc"})
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	body := map[string]any{
		"size":             limit + 1,
		"track_total_hits": true,
		"query":            query,
		"sort":             sort,
	}
	if q.After != nil {
		body["search_after"] = q.After
	}
	return body
}

// ---- the client side ----

func (o *OpenSearch) index(country string) string { return o.prefix + IndexName(country) }
func (o *OpenSearch) versions() string            { return o.prefix + VersionsIndex }

type osError struct {
	status int
	body   string
}

func (e *osError) Error() string { return fmt.Sprintf("opensearch: HTTP %d: %s", e.status, e.body) }

func statusOf(err error) int {
	var e *osError
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}

// do sends a request; a non-2xx answer is an *osError. out, if set, gets the JSON answer.
func (o *OpenSearch) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/x-ndjson"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := o.c.Perform(req)
	if err != nil {
		return fmt.Errorf("opensearch: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return &osError{status: res.StatusCode, body: string(raw)}
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		return dec.Decode(out)
	}
	return nil
}

func (o *OpenSearch) ensure(ctx context.Context, name string, body map[string]any) error {
	err := o.do(ctx, http.MethodHead, "/"+name, nil, nil)
	if statusOf(err) == http.StatusNotFound {
		err = o.do(ctx, http.MethodPut, "/"+name, body, nil)
		if statusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "resource_already_exists") {
			return nil
		}
	}
	return err
}

// EnsureIndex creates practitioners_{cc} (and the versions index) when missing.
func (o *OpenSearch) EnsureIndex(ctx context.Context, country string) error {
	if err := o.ensure(ctx, o.versions(), VersionsIndexBody()); err != nil {
		return err
	}
	return o.ensure(ctx, o.index(country), IndexBody())
}

type versionDoc struct {
	Country  string     `json:"country"`
	Deleted  bool       `json:"deleted"`
	Next     *time.Time `json:"next_available_slot"`
	NextAsOf int64      `json:"next_as_of"`
}

// version reads a practitioner's version document (found=false: none yet).
func (o *OpenSearch) version(ctx context.Context, id string) (v versionDoc, version int64, found bool, err error) {
	var res struct {
		Found   bool        `json:"found"`
		Version json.Number `json:"_version"`
		Source  versionDoc  `json:"_source"`
	}
	err = o.do(ctx, http.MethodGet, "/"+o.versions()+"/_doc/"+url.PathEscape(id), nil, &res)
	if statusOf(err) == http.StatusNotFound {
		return versionDoc{}, 0, false, nil
	}
	if err != nil {
		return versionDoc{}, 0, false, err
	}
	version, _ = res.Version.Int64()
	return res.Source, version, res.Found, nil
}

// putVersion writes the version document at version (external_gte when
// orEqual); false when OpenSearch holds a later version.
func (o *OpenSearch) putVersion(ctx context.Context, id string, version int64, orEqual bool, v versionDoc) (bool, error) {
	vt := "external"
	if orEqual {
		vt = "external_gte"
	}
	path := fmt.Sprintf("/%s/_doc/%s?version=%d&version_type=%s&refresh=wait_for", o.versions(), url.PathEscape(id), version, vt)
	err := o.do(ctx, http.MethodPut, path, v, nil)
	if statusOf(err) == http.StatusConflict {
		return false, nil
	}
	return err == nil, err
}

// Upsert: version gate, bulk index, remove older documents, re-check the
// next slot that may have changed meanwhile.
func (o *OpenSearch) Upsert(ctx context.Context, p Practice) (bool, error) {
	cur, ver, found, err := o.version(ctx, p.ID)
	if err != nil {
		return false, err
	}
	if found && ver >= p.Version {
		return false, nil
	}
	vd := versionDoc{Country: p.Country, Next: cur.Next, NextAsOf: cur.NextAsOf}
	if ok, err := o.putVersion(ctx, p.ID, p.Version, false, vd); !ok || err != nil {
		return false, err
	}
	if len(p.Docs) > 0 {
		if err := o.EnsureIndex(ctx, p.Country); err != nil {
			return false, err
		}
		var res struct {
			Errors bool             `json:"errors"`
			Items  []map[string]any `json:"items"`
		}
		if err := o.do(ctx, http.MethodPost, "/_bulk?refresh=wait_for", BulkBody(o.index(p.Country), p, cur.Next), &res); err != nil {
			return false, err
		}
		if res.Errors {
			return false, fmt.Errorf("opensearch: bulk index of %s failed: %v", p.ID, res.Items)
		}
	}
	if err := o.do(ctx, http.MethodPost, "/"+o.prefix+allCountries+"/_delete_by_query?refresh=true&conflicts=proceed",
		RemoveOlderBody(p.ID, p.Version), nil); err != nil {
		return false, err
	}
	// An availability change may have landed between reading the version
	// document and writing the new documents: carry it over.
	now, _, _, err := o.version(ctx, p.ID)
	if err != nil {
		return true, err
	}
	if !sameTime(now.Next, cur.Next) && len(p.Docs) > 0 {
		return true, o.setNext(ctx, p.Country, p.ID, now.Next)
	}
	return true, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// DeletePractitioner removes every document of the practitioner as of version.
func (o *OpenSearch) DeletePractitioner(ctx context.Context, country, id string, version int64) (bool, error) {
	cur, _, _, err := o.version(ctx, id)
	if err != nil {
		return false, err
	}
	vd := versionDoc{Country: country, Deleted: true, Next: cur.Next, NextAsOf: cur.NextAsOf}
	if ok, err := o.putVersion(ctx, id, version, false, vd); !ok || err != nil {
		return false, err
	}
	return true, o.do(ctx, http.MethodPost, "/"+o.prefix+allCountries+"/_delete_by_query?refresh=true&conflicts=proceed",
		RemoveOlderBody(id, version+1), nil)
}

func (o *OpenSearch) setNext(ctx context.Context, country, id string, next *time.Time) error {
	return o.do(ctx, http.MethodPost, "/"+o.index(country)+"/_update_by_query?refresh=true&conflicts=proceed",
		SetNextBody(id, next), nil)
}

// SetNextAvailable records the next slot in the version document (retrying
// when a snapshot moves the version meanwhile) and on the documents.
func (o *OpenSearch) SetNextAvailable(ctx context.Context, country, id string, next *time.Time, asOf time.Time) (bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, ver, found, err := o.version(ctx, id)
		if err != nil {
			return false, err
		}
		if found && cur.NextAsOf > asOf.UnixNano() {
			return false, nil
		}
		vd := cur
		if !found {
			vd.Country = country
		}
		vd.Next, vd.NextAsOf = next, asOf.UnixNano()
		ok, err := o.putVersion(ctx, id, ver, true, vd)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		if vd.Deleted {
			return true, nil
		}
		if err := o.setNext(ctx, vd.Country, id, next); err != nil && statusOf(err) != http.StatusNotFound {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("opensearch: next slot of %s: too many concurrent changes", id)
}

type searchResponse struct {
	Hits struct {
		Total struct {
			Value int `json:"value"`
		} `json:"total"`
		Hits []struct {
			Source source `json:"_source"`
			Sort   []any  `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

// Search runs q.
func (o *OpenSearch) Search(ctx context.Context, q Query) (Result, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	if q.After != nil && (len(q.After) != 2 || !isString(q.After[1])) {
		return Result{}, fmt.Errorf("%w: want 2 sort values", ErrBadCursor)
	}
	var res searchResponse
	err := o.do(ctx, http.MethodPost, "/"+o.index(q.Country)+"/_search", SearchBody(q), &res)
	if statusOf(err) == http.StatusNotFound {
		return Result{}, nil
	}
	if statusOf(err) == http.StatusBadRequest && q.After != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	if err != nil {
		return Result{}, err
	}
	out := Result{Total: res.Hits.Total.Value}
	hits := res.Hits.Hits
	if len(hits) > q.Limit {
		hits, out.HasNext = hits[:q.Limit], true
	}
	for _, h := range hits {
		hit := Hit{Doc: h.Source.document(), SortKey: h.Sort}
		if q.Near != nil {
			d := DistanceKm(q.Near.Lat, q.Near.Lon, hit.Doc.Lat, hit.Doc.Lon)
			hit.DistanceKm = &d
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

func (o *OpenSearch) find(ctx context.Context, body map[string]any) ([]Document, error) {
	var res searchResponse
	err := o.do(ctx, http.MethodPost, "/"+o.prefix+allCountries+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res)
	if err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		out = append(out, h.Source.document())
	}
	return out, nil
}

// Locations returns the documents with the given ids.
func (o *OpenSearch) Locations(ctx context.Context, ids []string) ([]Document, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return o.find(ctx, map[string]any{"size": len(ids), "query": map[string]any{"ids": map[string]any{"values": ids}}})
}

// Practitioners returns one document per practitioner id.
func (o *OpenSearch) Practitioners(ctx context.Context, ids []string) ([]Document, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return o.find(ctx, map[string]any{
		"size":     len(ids),
		"query":    map[string]any{"terms": map[string]any{"practitioner_id": ids}},
		"collapse": map[string]any{"field": "practitioner_id"},
		"sort":     []any{map[string]any{"id": "asc"}},
	})
}

// Count is the number of documents of a country.
func (o *OpenSearch) Count(ctx context.Context, country string) (int, error) {
	var res struct {
		Count int `json:"count"`
	}
	err := o.do(ctx, http.MethodGet, "/"+o.index(country)+"/_count", nil, &res)
	if statusOf(err) == http.StatusNotFound {
		return 0, nil
	}
	return res.Count, err
}

// Reset drops and recreates the country's index and forgets its versions.
func (o *OpenSearch) Reset(ctx context.Context, country string) error {
	if err := o.do(ctx, http.MethodDelete, "/"+o.index(country), nil, nil); err != nil && statusOf(err) != http.StatusNotFound {
		return err
	}
	if err := o.EnsureIndex(ctx, country); err != nil {
		return err
	}
	return o.do(ctx, http.MethodPost, "/"+o.versions()+"/_delete_by_query?refresh=true&conflicts=proceed",
		map[string]any{"query": map[string]any{"term": map[string]any{"country": country}}}, nil)
}

// DropAll deletes every index under the prefix (tests clean up with it).
func (o *OpenSearch) DropAll(ctx context.Context) error {
	if o.prefix == "" {
		return errors.New("opensearch: DropAll needs an index prefix")
	}
	err := o.do(ctx, http.MethodDelete, "/"+o.prefix+"*", nil, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return err
}
