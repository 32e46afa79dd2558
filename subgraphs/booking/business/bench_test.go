package business_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

// BenchmarkBook measures the whole booking transaction (business.Book: key
// claim, hold expiry, decision, insert against the exclusion constraints,
// outbox event, stored answer) with 32 concurrent clients over 20
// practitioners' slots. "distinct": every attempt aims at a free slot;
// "contended": every slot is wanted by two clients at once, so half the
// attempts end in SLOT_UNAVAILABLE. It reports bookings/s (successful ones)
// and attempts/s.
func BenchmarkBook(b *testing.B) {
	for _, c := range []struct {
		name    string
		perSlot int
	}{{"distinct", 1}, {"contended", 2}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b, business.Options{})
			docs := make([]string, 20)
			for i := range docs {
				p := practice(uuid.NewString(), 1)
				p.Absences = nil
				e.applyPractitioner(p)
				docs[i] = p.ID
			}
			// 20 half-hour starts a day (08:00–17:30) for 80 days from Tuesday.
			const perDay, days = 20, 80
			slot := func(k int64) (string, time.Time) {
				doc := docs[k%int64(len(docs))]
				j := (k / int64(len(docs))) % (perDay * days)
				day, n := j/perDay, j%perDay
				return doc, tuesday(8, 0).AddDate(0, 0, int(day)).Add(time.Duration(n) * 30 * time.Minute)
			}
			var next, booked, refused atomic.Int64
			b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := next.Add(1) - 1
					doc, start := slot(k / int64(c.perSlot))
					_, err := e.svc.Book(asPatient(uuid.NewString()), business.BookInput{PractitionerID: doc,
						AppointmentTypeID: typeA, StartsAt: start, IdempotencyKey: "bench"})
					switch {
					case err == nil:
						booked.Add(1)
					case apperr.CodeOf(err) == apperr.SlotUnavailable:
						refused.Add(1)
					default:
						b.Error(err)
						return
					}
				}
			})
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(booked.Load())/secs, "bookings/s")
			b.ReportMetric(float64(booked.Load()+refused.Load())/secs, "attempts/s")
			b.StopTimer()
			e.checkInvariants()
		})
	}
}
