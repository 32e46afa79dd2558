package slots

import "math/bits"

// Bitmap is a day's free ticks: bit i is tick i. The bit order is Redis's
// SETBIT/GETBIT order (bit 0 is the most significant bit of byte 0), so the
// bytes can be stored with SET, loaded with GET, and BITCOUNT/BITPOS work on
// them. A bit beyond the end reads as 0 (not free), as in Redis.
type Bitmap []byte

// NewBitmap returns an all-clear bitmap for n ticks.
func NewBitmap(n int) Bitmap { return make(Bitmap, (n+7)/8) }

// Get reports bit i; false when i is out of range.
func (b Bitmap) Get(i int) bool {
	if i < 0 || i>>3 >= len(b) {
		return false
	}
	return b[i>>3]&(0x80>>(i&7)) != 0
}

// Set sets bit i to v, growing b (with clear bits) like SETBIT when i is
// beyond the end. It panics on a negative i.
func (b *Bitmap) Set(i int, v bool) {
	if i < 0 {
		panic("slots: negative bit index")
	}
	if i>>3 >= len(*b) {
		if !v {
			return
		}
		b.grow(i + 1)
	}
	if v {
		(*b)[i>>3] |= 0x80 >> (i & 7)
	} else {
		(*b)[i>>3] &^= 0x80 >> (i & 7)
	}
}

// SetRange sets bits [from, to) to v, growing b when needed for v. Negative
// from is clamped to 0.
func (b *Bitmap) SetRange(from, to int, v bool) {
	from = max(from, 0)
	if from >= to {
		return
	}
	if to > len(*b)*8 {
		if !v {
			to = len(*b) * 8
			if from >= to {
				return
			}
		} else {
			b.grow(to)
		}
	}
	s := *b
	fb, lb := from>>3, (to-1)>>3
	head := byte(0xFF) >> (from & 7)     // bits from..7 of byte fb
	tail := byte(0xFF) << (7 - (to-1)&7) // bits 0..(to-1)&7 of byte lb
	if fb == lb {
		m := head & tail
		if v {
			s[fb] |= m
		} else {
			s[fb] &^= m
		}
		return
	}
	var fill byte
	if v {
		s[fb] |= head
		s[lb] |= tail
		fill = 0xFF
	} else {
		s[fb] &^= head
		s[lb] &^= tail
	}
	for i := fb + 1; i < lb; i++ {
		s[i] = fill
	}
}

func (b *Bitmap) grow(nbits int) {
	n := (nbits + 7) / 8
	if n <= len(*b) {
		return
	}
	*b = append(*b, make([]byte, n-len(*b))...)
}

// AllSet reports whether every bit of [from, to) is set; true for an empty
// range, false when the range leaves the bitmap.
func (b Bitmap) AllSet(from, to int) bool {
	if from >= to {
		return true
	}
	if from < 0 || to > len(b)*8 {
		return false
	}
	fb, lb := from>>3, (to-1)>>3
	head := byte(0xFF) >> (from & 7)
	tail := byte(0xFF) << (7 - (to-1)&7)
	if fb == lb {
		m := head & tail
		return b[fb]&m == m
	}
	if b[fb]&head != head || b[lb]&tail != tail {
		return false
	}
	for _, x := range b[fb+1 : lb] {
		if x != 0xFF {
			return false
		}
	}
	return true
}

// Count returns the number of set bits (Redis BITCOUNT).
func (b Bitmap) Count() int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}
