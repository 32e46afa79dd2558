package slots

import (
	"math/rand"
	"testing"
)

func TestBitmapRedisBitOrder(t *testing.T) {
	var b Bitmap
	b.Set(0, true)
	b.Set(9, true)
	b.Set(23, true)
	if want := (Bitmap{0x80, 0x40, 0x01}); string(b) != string(want) {
		t.Fatalf("bytes = %x, want %x (SETBIT order)", []byte(b), []byte(want))
	}
	for i := range 30 {
		if got, want := b.Get(i), i == 0 || i == 9 || i == 23; got != want {
			t.Errorf("Get(%d) = %v", i, got)
		}
	}
	if b.Count() != 3 {
		t.Errorf("Count = %d", b.Count())
	}
	b.Set(9, false)
	b.Set(100, false) // no growth needed to clear
	if len(b) != 3 || b.Get(9) {
		t.Errorf("after clear: %x", []byte(b))
	}
	if NewBitmap(276)[34] != 0 || len(NewBitmap(276)) != 35 || len(NewBitmap(288)) != 36 || len(NewBitmap(300)) != 38 {
		t.Error("NewBitmap sizes")
	}
}

func TestBitmapRangesMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for range 2000 {
		n := rng.Intn(310)
		b := NewBitmap(n)
		ref := make([]bool, len(b)*8+40)
		for range rng.Intn(6) {
			from, to, v := rng.Intn(n+20)-5, rng.Intn(n+20), rng.Intn(3) > 0
			b.SetRange(from, to, v)
			for i := max(from, 0); i < to; i++ {
				ref[i] = v
			}
		}
		count := 0
		for i := range ref {
			if b.Get(i) != ref[i] {
				t.Fatalf("bit %d = %v, want %v", i, b.Get(i), ref[i])
			}
			if ref[i] {
				count++
			}
		}
		if b.Count() != count {
			t.Fatalf("Count = %d, want %d", b.Count(), count)
		}
		for range 20 {
			from, to := rng.Intn(len(b)*8+2)-1, rng.Intn(len(b)*8+3)
			want := true
			for i := from; i < to; i++ {
				if i < 0 || i >= len(b)*8 || !ref[i] {
					want = false
				}
			}
			if got := b.AllSet(from, to); got != want {
				t.Fatalf("AllSet(%d,%d) = %v, want %v (%x)", from, to, got, want, []byte(b))
			}
		}
	}
}
