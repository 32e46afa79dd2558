package availability_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

var (
	rebuildN      = flag.Int("rebuild.n", 20000, "BenchmarkRebuild: practitioners")
	rebuildBooked = flag.Int("rebuild.booked", 10, "BenchmarkRebuild: average occupied ranges per practitioner")
)

// uuidOf is a deterministic id shaped like the stores' UUIDs (key and
// snapshot sizes depend on it).
func uuidOf(kind, n int) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", n, kind, n*7919)
}

// seedLikePractitioner is a practice shaped like the seed's (practitioner
// service's seed package, not imported: subgraphs do not import each other):
// one location (two for a sixth), a consultation of 15, 20 or 30 minutes
// (one hour's notice, 60 days' horizon), a video type for a third, weekday
// mornings 08:30–12:00 and afternoons 14:00–18:30 every 15 minutes, Saturday
// mornings for a third; a fifth accept no new patients.
func seedLikePractitioner(rng *rand.Rand, n int) eventdata.Practitioner {
	id := uuidOf(1, n)
	accepts := rng.IntN(5) != 0
	p := eventdata.Practitioner{
		ID: id, Version: 1, Country: "fr", FirstName: "Claire", LastName: "Dubois", DisplayName: "Dr Claire Dubois",
		Specialties: []string{"general-practice"}, Languages: []string{"fr", "en"}, AcceptsNewPatients: accepts,
	}
	nLocs := 1
	if rng.IntN(6) == 0 {
		nLocs = 2
	}
	for i := range nLocs {
		p.Locations = append(p.Locations, eventdata.Location{
			ID: uuidOf(2, 2*n+i), Name: fmt.Sprintf("Cabinet Paris %d", i+1), Line1: fmt.Sprintf("%d rue de la Santé", 1+rng.IntN(200)),
			PostalCode: fmt.Sprintf("%05d", 1000+rng.IntN(98000)), City: "Paris", Country: "fr",
			Lat: 48.85 + rng.Float64()/10, Lon: 2.35 + rng.Float64()/10, TimeZone: "Europe/Paris",
		})
	}
	consult := eventdata.AppointmentType{ID: uuidOf(3, 2*n), Name: "Consultation", DurationMinutes: []int{15, 20, 30}[rng.IntN(3)],
		VisitMode: "IN_PERSON", NewPatientsAllowed: accepts, OnlineBookable: true, MinNoticeMinutes: 60, BookingHorizonDays: 60}
	p.AppointmentTypes = []eventdata.AppointmentType{consult}
	if rng.IntN(3) == 0 {
		p.AppointmentTypes = append(p.AppointmentTypes, eventdata.AppointmentType{ID: uuidOf(3, 2*n+1), Name: "Téléconsultation",
			DurationMinutes: 15, VisitMode: "VIDEO", NewPatientsAllowed: accepts, OnlineBookable: true, MinNoticeMinutes: 60, BookingHorizonDays: 60})
	}
	var types []string
	for _, t := range p.AppointmentTypes {
		types = append(types, t.ID)
	}
	rule := func(loc, weekday int, from, to string) {
		p.OpeningHours = append(p.OpeningHours, eventdata.OpeningHours{ID: uuidOf(4, 16*n+len(p.OpeningHours)),
			LocationID: p.Locations[loc].ID, Weekday: weekday, StartTime: from, EndTime: to, StepMinutes: 15, AppointmentTypeIDs: types})
	}
	for day := 1; day <= 5; day++ {
		rule(0, day, "08:30", "12:00")
		loc := 0
		if nLocs == 2 && day%2 == 0 {
			loc = 1
		}
		rule(loc, day, "14:00", "18:30")
	}
	if rng.IntN(3) == 0 {
		rule(0, 6, "09:00", "12:00")
	}
	p.Absences = []eventdata.Absence{}
	return p
}

