package ivr

import (
	"slices"
	"strings"
)

// edges is where a menu can lead.
type edges struct {
	gotos  []string // menus entered by a "menu" action (existing ones only)
	leaves bool     // some action (or the default hang-up) leaves the flow
	back   bool     // some action goes back
}

// edgesOf lists where m can lead. A menu without a fallback (or, without
// options, without a next) hangs up in the end: that leaves the flow.
func (v *validator) edgesOf(m *Menu) edges {
	var e edges
	acts := make([]Action, 0, len(m.Options)+1)
	for _, k := range sortedKeys(m.Options) {
		acts = append(acts, m.Options[k])
	}
	last := m.Fallback
	if len(m.Options) == 0 {
		last = m.Next
	}
	if last == nil {
		e.leaves = true
	} else {
		acts = append(acts, *last)
	}
	for _, a := range acts {
		switch {
		case a.Terminal():
			e.leaves = true
		case a.Type == GoToMenu && v.menus[a.Target] != nil && !slices.Contains(e.gotos, a.Target):
			e.gotos = append(e.gotos, a.Target)
		case a.Type == Back:
			e.back = true
		}
	}
	return e
}

// paths reports menus no path from the start reaches, and reachable menus
// from which no path is sure to leave the flow. It runs on a sound graph:
// menu ids unique, every "menu" target a menu.
//
// "back" returns to the menu the caller came from, which is always a menu
// that has a "menu" action to this one (the Machine unwinds its history
// when a caller goes to a menu already on it), or, at the start with no
// history, repeats the menu. So back is a way out of a menu only when it
// is not the start menu and every reachable menu that leads to it has a
// way out itself: counting one such parent would pass a flow in which a
// caller who came from another parent goes back and forth for ever.
func (v *validator) paths() {
	f := v.f
	out := map[string]edges{}
	for id, m := range v.menus {
		out[id] = v.edgesOf(m)
	}
	reached := map[string]bool{f.Start: true}
	for queue := []string{f.Start}; len(queue) > 0; queue = queue[1:] {
		for _, n := range out[queue[0]].gotos {
			if !reached[n] {
				reached[n] = true
				queue = append(queue, n)
			}
		}
	}
	parents := map[string][]string{}
	for i := range f.Menus {
		id := f.Menus[i].ID
		if !reached[id] {
			continue
		}
		for _, n := range out[id].gotos {
			if n != id {
				parents[n] = append(parents[n], id)
			}
		}
	}
	// The least fixed point: a menu can leave when it leaves itself, goes
	// to a menu that can, or goes back and every parent can.
	canLeave := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for id := range reached {
			if canLeave[id] {
				continue
			}
			e := out[id]
			ok := e.leaves || slices.ContainsFunc(e.gotos, func(n string) bool { return canLeave[n] })
			if !ok && e.back && id != f.Start && len(parents[id]) > 0 {
				ok = !slices.ContainsFunc(parents[id], func(p string) bool { return !canLeave[p] })
			}
			if ok {
				canLeave[id], changed = true, true
			}
		}
	}
	for i := range f.Menus {
		id := f.Menus[i].ID
		switch {
		case !reached[id]:
			v.bad(id, "", "unreachable: no path from the start menu %s leads to it", f.Start)
		case !canLeave[id]:
			v.bad(id, "", "a loop without exit: no path from it is sure to route or hang up (from it a caller reaches only %s)", strings.Join(v.onward(id, out, parents), ", "))
		}
	}
}

// onward lists the menus a caller in menu id can reach, in the order a
// breadth-first walk finds them: by "menu" actions, by back, and the menu
// itself again by repeat (or by back at the start).
func (v *validator) onward(id string, out map[string]edges, parents map[string][]string) []string {
	next := func(n string) []string {
		e := out[n]
		s := slices.Clone(e.gotos)
		if e.back {
			s = append(s, parents[n]...)
			if n == v.f.Start || len(parents[n]) == 0 {
				s = append(s, n)
			}
		}
		if hasRepeat(v.menus[n]) {
			s = append(s, n)
		}
		return s
	}
	var found []string
	seen := map[string]bool{}
	for queue := []string{id}; len(queue) > 0; queue = queue[1:] {
		for _, n := range next(queue[0]) {
			if !seen[n] {
				seen[n] = true
				found = append(found, n)
				queue = append(queue, n)
			}
		}
	}
	return found
}

func hasRepeat(m *Menu) bool {
	for _, a := range m.Options {
		if a.Type == Repeat {
			return true
		}
	}
	return (m.Fallback != nil && m.Fallback.Type == Repeat) || (m.Next != nil && m.Next.Type == Repeat)
}
