package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.AppStore = (*Store)(nil)

// appBook keeps the apps: each tenant's by id, and the index of virtual
// numbers over every tenant. Its zero value is ready to use; it has a
// mutex of its own, so app writes never wait for call or agent writes.
type appBook struct {
	mu      sync.Mutex
	tenants map[string]map[string]*engine.App // tenant -> id -> app
	numbers map[string]appRef                 // virtual number -> its app
}

// appRef names an app across tenants.
type appRef struct{ tenant, id string }

// cloneApp copies an app deeply enough that no caller shares memory with
// the store: the flow's menus and options, and the route.
func cloneApp(a *engine.App) *engine.App {
	cp := *a
	if a.Flow != nil {
		f := *a.Flow
		f.Menus = slices.Clone(a.Flow.Menus)
		for i := range f.Menus {
			m := &f.Menus[i]
			m.Options = maps.Clone(m.Options)
			if m.Collect != nil {
				c := *m.Collect
				m.Collect = &c
			}
			if m.Fallback != nil {
				fb := *m.Fallback
				m.Fallback = &fb
			}
			if m.Next != nil {
				n := *m.Next
				m.Next = &n
			}
		}
		cp.Flow = &f
	}
	if a.Route != nil {
		r := *a.Route
		cp.Route = &r
	}
	return &cp
}

// PutApp stores a copy of a, replacing the app of that id, in one
// critical section: ErrNumberTaken when another app holds a's number;
// otherwise the number is a's and the number the app had before, if
// another, is freed.
func (s *Store) PutApp(_ context.Context, a *engine.App) error {
	switch {
	case a.ID == "":
		return errors.New("memory store: put app: empty id")
	case a.Number == "":
		return fmt.Errorf("memory store: put app %s/%s: empty number", a.Tenant, a.ID)
	}
	b := &s.apps
	b.mu.Lock()
	defer b.mu.Unlock()
	me := appRef{a.Tenant, a.ID}
	if holder, ok := b.numbers[a.Number]; ok && holder != me {
		return fmt.Errorf("memory store: put app %s/%s: number %s: %w", a.Tenant, a.ID, a.Number, engine.ErrNumberTaken)
	}
	if b.tenants == nil {
		b.tenants, b.numbers = map[string]map[string]*engine.App{}, map[string]appRef{}
	}
	apps := b.tenants[a.Tenant]
	if apps == nil {
		apps = map[string]*engine.App{}
		b.tenants[a.Tenant] = apps
	}
	if old := apps[a.ID]; old != nil && old.Number != a.Number {
		delete(b.numbers, old.Number)
	}
	apps[a.ID] = cloneApp(a)
	b.numbers[a.Number] = me
	return nil
}

// GetApp returns a copy of the tenant's app.
func (s *Store) GetApp(_ context.Context, tenant, id string) (*engine.App, error) {
	b := &s.apps
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.tenants[tenant][id]; a != nil {
		return cloneApp(a), nil
	}
	return nil, fmt.Errorf("memory store: get app %s/%s: %w", tenant, id, engine.ErrNotFound)
}

// ListApps returns copies of the tenant's apps sorted by id.
func (s *Store) ListApps(_ context.Context, tenant string) ([]*engine.App, error) {
	b := &s.apps
	b.mu.Lock()
	defer b.mu.Unlock()
	apps := b.tenants[tenant]
	var out []*engine.App
	for _, id := range slices.Sorted(maps.Keys(apps)) {
		out = append(out, cloneApp(apps[id]))
	}
	return out, nil
}

// DeleteApp removes the app and frees its number.
func (s *Store) DeleteApp(_ context.Context, tenant, id string) error {
	b := &s.apps
	b.mu.Lock()
	defer b.mu.Unlock()
	apps := b.tenants[tenant]
	a := apps[id]
	if a == nil {
		return fmt.Errorf("memory store: delete app %s/%s: %w", tenant, id, engine.ErrNotFound)
	}
	delete(apps, id)
	if len(apps) == 0 {
		delete(b.tenants, tenant)
	}
	if b.numbers[a.Number] == (appRef{tenant, id}) {
		delete(b.numbers, a.Number)
	}
	return nil
}

// AppByNumber returns a copy of the app answering number, whatever its
// tenant.
func (s *Store) AppByNumber(_ context.Context, number string) (*engine.App, error) {
	b := &s.apps
	b.mu.Lock()
	defer b.mu.Unlock()
	if ref, ok := b.numbers[number]; ok {
		if a := b.tenants[ref.tenant][ref.id]; a != nil {
			return cloneApp(a), nil
		}
	}
	return nil, fmt.Errorf("memory store: app by number %s: %w", number, engine.ErrNotFound)
}