// seedLikeOccupied books about booked consultations of p over the four weeks
// from start, on its weekday opening hours; one in ten is a live hold.
func seedLikeOccupied(rng *rand.Rand, n int, p eventdata.Practitioner, booked int) []eventdata.Appointment {
	t := p.AppointmentTypes[0]
	var out []eventdata.Appointment
	taken := map[time.Time]bool{}
	for i := range rng.IntN(2*booked + 1) {
		day := rng.IntN(28)
		if wd := at(day, 12, 0).Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		// A start on the 15-minute grid of 08:30–12:00 or 14:00–18:30.
		m := 8*60 + 30 + 15*rng.IntN(14)
		if rng.IntN(2) == 0 {
			m = 14*60 + 15*rng.IntN(18)
		}
		when := at(day, m/60, m%60)
		if taken[when] {
			continue
		}
		taken[when] = true
		status := eventdata.StatusConfirmed
		if rng.IntN(10) == 0 {
			status = eventdata.StatusHeld
		}
		out = append(out, appointment(p, uuidOf(5, 64*n+i), t.ID, when, 1+int64(rng.IntN(3)), status))
	}
	return out
}

// BenchmarkRebuild rebuilds -rebuild.n seed-shaped practitioners with about
// -rebuild.booked occupied ranges each, over a model that already holds
// them (as `careslot rebuild availability` finds it), and reports the rate
// and what Redis holds per practitioner. Run with -benchtime 1x: one
// rebuild of 20,000 takes seconds.
//
//	go test ./subgraphs/availability/ -run XXX -bench BenchmarkRebuild -benchtime 1x
func BenchmarkRebuild(b *testing.B) {
	e := newEnv(b, nil, "")
	ctx := context.Background()
	// The test environment deletes its keys one by one; a model this size
	// needs pipelined UNLINKs (this runs first: cleanups are LIFO).
	b.Cleanup(func() { unlinkPrefix(b, e.rdb, e.prefix) })

	rng := rand.New(rand.NewPCG(7, 11))
	n := *rebuildN
	ps := make([]eventdata.Practitioner, n)
	var occ []eventdata.Appointment
	for i := range ps {
		ps[i] = seedLikePractitioner(rng, i)
		occ = append(occ, seedLikeOccupied(rng, i, ps[i], *rebuildBooked)...)
	}
	// Streams in the exports' batches of 1,000, in a practitioner order
	// unrelated to the occupied ranges' (booking exports by appointment).
	rng.Shuffle(len(occ), func(i, j int) { occ[i], occ[j] = occ[j], occ[i] })
	// When the occupied stream starts and ends (with Redis's CPU time then),
	// to tell the phases apart.
	var occStart, occEnd time.Time
	var occStartCPU, occEndCPU float64
	practitioners := func(fn func([]eventdata.Practitioner) error) error {
		for i := 0; i < n; i += 1000 {
			if err := fn(slices.Clone(ps[i:min(i+1000, n)])); err != nil {
				return err
			}
		}
		return nil
	}
	occupied := func(fn func([]eventdata.Appointment) error) error {
		occStart, occStartCPU = time.Now(), redisCPU(b, e.rdb)
		defer func() { occEnd, occEndCPU = time.Now(), redisCPU(b, e.rdb) }()
		for i := 0; i < len(occ); i += 1000 {
			if err := fn(slices.Clone(occ[i:min(i+1000, len(occ))])); err != nil {
				return err
			}
		}
		return nil
	}

	usedBefore := redisInfoInt(b, e.rdb, "memory", "used_memory")
	// The model exists before a rebuild (the consumers built it).
	if err := e.sg.Rebuild(ctx, practitioners, occupied); err != nil {
		b.Fatal(err)
	}
	cpuBefore, goBefore := redisCPU(b, e.rdb), processCPU(b)
	for b.Loop() {
		t0, cpu0 := time.Now(), redisCPU(b, e.rdb)
		if err := e.sg.Rebuild(ctx, practitioners, occupied); err != nil {
			b.Fatal(err)
		}
		end, cpu1 := time.Now(), redisCPU(b, e.rdb)
		b.Logf("rebuild of %d practitioners, %d occupied ranges: %v, Redis CPU %.2fs; the occupied stream ran %v→%v after the start, Redis CPU %.2fs before it, %.2fs during it",
			n, len(occ), end.Sub(t0).Round(time.Millisecond), cpu1-cpu0, occStart.Sub(t0).Round(time.Millisecond), occEnd.Sub(t0).Round(time.Millisecond),
			occStartCPU-cpu0, occEndCPU-occStartCPU)
	}
	b.StopTimer()
	redisSeconds, goSeconds := redisCPU(b, e.rdb)-cpuBefore, processCPU(b)-goBefore
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "practitioners/s")
	// CPU time, unlike wall time, hardly depends on what else the machine
	// runs: on two dedicated cores a rebuild takes about the larger of the
	// two, and at least half their sum.
	b.ReportMetric(redisSeconds/float64(b.N), "redis-cpu-s/op")
	b.ReportMetric(goSeconds/float64(b.N), "go-cpu-s/op")

	waitLazyFree(b, e.rdb)
	used := redisInfoInt(b, e.rdb, "memory", "used_memory") - usedBefore
	kinds, keys, bytes := modelMemory(b, e.rdb, e.prefix)
	b.ReportMetric(float64(bytes)/float64(n), "redis-B/practitioner")
	b.ReportMetric(float64(keys)/float64(n), "keys/practitioner")
	b.Logf("INFO used_memory grew by %d B (%.0f B/practitioner; other users of this Redis add noise); MEMORY USAGE sum %d B over %d keys",
		used, float64(used)/float64(n), bytes, keys)
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		u := kinds[k]
		b.Logf("  %-8s %8d keys %10d B  %6.1f B/practitioner  %5.1f B/key", k, u.keys, u.bytes,
			float64(u.bytes)/float64(n), float64(u.bytes)/float64(u.keys))
	}
}

