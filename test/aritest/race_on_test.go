//go:build race

package aritest

// raceEnabled reports a -race build.
const raceEnabled = true
