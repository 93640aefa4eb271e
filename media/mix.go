package media

// Mix adds two G.711 signals of codec c, for an announcement heard over a
// conversation: each pair of codes is decoded, added in the linear domain,
// clipped to the 16-bit range (saturation, not wrap-around) and encoded
// again. It writes len(a) codes to dst (fewer if dst is shorter) and
// returns how many; where b is shorter than a, a passes through unchanged.
// dst may be a or b itself. It returns 0 for an invalid codec and does not
// allocate.
func Mix(c Codec, dst, a, b []byte) int {
	if !c.Valid() {
		return 0
	}
	n := min(len(dst), len(a))
	both := min(n, len(b))
	dst, a, b = dst[:n], a[:n], b[:both]
	if c == PCMU {
		for i, y := range b {
			dst[i] = LinearToUlaw(saturate(int32(ulawTable[a[i]]) + int32(ulawTable[y])))
		}
	} else {
		for i, y := range b {
			dst[i] = LinearToAlaw(saturate(int32(alawTable[a[i]]) + int32(alawTable[y])))
		}
	}
	copy(dst[both:], a[both:])
	return n
}

// MixLinear is Mix for linear samples: dst[i] = a[i] + b[i], saturated,
// over len(a) samples (fewer if dst is shorter), a passing through where b
// is shorter. dst may be a or b.
func MixLinear(dst, a, b []int16) int {
	n := min(len(dst), len(a))
	both := min(n, len(b))
	dst, a, b = dst[:n], a[:n], b[:both]
	for i, y := range b {
		dst[i] = saturate(int32(a[i]) + int32(y))
	}
	copy(dst[both:], a[both:])
	return n
}

func saturate(x int32) int16 {
	return int16(max(min(x, 32767), -32768))
}
