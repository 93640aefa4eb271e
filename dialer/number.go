package dialer

// ValidNumber reports whether s is a phone number Switchboard will dial: an
// optional leading '+' and then 3 to 15 digits (E.164 allows 15; 3 admits
// short codes and PBX extensions). Spaces, dashes and brackets are refused
// rather than silently stripped, so what the platform sent is exactly what
// rings.
func ValidNumber(s string) bool {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	if len(s) < 3 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
