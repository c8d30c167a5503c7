package balance

import "math/bits"

// The hash functions here are deterministic across processes and builds on
// purpose: the active and the passive gateway must send a key to the same
// backend, so the seed is a constant rather than hash/maphash's per-process
// random seed. They are not DoS-resistant; a client that crafts colliding
// keys only manages to pin itself to one backend, which it could do anyway
// by sending the same key, and bounded loads cap the damage.

const (
	hk0 = 0xa0761d6478bd642f // wyhash's secrets: odd, well-mixed constants
	hk1 = 0xe7037ed1a0b428db
	hk2 = 0x8ebc6af09c88c6e3
	hk3 = 0x589965cc75374cc3
)

// mum is the 64x64->128 multiply folded back to 64 bits (wyhash's mixer).
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// mix64 is a full-avalanche finalizer (splitmix64's). Strategies apply it to
// Request.Hash so that a caller handing in a weak hash (small integers,
// say) still spreads over the whole ring.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashBytes hashes s eight bytes at a time. It is generic so that both the
// raw strings of a request and a small stack buffer (a percent-decoded query
// value) hash without conversion, i.e. without allocating.
func hashBytes[T ~string | ~[]byte](s T) uint64 {
	h := hk0 ^ uint64(len(s))*hk1
	for len(s) >= 8 {
		h = mum(h^le64(s)^hk2, hk3)
		s = s[8:]
	}
	var tail uint64
	for i := len(s) - 1; i >= 0; i-- {
		tail = tail<<8 | uint64(s[i])
	}
	return mix64(mum(h^tail^hk2, hk1))
}

// le64 reads eight little-endian bytes; the compiler fuses it into one load.
func le64[T ~string | ~[]byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// unit maps the top 53 bits of x to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) * 0x1p-53 }
