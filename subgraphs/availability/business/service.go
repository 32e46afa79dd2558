// Package business is the availability service: it keeps the Redis read
// model (day bitmaps of free 5-minute ticks, occupied ranges, next available
// slot) in step with practitioner and booking events, and lists open slots
// with slots.Open, the decision function booking accepts with.
package business

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

const (
	// DefaultWindowDays is how many local days, from today, have a stored bitmap.
	DefaultWindowDays = 28
	// DefaultLiveRecheck is how long a live listing goes without a message
	// before it lists again. Redis Cluster's classic pub/sub loses messages
	// without an error while its bus links are re-established (a failover,
	// an overloaded node), and slots leave a listing as their notice runs
	// out without any change being published: either would leave a watcher
	// holding a stale list until the practitioner's next change.
	DefaultLiveRecheck = 10 * time.Second
	// MaxRangeDays bounds a listing.
	MaxRangeDays = 62
	// maxSearchDays bounds the search for a next available slot.
	maxSearchDays = 366
	// pastRetention is how long an occupied range is kept after it ended.
	pastRetention = 24 * time.Hour
	// goneRetention is how long a tombstone is kept after its range ended:
	// longer than the topics' retention, so no replay outlives it.
	goneRetention = 8 * 24 * time.Hour
)

// Publisher sends AvailabilityChanged to availability-events.
type Publisher interface {
	Publish(ctx context.Context, a eventdata.Availability) error
}

// Config builds a Service.
type Config struct {
	Store     *store.Store
	Countries *countries.Catalog // for a practitioner without locations; may be nil
	// WindowDays defaults to DefaultWindowDays.
	WindowDays int
	// Publisher may be nil (no Kafka): changes then go to the Redis channel only.
	Publisher Publisher
	Logger    *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Hub fans the Redis change channel out to live listings (WatchSlots);
	// nil: no live listings.
	Hub *livehub.Hub
	// LiveRecheck is how long a live listing waits without a message before
	// it lists again (DefaultLiveRecheck when zero; negative: never).
	LiveRecheck time.Duration
}

// Service is the availability business layer.
type Service struct {
	st     *store.Store
	cat    *countries.Catalog
	window int
	pub    Publisher
	log    *slog.Logger
	now    func() time.Time
	hub    *livehub.Hub
	live   listings // shares recomputations among watchers of one listing
	// recheck: see Config.LiveRecheck (0: never).
	recheck time.Duration

	cacheMu sync.Mutex
	cache   map[string]cachedAgenda
}

type cachedAgenda struct {
	raw string
	ag  *Agenda
}

const agendaCacheSize = 20000

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.WindowDays <= 0 {
		cfg.WindowDays = DefaultWindowDays
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.LiveRecheck == 0:
		cfg.LiveRecheck = DefaultLiveRecheck
	case cfg.LiveRecheck < 0:
		cfg.LiveRecheck = 0
	}
	return &Service{st: cfg.Store, cat: cfg.Countries, window: cfg.WindowDays, pub: cfg.Publisher,
		log: cfg.Logger, now: cfg.Now, hub: cfg.Hub, recheck: cfg.LiveRecheck, cache: map[string]cachedAgenda{}}
}

// WindowDays is the number of stored days.
func (s *Service) WindowDays() int { return s.window }

func (s *Service) fallbackZone(cc string) *time.Location {
	if s.cat == nil {
		return nil
	}
	if c, ok := s.cat.Get(cc); ok {
		return c.Location()
	}
	return nil
}

// AgendaOf converts a snapshot as the service does.
func (s *Service) AgendaOf(p eventdata.Practitioner) *Agenda {
	return agendaOf(p, s.fallbackZone(p.Country))
}

// recordAgenda is the agenda of a practitioner's record (nil: none, or
// unreadable, which is logged: a rebuild rewrites it).
func (s *Service) recordAgenda(pid string, st *store.State) *Agenda {
	if st.RecordErr != nil {
		s.log.Warn("unreadable availability record; run `careslot rebuild availability`", "practitioner", pid, "err", st.RecordErr)
	}
	if st.Record == nil {
		return nil
	}
	ag, err := s.cachedAgenda(pid, st.Record.Terms)
	if err != nil {
		s.log.Warn("unreadable availability terms; run `careslot rebuild availability`", "practitioner", pid, "err", err)
		return nil
	}
	return ag
}

// cachedAgenda decodes a record's terms, through a small cache keyed by
// practitioner and checked against the stored bytes.
func (s *Service) cachedAgenda(pid string, terms []byte) (*Agenda, error) {
	s.cacheMu.Lock()
	c, ok := s.cache[pid]
	s.cacheMu.Unlock()
	if ok && c.raw == string(terms) {
		return c.ag, nil
	}
	ag, err := decodeTerms(pid, terms)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	if len(s.cache) >= agendaCacheSize {
		clear(s.cache)
	}
	s.cache[pid] = cachedAgenda{raw: string(terms), ag: ag}
	s.cacheMu.Unlock()
	return ag, nil
}

