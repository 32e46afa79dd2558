package search_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/search"
	"github.com/careslot/careslot/subgraphs/search/indextest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// searchOp is the contract's SearchPractitioners (contract/patient-web.graphql).
const searchOp = `query SearchPractitioners($input: PractitionerSearchInput!, $first: Int, $after: String) {
  searchPractitioners(input: $input, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      distanceKm
      nextAvailableSlot
      location { id name city coordinates { lat lon } }
      practitioner {
        id
        displayName
        specialties { code label }
        languages
        acceptsNewPatients
        rating
      }
    }
  }
}`

type connection struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Edges []struct {
		Cursor            string
		DistanceKm        *float64
		NextAvailableSlot *time.Time
		Location          struct {
			ID, Name, City string
			Coordinates    struct{ Lat, Lon float64 }
		}
		Practitioner struct {
			ID, DisplayName    string
			Specialties        []struct{ Code, Label string }
			Languages          []string
			AcceptsNewPatients bool
			Rating             *float64
		}
	}
}

func searchPage(t *testing.T, srv *httptest.Server, vars map[string]any) connection {
	t.Helper()
	r := gqltest.Do(t, srv.URL, "", searchOp, vars)
	data, errs := r.Field("searchPractitioners"), r.Errors
	if len(errs) > 0 {
		t.Fatalf("search %v: %+v", vars, errs)
	}
	var c connection
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSubgraph(t *testing.T, deps search.Deps) *search.Subgraph {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	deps.Redis, deps.KeyPrefix, deps.Countries, deps.Logger = rdb, prefix, countries.MustDefault(), quiet()
	sg, err := search.New(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// fixtureServer serves a search subgraph loaded with the index fixture.
func fixtureServer(t *testing.T) (indextest.Fixture, *httptest.Server) {
	t.Helper()
	sg := newSubgraph(t, search.Deps{Now: func() time.Time { return indextest.Now }})
	fx := indextest.NewFixture()
	err := sg.Load(context.Background(), func(fn func([]eventdata.Practitioner) error) error {
		return fn(fx.Practitioners)
	}, func(fn func([]eventdata.Availability) error) error {
		var batch []eventdata.Availability
		for _, p := range fx.Practitioners {
			batch = append(batch, eventdata.Availability{PractitionerID: p.ID, Country: p.Country, NextAvailableSlot: fx.Next[p.ID]})
		}
		return fn(batch)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sg.Handler())
	t.Cleanup(srv.Close)
	return fx, srv
}

func TestGraphQL(t *testing.T) {
	t.Parallel()
	fx, srv := fixtureServer(t)

	paris := map[string]any{"lat": 48.8566, "lon": 2.3522, "radiusKm": 30}
	c := searchPage(t, srv, map[string]any{"input": map[string]any{
		"country": "fr", "specialty": "general-practice", "near": paris, "sort": "DISTANCE", "text": "émilie",
	}})
	if c.TotalCount != 1 || len(c.Edges) != 1 || c.PageInfo.HasNextPage || c.PageInfo.EndCursor == nil {
		t.Fatalf("connection = %+v", c)
	}
	e := c.Edges[0]
	if e.Location.ID != "l1" || e.Location.Name != "Cabinet Rivoli" || e.Location.City != "Paris" || e.Location.Coordinates.Lat != 48.8566 ||
		e.Practitioner.ID != "p1" || e.Practitioner.DisplayName != "Dr Émilie Durand" || len(e.Practitioner.Specialties) != 1 ||
		e.Practitioner.Specialties[0].Label != "Médecin généraliste" || strings.Join(e.Practitioner.Languages, ",") != "fr,en" ||
		!e.Practitioner.AcceptsNewPatients || e.Practitioner.Rating == nil || *e.Practitioner.Rating != 4.8 ||
		e.DistanceKm == nil || *e.DistanceKm > 0.001 || e.NextAvailableSlot == nil || !e.NextAvailableSlot.Equal(*fx.Next["p1"]) ||
		e.Cursor != *c.PageInfo.EndCursor {
		t.Fatalf("edge = %+v", e)
	}

	// Walk all of France 20 at a time (the default page size).
	var walked []string
	vars := map[string]any{"input": map[string]any{"country": "fr", "sort": "SOONEST"}}
	for {
		c := searchPage(t, srv, vars)
		if c.TotalCount != 45 {
			t.Fatalf("totalCount = %d", c.TotalCount)
		}
		for _, e := range c.Edges {
			walked = append(walked, e.Location.ID)
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		if len(c.Edges) != 20 {
			t.Fatalf("page of %d", len(c.Edges))
		}
		vars["after"] = *c.PageInfo.EndCursor
	}
	seen := map[string]bool{}
	for _, id := range walked {
		if seen[id] {
			t.Fatalf("%s twice", id)
		}
		seen[id] = true
	}
	if len(walked) != 45 || walked[0] != "l1" {
		t.Fatalf("walked %d: %v", len(walked), walked)
	}

	// Entities are resolved from the index too, in one batch.
	r := gqltest.Do(t, srv.URL, "", `query($r: [_Any!]!) { _entities(representations: $r) {
		... on Practitioner { id displayName specialties { code label } }
		... on Location { id city coordinates { lat lon } } } }`, map[string]any{"r": []any{
		map[string]any{"__typename": "Practitioner", "id": "p4"},
		map[string]any{"__typename": "Location", "id": "l4b"},
		map[string]any{"__typename": "Practitioner", "id": "nope"},
	}})
	data, errs := r.Field("_entities"), r.Errors
	if len(errs) > 0 {
		t.Fatalf("entities: %+v", errs)
	}
	var ents []map[string]any
	if err := json.Unmarshal(data, &ents); err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 || ents[0]["displayName"] != "Dr Paul Bernard" || ents[1]["city"] != "Lyon" || ents[2] != nil {
		t.Fatalf("entities = %s", data)
	}

	bad := map[string]map[string]any{
		"unknown country":     {"input": map[string]any{"country": "zz"}},
		"upper-case country":  {"input": map[string]any{"country": "FR"}},
		"unknown specialty":   {"input": map[string]any{"country": "fr", "specialty": "astrology"}},
		"zero radius":         {"input": map[string]any{"country": "fr", "near": map[string]any{"lat": 48.8, "lon": 2.3, "radiusKm": 0}}},
		"radius over 500":     {"input": map[string]any{"country": "fr", "near": map[string]any{"lat": 48.8, "lon": 2.3, "radiusKm": 500.5}}},
		"latitude 91":         {"input": map[string]any{"country": "fr", "near": map[string]any{"lat": 91, "lon": 2.3, "radiusKm": 5}}},
		"longitude -181":      {"input": map[string]any{"country": "fr", "near": map[string]any{"lat": 48, "lon": -181, "radiusKm": 5}}},
		"first 0":             {"input": map[string]any{"country": "fr"}, "first": 0},
		"first 101":           {"input": map[string]any{"country": "fr"}, "first": 101},
		"garbage cursor":      {"input": map[string]any{"country": "fr"}, "after": "not a cursor!"},
		"base64 non-cursor":   {"input": map[string]any{"country": "fr"}, "after": "eyJ4IjoxfQ"},
		"cursor of a sort":    {"input": map[string]any{"country": "fr", "sort": "RELEVANCE"}, "after": *c.PageInfo.EndCursor},
		"distance, no near":   {"input": map[string]any{"country": "fr", "sort": "DISTANCE"}},
		"within -1 days":      {"input": map[string]any{"country": "fr", "availableWithinDays": -1}},
		"within 366 days":     {"input": map[string]any{"country": "fr", "availableWithinDays": 366}},
		"bad key in a cursor": {"input": map[string]any{"country": "fr"}, "after": "eyJzIjoiUkVMRVZBTkNFIiwidCI6MSwiayI6WzEsMiwzXX0"},
	}
	for name, vars := range bad {
		r := gqltest.Do(t, srv.URL, "", searchOp, vars)
		data, errs := r.Field("searchPractitioners"), r.Errors
		if len(errs) != 1 || errs[0].Code() != "INVALID_INPUT" {
			t.Errorf("%s: errors = %+v, data = %s; want one INVALID_INPUT", name, errs, data)
		}
	}
}

func TestConsumer(t *testing.T) {
	t.Parallel()
	brokers, prefix := kafkatest.Brokers(t), kafkatest.TopicPrefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}
	sg := newSubgraph(t, search.Deps{KafkaBrokers: brokers, TopicPrefix: prefix})
	srv := httptest.NewServer(sg.Handler())
	t.Cleanup(srv.Close)
	done := make(chan error, 1)
	for _, w := range sg.Workers() {
		go func() { done <- w(ctx) }()
	}
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-sg.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("consumer not ready")
	}

	producer, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	produce := func(topic, eventType, key string, data any) {
		t.Helper()
		ev, err := events.New(events.Source("test"), eventType, key, data)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ev.Encode()
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: kafka.Topic(prefix, topic), Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]any{"input": map[string]any{"country": "fr", "text": "kafka"}}
	// wait polls until ok; vary makes every poll a new cache key (by page size).
	wait := func(what string, vary bool, ok func(connection) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for attempt := 0; ; attempt++ {
			if vary {
				vars["first"] = 100 - attempt%99
			}
			c := searchPage(t, srv, vars)
			if ok(c) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %+v", what, c)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if c := searchPage(t, srv, vars); c.TotalCount != 0 { // and now it is cached for 45 s…
		t.Fatalf("before: %+v", c)
	}
	p := eventdata.Practitioner{ID: "pk", Version: 1, Country: "fr", DisplayName: "Dr Kafka Consumer", Specialties: []string{"ent"},
		Languages: []string{"fr"}, AcceptsNewPatients: true,
		Locations:        []eventdata.Location{{ID: "lk", Name: "Cabinet", City: "Lille", Country: "fr", Lat: 50.63, Lon: 3.06}},
		AppointmentTypes: []eventdata.AppointmentType{{ID: "tk", Name: "Consultation", VisitMode: "IN_PERSON", OnlineBookable: true}}}
	produce(events.PractitionerEvents, "careslot.practitioner.PractitionerRegistered.v1", p.ID, p)
	// …but the snapshot bumps the country's cache generation: seen at once.
	wait("snapshot", false, func(c connection) bool {
		return c.TotalCount == 1 && c.Edges[0].Practitioner.DisplayName == "Dr Kafka Consumer"
	})

	next := time.Now().Add(3 * time.Hour).Truncate(time.Minute).UTC()
	produce(events.AvailabilityEvents, eventdata.AvailabilityChanged, p.ID, eventdata.Availability{PractitionerID: p.ID, Country: "fr", NextAvailableSlot: &next})
	// Availability does not invalidate cached pages (they may lag for the TTL),
	// so these polls vary the key.
	vars["input"].(map[string]any)["availableWithinDays"] = 1
	wait("availability", true, func(c connection) bool {
		return c.TotalCount == 1 && c.Edges[0].NextAvailableSlot != nil && c.Edges[0].NextAvailableSlot.Equal(next)
	})

	delete(vars, "first")
	p.Version, p.Locations = 2, nil
	produce(events.PractitionerEvents, "careslot.practitioner.PractitionerProfileUpdated.v1", p.ID, p)
	wait("removal", false, func(c connection) bool { return c.TotalCount == 0 })
}

// TestSearchEdgeSelection: a page's edges write themselves
// (model.SearchEdges.MarshalGQLContext) rather than through gqlgen's
// field-by-field executor, and must still answer exactly what was selected:
// aliases, __typename at every level, named and inline fragments (on the
// type and on _Entity), @skip/@include, nested selections, in the order asked.
func TestSearchEdgeSelection(t *testing.T) {
	t.Parallel()
	fx, srv := fixtureServer(t)

	const query = `query($input: PractitionerSearchInput!, $withSlot: Boolean!) {
  searchPractitioners(input: $input) {
    pageInfo { endCursor }
    edges {
      __typename
      at: cursor
      nextAvailableSlot @include(if: $withSlot)
      cursor @skip(if: true)
      where: location { ...Place coordinates { lon __typename lat } }
      practitioner {
        ... on _Entity { __typename }
        id
        name: displayName
        specialties { label kind: __typename code }
        languages
        ... on Practitioner { acceptsNewPatients rating }
      }
    }
  }
}
fragment Place on Location { id city }`
	input := map[string]any{"country": "fr", "specialty": "general-practice", "text": "émilie"}
	for _, withSlot := range []bool{true, false} {
		res := gqltest.Do(t, srv.URL, "", query, map[string]any{"input": input, "withSlot": withSlot})
		if len(res.Errors) > 0 {
			t.Fatalf("errors: %+v", res.Errors)
		}
		var page struct {
			PageInfo struct{ EndCursor string }
			Edges    []json.RawMessage
		}
		if err := json.Unmarshal(res.Field("searchPractitioners"), &page); err != nil || len(page.Edges) != 1 {
			t.Fatalf("%v: %s", err, res.Data)
		}
		want := `{"__typename":"PractitionerSearchEdge","at":` + strconv.Quote(page.PageInfo.EndCursor) + `,`
		if withSlot {
			want += `"nextAvailableSlot":"` + fx.Next["p1"].Format(time.RFC3339Nano) + `",`
		}
		want += `"where":{"id":"l1","city":"Paris","coordinates":{"lon":2.3522,"__typename":"Coordinates","lat":48.8566}},` +
			`"practitioner":{"__typename":"Practitioner","id":"p1","name":"Dr Émilie Durand",` +
			`"specialties":[{"label":"Médecin généraliste","kind":"Specialty","code":"general-practice"}],` +
			`"languages":["fr","en"],"acceptsNewPatients":true,"rating":4.8}}`
		if string(page.Edges[0]) != want {
			t.Errorf("withSlot=%v:\n got %s\nwant %s", withSlot, page.Edges[0], want)
		}
	}
}
