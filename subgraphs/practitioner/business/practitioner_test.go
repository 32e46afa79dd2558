package business_test

import (
	"context"
	"github.com/google/uuid"
	"testing"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/store"

	"github.com/jackc/pgx/v5/pgxpool"
)

func newService(t *testing.T) (*business.Service, *pgxpool.Pool) {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "practitioner")
	cat := countries.MustDefault()
	st := store.New(pool)
	if err := st.EnsurePartitions(context.Background(), cat.Codes()); err != nil {
		t.Fatal(err)
	}
	return business.New(st, cat), pool
}

func register(t *testing.T, svc *business.Service) string {
	t.Helper()
	p, err := svc.Register(as(uuid.NewString(), auth.RolePractitioner), business.RegisterInput{
		FirstName: "Claire", LastName: "Dubois", Country: "fr", Specialties: []string{"general-practice"},
		Languages: []string{"fr", "EN"}, RegistrationNumber: "10101010101",
	})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return p.ID
}

func as(id string, role auth.Role, practitioners ...string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: role, Practitioners: practitioners})
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestRegisterValidatesAndEmits(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	id := register(t, svc)
	p, err := svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Country != "fr" || len(p.Languages) != 2 || p.Languages[1] != "en" || !p.AcceptsNewPatients {
		t.Fatalf("unexpected practitioner %+v", p)
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners_fr WHERE id = $1`, id); n != 1 {
		t.Fatalf("row not in the fr partition: %d", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE key = $1 AND topic = 'practitioner-events'`, id); n != 1 {
		t.Fatalf("want one outbox event, got %d", n)
	}

	bad := []business.RegisterInput{
		{FirstName: "", LastName: "X", Country: "fr", Specialties: []string{"general-practice"}},
		{FirstName: "A", LastName: "X", Country: "zz", Specialties: []string{"general-practice"}},
		{FirstName: "A", LastName: "X", Country: "fr", Specialties: nil},
		{FirstName: "A", LastName: "X", Country: "fr", Specialties: []string{"astrology"}},
		{FirstName: "A", LastName: "X", Country: "fr", Specialties: []string{"dentistry"}, Languages: []string{"french!"}},
		{FirstName: "A", LastName: "X", Country: "fr", Specialties: []string{"dentistry"}, RegistrationNumber: "12"},
	}
	for i, in := range bad {
		_, err := svc.Register(as(uuid.NewString(), auth.RolePractitioner), in)
		if apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("case %d: want INVALID_INPUT, got %v", i, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners`); n != 1 {
		t.Fatalf("bad input wrote rows: %d practitioners", n)
	}
}

func TestLocationAndTypeRules(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	id := register(t, svc)
	ctx := as(id, auth.RolePractitioner)
	good := business.LocationInput{Name: "Cabinet", Line1: "1 rue X", PostalCode: "75011", City: "Paris", Country: "fr", Lat: 48.86, Lon: 2.37, TimeZone: "Europe/Paris"}

	for name, mutate := range map[string]func(*business.LocationInput){
		"zone offset":   func(l *business.LocationInput) { l.TimeZone = "+01:00" },
		"unknown zone":  func(l *business.LocationInput) { l.TimeZone = "Europe/Atlantis" },
		"local":         func(l *business.LocationInput) { l.TimeZone = "Local" },
		"lat":           func(l *business.LocationInput) { l.Lat = 91 },
		"lon":           func(l *business.LocationInput) { l.Lon = -181 },
		"no city":       func(l *business.LocationInput) { l.City = " " },
		"other country": func(l *business.LocationInput) { l.Country = "de" },
	} {
		in := good
		mutate(&in)
		_, err := svc.AddLocation(ctx, in)
		if apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("%s: want INVALID_INPUT, got %v", name, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM locations`); n != 0 {
		t.Fatalf("bad locations were written: %d", n)
	}
	loc, err := svc.AddLocation(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Country != "fr" || loc.TimeZone != "Europe/Paris" {
		t.Fatalf("location %+v", loc)
	}

	ten := 10
	typ, err := svc.SaveAppointmentType(ctx, business.AppointmentTypeInput{Name: "Consultation", DurationMinutes: 20, VisitMode: "IN_PERSON", OnlineBookable: true, BufferAfterMinutes: &ten})
	if err != nil {
		t.Fatal(err)
	}
	if typ.BookingHorizonDays != business.DefaultBookingHorizonDays || typ.BufferAfterMinutes != 10 {
		t.Fatalf("type %+v", typ)
	}
	// Update keeps the id.
	upd, err := svc.SaveAppointmentType(ctx, business.AppointmentTypeInput{ID: typ.ID, Name: "Consultation longue", DurationMinutes: 40, VisitMode: "IN_PERSON"})
	if err != nil || upd.ID != typ.ID {
		t.Fatalf("update: %v %+v", err, upd)
	}
	neg := -5
	for name, in := range map[string]business.AppointmentTypeInput{
		"zero duration": {Name: "X", DurationMinutes: 0, VisitMode: "IN_PERSON"},
		"odd duration":  {Name: "X", DurationMinutes: 7, VisitMode: "IN_PERSON"},
		"bad mode":      {Name: "X", DurationMinutes: 15, VisitMode: "PHONE"},
		"neg buffer":    {Name: "X", DurationMinutes: 15, VisitMode: "IN_PERSON", BufferBeforeMinutes: &neg},
	} {
		_, err := svc.SaveAppointmentType(ctx, in)
		if apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("%s: want INVALID_INPUT, got %v", name, err)
		}
	}
	types, _ := svc.TypesByPractitioners(context.Background(), []string{id})
	if len(types) != 1 || types[0].DurationMinutes != 40 {
		t.Fatalf("types after bad input: %+v", types)
	}
	// Version went 1 (register) → 2 (location) → 3 (type) → 4 (update); one event each.
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE key = $1`, id); n != 4 {
		t.Fatalf("want 4 outbox events, got %d", n)
	}
}

func TestOnlyTheOwnerOrTheirSecretaryEdits(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	owner := register(t, svc)
	other := register(t, svc)
	bio := "new bio"

	_, err := svc.UpdateProfile(context.Background(), business.ProfileUpdate{Bio: &bio})
	wantCode(t, err, apperr.Unauthenticated)
	_, err = svc.UpdateProfile(as(other, auth.RolePractitioner), business.ProfileUpdate{PractitionerID: owner, Bio: &bio})
	wantCode(t, err, apperr.Forbidden)
	_, err = svc.UpdateProfile(as(owner, auth.RolePatient), business.ProfileUpdate{Bio: &bio})
	wantCode(t, err, apperr.Forbidden)
	_, err = svc.UpdateProfile(as("sec-1", auth.RoleSecretary, other), business.ProfileUpdate{PractitionerID: owner, Bio: &bio})
	wantCode(t, err, apperr.Forbidden)

	p, err := svc.UpdateProfile(as("sec-1", auth.RoleSecretary, owner), business.ProfileUpdate{PractitionerID: owner, Bio: &bio})
	if err != nil || p.Bio != bio {
		t.Fatalf("secretary update: %v %+v", err, p)
	}
	p, err = svc.MyPractice(as(owner, auth.RolePractitioner), "")
	if err != nil || p.ID != owner || p.Version != 2 {
		t.Fatalf("my practice: %v %+v", err, p)
	}
}