// civilDate is a local calendar date.
type civilDate struct{ t time.Time } // midnight UTC of the date

func dateOf(t time.Time, zone *time.Location) civilDate {
	y, m, d := t.In(zone).Date()
	return civilDate{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func parseDate(s string) (civilDate, error) {
	t, err := time.Parse(time.DateOnly, s)
	return civilDate{t}, err
}

func (c civilDate) add(days int) civilDate { return civilDate{c.t.AddDate(0, 0, days)} }
func (c civilDate) String() string         { return c.t.Format(time.DateOnly) }

// dateRange lists the dates from a to b inclusive.
func dateRange(a, b civilDate) []string {
	var out []string
	for c := a; !c.t.After(b.t); c = c.add(1) {
		out = append(out, c.String())
	}
	return out
}

// windowDates are the dates with a stored bitmap at now in zone: the window
// (today and the next window-1 days) and one day either side of it, so that
// a listing of the window, whose buffers may reach across midnight, reads
// stored days only.
func (s *Service) windowDates(zone *time.Location, now time.Time) []string {
	today := dateOf(now, zone)
	return dateRange(today.add(-1), today.add(s.window))
}

// dayOf turns a stored bitmap (whose trailing zero bytes the record
// dropped) into a slots.Day.
func dayOf(date string, zone *time.Location, bits []byte) (slots.Day, error) {
	d, err := slots.NewDay(date, zone)
	if err != nil {
		return slots.Day{}, err
	}
	if len(bits) > len(d.Free) {
		d.Free = slots.Bitmap(bits)
	} else {
		copy(d.Free, bits)
	}
	return d, nil
}

// sameBits compares two bitmaps, a missing byte counting as clear.
func sameBits(a, b []byte) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	for _, x := range b[len(a):] {
		if x != 0 {
			return false
		}
	}
	return true
}

// nextSlot finds the soonest open start of any online-bookable type open to
// new patients (one anyone may book), from now, over the days that day returns (stored or
// built); it also says until when that answer holds (the start minus the
// type's minimum notice), zero when there is none.
func nextSlot(ag *Agenda, now time.Time, day func(date string) (slots.Day, error)) (*time.Time, time.Time, error) {
	limit := 0
	var types []slots.Type
	for _, t := range ag.Types {
		// Only types anyone may book: the next slot is public (search
		// filters and sorts by it) and must be one a new patient can book.
		if t.OnlineBookable && t.NewPatientsAllowed && t.Duration > 0 && t.HorizonDays > 0 {
			types = append(types, t)
			limit = max(limit, t.HorizonDays+1)
		}
	}
	if len(types) == 0 || len(ag.Rules) == 0 {
		return nil, time.Time{}, nil
	}
	limit = min(limit, maxSearchDays)
	req := slots.Request{Now: now, Online: true, NewPatient: true}
	today := dateOf(now, ag.Zone)
	// The days are searched in chunks that grow to a week: the soonest slot
	// is usually within the first days, and slots.Open lists every slot of
	// its range. The first chunk with a slot has the soonest one.
	chunk := 1
	days := map[string]slots.Day{}
	get := func(date string) (slots.Day, error) {
		if d, ok := days[date]; ok {
			return d, nil
		}
		d, err := day(date)
		if err == nil {
			days[date] = d
		}
		return d, err
	}
	for off := 0; off < limit; off, chunk = off+chunk, min(2*chunk, 7) {
		first, last := today.add(off), today.add(min(off+chunk, limit)-1)
		var list []slots.Day
		for _, date := range dateRange(first.add(-1), last.add(1)) {
			d, err := get(date)
			if err != nil {
				return nil, time.Time{}, err
			}
			list = append(list, d)
		}
		from, to := list[1].Start, list[len(list)-1].Start
		if from.Before(now) {
			from = now
		}
		var best time.Time
		var until time.Time
		for _, t := range types {
			open := slots.Open(list, ag.Rules, t, req, from, to)
			if len(open) == 0 {
				continue
			}
			st := open[0].Start
			valid := st.Add(-max(t.MinNotice, 0))
			switch {
			case best.IsZero() || st.Before(best):
				best, until = st, valid
			case st.Equal(best) && valid.After(until):
				until = valid
			}
		}
		if !best.IsZero() {
			b := best.UTC()
			return &b, until, nil
		}
	}
	return nil, time.Time{}, nil
}

// nextMidnight is the start of the local day after now's.
func nextMidnight(zone *time.Location, now time.Time) time.Time {
	d, err := slots.NewDay(dateOf(now, zone).add(1).String(), zone)
	if err != nil {
		return now.Add(24 * time.Hour)
	}
	return d.Start
}

// mergePending combines an unpublished change with a new one.
func mergePending(prev []byte, a eventdata.Availability) eventdata.Availability {
	if prev == nil {
		return a
	}
	var p eventdata.Availability
	if json.Unmarshal(prev, &p) != nil {
		return a
	}
	dates := append(p.ChangedDates, a.ChangedDates...)
	slices.Sort(dates)
	a.ChangedDates = slices.Compact(dates)
	return a
}
