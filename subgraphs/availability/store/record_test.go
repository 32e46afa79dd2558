package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/internal/testenv"
)

// TestOnRedisCluster runs the tests that touch Redis again on a Redis
// Cluster: the scripts' keys, the renames and the SCANs must work there.
func TestOnRedisCluster(t *testing.T) {
	testenv.RunOnRedisCluster(t, "TestReadSlotsReadsTheBusyHashOnlyWhenADayIsMissing",
		"TestClearModelCarriesTheFormerLayoutsTombstonesOver")
}

func day(n int, bits ...byte) []byte { return append(make([]byte, n), bits...) }

// TestRecordsReadBackTrimmed: a record reads back with its days less their
// trailing zero bytes (a missing byte reads as clear), gaps and closed days
// included; the header's fixed fields are where the listing script and
// GETRANGE read them; truncated or other-format bytes are refused.
func TestRecordsReadBackTrimmed(t *testing.T) {
	next := time.Date(2027, 3, 22, 8, 30, 0, 0, time.UTC)
	r := &Record{Country: "fr", Next: next, Terms: []byte{1, 2, 3}, Days: map[string][]byte{
		"2027-03-21": day(36),                      // closed
		"2027-03-22": day(12, 0xff, 0, 0x0f, 0, 0), // open mid-day, trailing zeros
		"2027-03-24": {0x80},                       // after a gap
		"2027-03-25": day(5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31),
	}}
	b, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Country != "fr" || !got.Next.Equal(next) || !bytes.Equal(got.Terms, r.Terms) {
		t.Errorf("read back %+v", got)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got.Days)), slices.Sorted(maps.Keys(r.Days))) {
		t.Fatalf("dates %v", slices.Sorted(maps.Keys(got.Days)))
	}
	for d, want := range r.Days {
		if g := got.Days[d]; !bytes.Equal(g, bytes.TrimRight(want, "\x00")) {
			t.Errorf("%s: %x, want %x", d, g, want)
		}
	}
	again, _ := encodeRecord(got)
	if !bytes.Equal(again, b) {
		t.Error("a record read back encodes differently")
	}
	first, _ := dayNumber("2027-03-21")
	if b[0] != recordFormat || int64(binary.BigEndian.Uint64(b[1:])) != next.Unix() ||
		binary.BigEndian.Uint32(b[9:]) != uint32(first) || binary.BigEndian.Uint16(b[13:]) != 5 {
		t.Errorf("header % x", b[:recordHeader])
	}
	if cc, at, err := decodeHead(b[:min(len(b), nextHead)]); err != nil || cc != "fr" || !at.Equal(next) {
		t.Errorf("head: %q %v %v", cc, at, err)
	}
	for n := range len(b) {
		if _, err := decodeRecord(b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decode", n, len(b))
		}
	}
	other := slices.Clone(b)
	other[0]++
	if _, err := decodeRecord(other); err != ErrRecordFormat {
		t.Errorf("another format: %v", err)
	}
	empty, _ := encodeRecord(&Record{Country: "de", Terms: []byte{1}})
	if got, err := decodeRecord(empty); err != nil || len(got.Days) != 0 || !got.Next.IsZero() {
		t.Errorf("no days, no next: %+v %v", got, err)
	}
}

// TestReadSlotsReadsTheBusyHashOnlyWhenADayIsMissing: within the record's
// days one script answers without the occupied ranges; a date outside them,
// or in a gap, brings them; a record of another format is an error for its
// practitioner only.
func TestReadSlotsReadsTheBusyHashOnlyWhenADayIsMissing(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := New(rdb, prefix)
	ctx := context.Background()
	rec := &Record{Country: "fr", Terms: []byte{1}, Days: map[string][]byte{
		"2027-03-21": {1}, "2027-03-22": {2}, "2027-03-24": {4},
	}}
	err := s.Update(ctx, "p", func(*State) (*Changes, error) {
		return &Changes{Record: rec, BusySet: map[string]string{"a": "1|CONFIRMED|0|1"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, s.Keys.Record("old"), "\x00not a record of this format", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadSlots(ctx, []SlotsQuery{
		{PractitionerID: "p", Dates: []string{"2027-03-21", "2027-03-22"}},
		{PractitionerID: "p", Dates: []string{"2027-03-22", "2027-03-23"}}, // a gap
		{PractitionerID: "p", Dates: []string{"2027-03-24", "2027-03-25"}}, // beyond
		{PractitionerID: "nobody", Dates: []string{"2027-03-21"}},
		{PractitionerID: "old", Dates: []string{"2027-03-21"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Record == nil || got[0].Busy != nil || got[0].Record.Days["2027-03-22"][0] != 2 {
		t.Errorf("within the days: %+v", got[0])
	}
	for i := 1; i <= 2; i++ {
		if got[i].Record == nil || got[i].Busy["a"] == "" {
			t.Errorf("query %d: no occupied ranges: %+v", i, got[i])
		}
	}
	if got[3].Record != nil || got[3].Err != nil {
		t.Errorf("unknown practitioner: %+v", got[3])
	}
	if got[4].Err == nil {
		t.Errorf("a record of another format read as %+v", got[4].Record)
	}
	nexts, err := s.ReadNext(ctx, []string{"p", "nobody", "old"})
	if err != nil || !nexts[0].Known || nexts[0].Country != "fr" || nexts[1].Known || nexts[2].Err == nil {
		t.Errorf("next: %+v %v", nexts, err)
	}
}

// TestClearModelCarriesTheFormerLayoutsTombstonesOver: a former layout is
// noticed until this one has a model; a rebuild's clear deletes the former
// layout's keys, renaming its tombstones into this layout's, keeps records
// and tombstones, and leaves other keys alone.
func TestClearModelCarriesTheFormerLayoutsTombstonesOver(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := New(rdb, prefix)
	ctx := context.Background()
	set := func(keys ...string) {
		for _, k := range keys {
			if err := rdb.Set(ctx, prefix+k, "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	set("pidx:{p}", "fr:sched:{p}", "fr:avail:{p}:2027-03-22", "fr:next:{p}", "fr:busy:{p}", "avail:due", "seen:{p}:person", "dedupe:x")
	if old, err := s.FormerLayout(ctx); err != nil || !old {
		t.Errorf("the former layout alone: %v %v", old, err)
	}
	set("av2:busy:{p}", "av2:pending:{p}", "av2:due", "av2:p:{p}")
	if old, err := s.FormerLayout(ctx); err != nil || old {
		t.Errorf("both layouts: %v %v", old, err)
	}
	rdb.HSet(ctx, prefix+"fr:gone:{p}", "a", "3|100")
	rdb.HSet(ctx, prefix+"fr:gone:{q}", "b", "1|100")
	rdb.HSet(ctx, prefix+"av2:gone:{q}", "c", "2|100") // q has tombstones of this layout already
	kept, err := s.ClearModel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !kept["p"] || len(kept) != 1 {
		t.Errorf("kept records: %v", kept)
	}
	var left []string
	err = redisconn.Scan(ctx, rdb, prefix+"*", 1000, func(keys []string) error {
		for _, k := range keys {
			left = append(left, k[len(prefix):])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	if want := []string{"av2:gone:{p}", "av2:gone:{q}", "av2:p:{p}", "dedupe:x", "seen:{p}:person"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if v := rdb.HGet(ctx, s.Keys.Gone("p"), "a").Val(); v != "3|100" {
		t.Errorf("carried tombstone: %q", v)
	}
	if v := rdb.HGet(ctx, s.Keys.Gone("q"), "c").Val(); v != "2|100" {
		t.Errorf("this layout's tombstone: %q", v)
	}
}
