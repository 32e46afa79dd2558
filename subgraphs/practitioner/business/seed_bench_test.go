package business_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/seed"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// BenchmarkSeedImport imports 20,000 seed practices per iteration the way
// `careslot seed` does (batches of 1,000, a worker per core, every served
// country), into a fresh database ("new"), then imports the same practices
// again ("reseed": nothing changes, nothing is written), then imports them
// changed ("update": a new bio, the first rule shorter, so each practice's
// profile and one location's rules are rewritten). It reports practitioners/s and, because this machine's
// cores are shared, the CPU time spent per practitioner by this process and
// by the database server's processes serving the benchmark's connections
// (read from /proc, when the server runs on this machine): the cost that
// bounds the rate on an idle machine.
func BenchmarkSeedImport(b *testing.B) {
	const total, batch = 20000, 1000
	cat := countries.MustDefault()
	codes := cat.Codes()
	type job struct {
		country string
		from    int
	}
	var jobs []job
	for i, cc := range codes {
		n := total / len(codes)
		if i == len(codes)-1 {
			n = total - n*(len(codes)-1)
		}
		for from := 0; from < n; from += batch {
			jobs = append(jobs, job{cc, from})
		}
	}
	rowsOf := func(j job) []business.ImportRow {
		c, _ := cat.Get(j.country)
		gen := seed.NewGenerator(c, uint64(j.from))
		rows := make([]business.ImportRow, 0, batch)
		for i := range batch {
			rows = append(rows, gen.Row(j.from+i))
		}
		return rows
	}
	seedAll := func(svc *business.Service, changed bool) error {
		g, ctx := errgroup.WithContext(admin)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for _, j := range jobs {
			g.Go(func() error {
				rows := rowsOf(j)
				if changed {
					for i := range rows {
						rows[i].Bio = ptr("Nouvelle bio")
						rows[i].OpeningHours[0].EndMinute -= 30
					}
				}
				res, err := svc.Import(ctx, rows)
				if err == nil && len(res.Failed) > 0 {
					b.Errorf("refused: %+v", res.Failed[0])
				}
				return err
			})
		}
		return g.Wait()
	}
	newSvc := func() (*business.Service, *pgxpool.Pool) {
		pool, _ := testenv.NewDatabase(b, "practitioner")
		st := store.New(pool)
		if err := st.EnsurePartitions(context.Background(), codes); err != nil {
			b.Fatal(err)
		}
		return business.New(st, cat), pool
	}
	for _, mode := range []string{"new", "reseed", "update"} {
		b.Run(mode, func(b *testing.B) {
			var spent, goCPU, dbCPU time.Duration
			for range b.N {
				b.StopTimer()
				svc, pool := newSvc()
				if mode != "new" {
					if err := seedAll(svc, false); err != nil {
						b.Fatal(err)
					}
				}
				before := readCPU(b, pool)
				b.StartTimer()
				start := time.Now()
				if err := seedAll(svc, mode == "update"); err != nil {
					b.Fatal(err)
				}
				spent += time.Since(start)
				after := readCPU(b, pool)
				goCPU += after.self - before.self
				dbCPU += after.serverSince(before)
			}
			n := float64(b.N * total)
			b.ReportMetric(n/spent.Seconds(), "practitioners/s")
			b.ReportMetric(float64(goCPU.Microseconds())/n, "go-cpu-µs/practitioner")
			b.ReportMetric(float64(dbCPU.Microseconds())/n, "db-cpu-µs/practitioner")
		})
	}
}

// cpuTimes is the CPU time used so far by this process and by each server
// process serving the pool's database.
type cpuTimes struct {
	self    time.Duration
	servers map[int]time.Duration
}

// serverSince is the server CPU time used since an earlier reading.
func (c cpuTimes) serverSince(before cpuTimes) time.Duration {
	var d time.Duration
	for pid, t := range c.servers {
		d += t - before.servers[pid]
	}
	return d
}

func readCPU(b *testing.B, pool *pgxpool.Pool) cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	out := cpuTimes{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), servers: map[int]time.Duration{}}
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // the server runs elsewhere: no server figure
		}
		// Fields 14 and 15 (utime, stime) follow the ")" that ends the
		// command name; they count clock ticks (100 a second on Linux).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out.servers[int(pid)] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}