type kindUsage struct{ keys, bytes int64 }

// modelMemory sums MEMORY USAGE over every key under prefix, by kind (the
// key's name between the country and the hash tag).
func modelMemory(b *testing.B, rdb redis.UniversalClient, prefix string) (map[string]*kindUsage, int64, int64) {
	ctx := context.Background()
	out := map[string]*kindUsage{}
	var keys, total int64
	err := redisconn.Scan(ctx, rdb, prefix+"*", 5000, func(page []string) error {
		cmds := make([]*redis.IntCmd, len(page))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range page {
				cmds[i] = p.MemoryUsage(ctx, k)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return err
		}
		for i, k := range page {
			kind := keyKind(prefix, k)
			u := out[kind]
			if u == nil {
				u = &kindUsage{}
				out[kind] = u
			}
			u.keys++
			u.bytes += cmds[i].Val()
			keys++
			total += cmds[i].Val()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out, keys, total
}

// keyKind names a key by its kind: "record", "busy", … (store.Keys.KeyKind),
// else its name up to the hash tag.
func keyKind(prefix, k string) string {
	if kind := (store.Keys{Prefix: prefix}).KeyKind(k); kind != "" {
		return kind
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "{")
	name = strings.TrimSuffix(name, ":")
	if cc, rest, ok := strings.Cut(name, ":"); ok && len(cc) == 2 {
		name = rest
	}
	return name
}

func redisInfoInt(b *testing.B, rdb redis.UniversalClient, section, field string) int64 {
	v, _ := strconv.ParseFloat(redisInfo(b, rdb, section, field), 64)
	return int64(v)
}

// redisInfo reads one INFO field (of any one node on a cluster).
func redisInfo(b *testing.B, rdb redis.UniversalClient, section, field string) string {
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// redisCPU is the server's CPU time so far (user + system), in seconds.
func redisCPU(b *testing.B, rdb redis.UniversalClient) float64 {
	u, _ := strconv.ParseFloat(redisInfo(b, rdb, "cpu", "used_cpu_user"), 64)
	s, _ := strconv.ParseFloat(redisInfo(b, rdb, "cpu", "used_cpu_sys"), 64)
	return u + s
}

// processCPU is this process's CPU time so far (user + system), in seconds.
func processCPU(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// waitLazyFree waits until the server has freed what UNLINK handed to its
// background thread, so used_memory is the model's.
func waitLazyFree(b *testing.B, rdb redis.UniversalClient) {
	for range 100 {
		if redisInfoInt(b, rdb, "memory", "lazyfree_pending_objects") == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unlinkPrefix(b *testing.B, rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := redisconn.Scan(ctx, rdb, prefix+"*", 5000, func(keys []string) error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		return err
	})
	if err != nil {
		b.Error(err)
	}
}
