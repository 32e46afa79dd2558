package business_test

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/patient/business"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

func newService(t *testing.T) (*business.Service, *pgxpool.Pool) {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "patient")
	return business.New(store.New(pool), countries.MustDefault()), pool
}

func asPatient(id string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: auth.RolePatient})
}

// newIdentity is a request of a new identity (a patient token of the
// provider, no account yet) from a client address.
func newIdentity() context.Context {
	return auth.ContextWithClientAddr(auth.WithPrincipal(context.Background(),
		auth.NewPrincipal("https://id.example", uuid.NewString(), auth.RolePatient, nil)), netip.MustParseAddr("192.0.2.1"))
}

func validInput() business.RegisterInput {
	return business.RegisterInput{
		FirstName: "Camille", LastName: "Martin", Email: "Camille.Martin@Example.fr",
		Phone: "+33 6 12 34 56 78", BirthDate: date("1990-04-12"), Country: "fr",
	}
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("error = %v, want *apperr.Error %s", err, code)
	}
	if e.Code != code || (field != "" && e.Field != field) {
		t.Fatalf("error = %v (field %q), want %s on field %q", err, e.Field, code, field)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type outboxRow struct {
	Topic, Key, Type string
	Envelope         events.Envelope
	Data             eventdata.Patient
}

func outboxRows(t *testing.T, pool *pgxpool.Pool) []outboxRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT topic, key, type, payload FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var payload []byte
		if err := rows.Scan(&r.Topic, &r.Key, &r.Type, &payload); err != nil {
			t.Fatal(err)
		}
		if r.Envelope, err = events.Decode(payload); err != nil {
			t.Fatal(err)
		}
		if err := r.Envelope.DataAs(&r.Data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func lastEvent(t *testing.T, pool *pgxpool.Pool) outboxRow {
	t.Helper()
	rows := outboxRows(t, pool)
	if len(rows) == 0 {
		t.Fatal("no outbox rows")
	}
	return rows[len(rows)-1]
}

func register(t *testing.T, svc *business.Service, mutate func(*business.RegisterInput)) store.Patient {
	t.Helper()
	in := validInput()
	if mutate != nil {
		mutate(&in)
	}
	p, err := svc.Register(newIdentity(), in)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return p
}

func TestRegister(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := register(t, svc, nil)

	// The account is bound to the identity that registered it.
	if !uid.Valid(p.ID) || p.Issuer != "https://id.example" || p.Subject == "" || p.ID != auth.AccountID(p.Issuer, p.Subject) {
		t.Errorf("id %q is not the account of the identity (%q, %q)", p.ID, p.Issuer, p.Subject)
	}
	if p.Email != "camille.martin@example.fr" {
		t.Errorf("email = %q, want lower case", p.Email)
	}
	if p.Phone != "+33612345678" {
		t.Errorf("phone = %q, want E.164", p.Phone)
	}
	if p.Locale != "fr-FR" {
		t.Errorf("locale = %q, want the country's fr-FR", p.Locale)
	}
	if !p.NotifyEmail || !p.NotifySMS {
		t.Errorf("preferences = email %v sms %v, want both on with a phone", p.NotifyEmail, p.NotifySMS)
	}
	if got := p.BirthDate.Format(time.DateOnly); got != "1990-04-12" {
		t.Errorf("birth date = %s", got)
	}
	if p.Version != 1 || p.CreatedAt.IsZero() {
		t.Errorf("version %d, created %v", p.Version, p.CreatedAt)
	}

	rows := outboxRows(t, pool)
	if len(rows) != 1 {
		t.Fatalf("outbox rows = %d, want 1", len(rows))
	}
	ev := rows[0]
	if ev.Topic != events.PatientEvents || ev.Key != p.ID || ev.Type != eventdata.PatientRegistered ||
		ev.Envelope.Type != eventdata.PatientRegistered || ev.Envelope.Subject != p.ID || ev.Envelope.Source != events.Source("patient") {
		t.Errorf("event = %+v", ev)
	}
	if ev.Data.ID != p.ID || ev.Data.Email != p.Email || ev.Data.Locale != "fr-FR" || ev.Data.BirthDate != "1990-04-12" ||
		ev.Data.Version != 1 || !ev.Data.NotificationPreferences.SMS || ev.Data.Relatives == nil {
		t.Errorf("event data = %+v", ev.Data)
	}

	// An explicit locale is canonicalised; no phone means no SMS.
	q := register(t, svc, func(in *business.RegisterInput) {
		in.Email, in.Phone, in.Locale, in.Country = "other@example.de", "", "de_de", "DE"
	})
	if q.Locale != "de-DE" || q.Country != "de" || q.Phone != "" || q.NotifySMS {
		t.Errorf("second patient = %+v", q)
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	tomorrow := time.Now().AddDate(0, 0, 2)
	cases := []struct {
		name, field string
		mutate      func(*business.RegisterInput)
	}{
		{"empty first name", "firstName", func(in *business.RegisterInput) { in.FirstName = "  " }},
		{"long first name", "firstName", func(in *business.RegisterInput) { in.FirstName = strings.Repeat("é", 101) }},
		{"empty last name", "lastName", func(in *business.RegisterInput) { in.LastName = "" }},
		{"control character", "lastName", func(in *business.RegisterInput) { in.LastName = "Mar\x00tin" }},
		{"empty email", "email", func(in *business.RegisterInput) { in.Email = "" }},
		{"email without at", "email", func(in *business.RegisterInput) { in.Email = "camille.example.fr" }},
		{"email without domain dot", "email", func(in *business.RegisterInput) { in.Email = "camille@example" }},
		{"email with two ats", "email", func(in *business.RegisterInput) { in.Email = "a@b@example.fr" }},
		{"email with double dot", "email", func(in *business.RegisterInput) { in.Email = "a..b@example.fr" }},
		{"email with display name", "email", func(in *business.RegisterInput) { in.Email = "Camille <c@example.fr>" }},
		{"national phone", "phone", func(in *business.RegisterInput) { in.Phone = "0612345678" }},
		{"short phone", "phone", func(in *business.RegisterInput) { in.Phone = "+3312345" }},
		{"long phone", "phone", func(in *business.RegisterInput) { in.Phone = "+3312345678901234" }},
		{"phone with letters", "phone", func(in *business.RegisterInput) { in.Phone = "+33 6 12 34 56 7x" }},
		{"future birth date", "birthDate", func(in *business.RegisterInput) { in.BirthDate = tomorrow }},
		{"birth date before 1900", "birthDate", func(in *business.RegisterInput) { in.BirthDate = date("1899-12-31") }},
		{"missing birth date", "birthDate", func(in *business.RegisterInput) { in.BirthDate = time.Time{} }},
		{"bad locale", "locale", func(in *business.RegisterInput) { in.Locale = "french" }},
		{"language-only locale", "locale", func(in *business.RegisterInput) { in.Locale = "fr" }},
		{"unserved country", "country", func(in *business.RegisterInput) { in.Country = "zz" }},
		{"empty country", "country", func(in *business.RegisterInput) { in.Country = "" }},
	}
	for _, c := range cases {
		in := validInput()
		c.mutate(&in)
		_, err := svc.Register(newIdentity(), in)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != c.field {
			t.Errorf("%s: error = %v, want INVALID_INPUT on %q", c.name, err, c.field)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM patients`); n != 0 {
		t.Errorf("patients written by bad input: %d", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("events written by bad input: %d", n)
	}
	// The boundaries are accepted.
	register(t, svc, func(in *business.RegisterInput) {
		in.FirstName, in.BirthDate, in.Phone = strings.Repeat("é", 100), date("1900-01-01"), "+123456789012345"
	})
}

func TestRegisterDuplicateEmail(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	register(t, svc, func(in *business.RegisterInput) { in.Email = "Alice@Example.com" })
	in := validInput()
	in.Email = " alice@EXAMPLE.com "
	_, err := svc.Register(newIdentity(), in)
	wantCode(t, err, apperr.InvalidInput, "email")
	if n := count(t, pool, `SELECT count(*) FROM patients`); n != 1 {
		t.Errorf("patients = %d, want 1", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 1 {
		t.Errorf("outbox rows = %d, want 1", n)
	}
}

func TestMeAuthorisation(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	p := register(t, svc, nil)

	_, err := svc.Me(context.Background())
	wantCode(t, err, apperr.Unauthenticated, "")
	for _, role := range []auth.Role{auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin} {
		ctx := auth.WithPrincipal(context.Background(), auth.Principal{Subject: p.ID, Account: p.ID, Role: role})
		_, err := svc.Me(ctx)
		wantCode(t, err, apperr.Forbidden, "")
	}
	_, err = svc.Me(asPatient("0190b6f4-0000-7000-8000-000000000000"))
	wantCode(t, err, apperr.NotFound, "")
	_, err = svc.Me(asPatient("not-a-uuid"))
	wantCode(t, err, apperr.NotFound, "")

	me, err := svc.Me(asPatient(p.ID))
	if err != nil || me.ID != p.ID || me.Email != p.Email {
		t.Fatalf("me = %+v, %v", me, err)
	}
}

func TestEntityReferencesOnlyForSelf(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	alice := register(t, svc, func(in *business.RegisterInput) { in.Email = "alice@example.fr" })
	bob := register(t, svc, func(in *business.RegisterInput) { in.Email = "bob@example.fr" })

	_, _, err := svc.PatientsByIDs(context.Background(), []string{alice.ID})
	wantCode(t, err, apperr.Unauthenticated, "")
	practitioner := auth.WithPrincipal(context.Background(), auth.Principal{Subject: alice.ID, Account: alice.ID, Role: auth.RolePractitioner})
	_, _, err = svc.PatientsByIDs(practitioner, []string{alice.ID})
	wantCode(t, err, apperr.Forbidden, "")

	rows, perIndex, err := svc.PatientsByIDs(asPatient(alice.ID), []string{alice.ID, bob.ID, "junk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != alice.ID {
		t.Fatalf("rows = %+v, want alice only", rows)
	}
	if len(perIndex) != 3 || perIndex[0] != nil {
		t.Fatalf("perIndex = %v", perIndex)
	}
	wantCode(t, perIndex[1], apperr.Forbidden, "")
	wantCode(t, perIndex[2], apperr.Forbidden, "")

	rows, perIndex, err = svc.PatientsByIDs(asPatient(alice.ID), []string{alice.ID})
	if err != nil || len(rows) != 1 || perIndex != nil {
		t.Fatalf("own reference: %v %v %v", rows, perIndex, err)
	}

	// Relatives resolve for their guardian only.
	kid, err := svc.AddRelative(asPatient(alice.ID), business.RelativeInput{FirstName: "Léa", LastName: "Martin", BirthDate: date("2018-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	rels, perIndex, err := svc.RelativesByIDs(asPatient(alice.ID), []string{kid.ID})
	if err != nil || len(rels) != 1 || perIndex != nil {
		t.Fatalf("guardian's reference: %v %v %v", rels, perIndex, err)
	}
	rels, perIndex, err = svc.RelativesByIDs(asPatient(bob.ID), []string{kid.ID})
	if err != nil || len(rels) != 0 || len(perIndex) != 1 {
		t.Fatalf("stranger's reference: %v %v %v", rels, perIndex, err)
	}
	wantCode(t, perIndex[0], apperr.Forbidden, "")
	if got, _ := svc.RelativesOfPatients(asPatient(bob.ID), []string{alice.ID}); len(got) != 0 {
		t.Errorf("bob read alice's relatives: %+v", got)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := register(t, svc, nil)
	ctx := asPatient(p.ID)
	str := func(s string) *string { return &s }

	_, err := svc.UpdateProfile(context.Background(), business.ProfileUpdate{Locale: str("en-GB")})
	wantCode(t, err, apperr.Unauthenticated, "")
	admin := auth.WithPrincipal(context.Background(), auth.Principal{Subject: p.ID, Account: p.ID, Role: auth.RoleAdmin})
	_, err = svc.UpdateProfile(admin, business.ProfileUpdate{Locale: str("en-GB")})
	wantCode(t, err, apperr.Forbidden, "")

	for field, in := range map[string]business.ProfileUpdate{
		"phone":     {Phone: str("12345"), Locale: str("en-GB")},
		"locale":    {Locale: str("english")},
		"firstName": {FirstName: str(""), Locale: str("en-GB")},
		"lastName":  {LastName: str(strings.Repeat("x", 101))},
	} {
		_, err := svc.UpdateProfile(ctx, in)
		wantCode(t, err, apperr.InvalidInput, field)
	}
	if me, _ := svc.Me(ctx); me.Locale != "fr-FR" || me.Version != 1 {
		t.Fatalf("bad input changed the account: %+v", me)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 1 {
		t.Fatalf("outbox rows = %d, want 1", n)
	}

	got, err := svc.UpdateProfile(ctx, business.ProfileUpdate{Phone: str("+44 20 7946 0958"), Locale: str("en-gb"), FirstName: str(" Camille-Anne ")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Phone != "+442079460958" || got.Locale != "en-GB" || got.FirstName != "Camille-Anne" || got.LastName != "Martin" || got.Version != 2 {
		t.Fatalf("updated = %+v", got)
	}
	ev := lastEvent(t, pool)
	if ev.Type != eventdata.PatientUpdated || ev.Key != p.ID || ev.Data.Version != 2 || ev.Data.Locale != "en-GB" {
		t.Fatalf("event = %+v", ev)
	}

	// A request that changes nothing writes nothing.
	if _, err := svc.UpdateProfile(ctx, business.ProfileUpdate{Locale: str("en-GB")}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 2 {
		t.Fatalf("outbox rows = %d after a no-op, want 2", n)
	}

	// Removing the phone turns SMS off.
	got, err = svc.UpdateProfile(ctx, business.ProfileUpdate{Phone: str("")})
	if err != nil || got.Phone != "" || got.NotifySMS {
		t.Fatalf("phone removed: %+v, %v", got, err)
	}
}

func TestAddRelative(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := register(t, svc, nil)
	ctx := asPatient(p.ID)
	in := business.RelativeInput{FirstName: "Léa", LastName: "Martin", BirthDate: date("2018-06-01")}

	_, err := svc.AddRelative(context.Background(), in)
	wantCode(t, err, apperr.Unauthenticated, "")
	pract := auth.WithPrincipal(context.Background(), auth.Principal{Subject: p.ID, Account: p.ID, Role: auth.RolePractitioner})
	_, err = svc.AddRelative(pract, in)
	wantCode(t, err, apperr.Forbidden, "")
	for field, bad := range map[string]business.RelativeInput{
		"firstName": {FirstName: "", LastName: "Martin", BirthDate: date("2018-06-01")},
		"lastName":  {FirstName: "Léa", LastName: strings.Repeat("x", 101), BirthDate: date("2018-06-01")},
		"birthDate": {FirstName: "Léa", LastName: "Martin", BirthDate: time.Now().AddDate(0, 1, 0)},
	} {
		_, err := svc.AddRelative(ctx, bad)
		wantCode(t, err, apperr.InvalidInput, field)
	}
	if n := count(t, pool, `SELECT count(*) FROM relatives`); n != 0 {
		t.Fatalf("relatives written by bad input: %d", n)
	}

	r, err := svc.AddRelative(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !uid.Valid(r.ID) || r.FirstName != "Léa" || r.BirthDate.Format(time.DateOnly) != "2018-06-01" || r.GuardianID != p.ID {
		t.Fatalf("relative = %+v", r)
	}
	list, err := svc.RelativesOfPatients(ctx, []string{p.ID})
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("relatives = %+v, %v", list, err)
	}
	ev := lastEvent(t, pool)
	if ev.Type != eventdata.RelativeAdded || ev.Key != p.ID || ev.Data.Version != 2 ||
		len(ev.Data.Relatives) != 1 || ev.Data.Relatives[0].ID != r.ID || ev.Data.Relatives[0].BirthDate != "2018-06-01" {
		t.Fatalf("event = %+v", ev)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 2 {
		t.Fatalf("outbox rows = %d, want 2", n)
	}

	// A relative has at most two guardians.
	other := register(t, svc, func(in *business.RegisterInput) { in.Email = "second@example.fr" })
	third := register(t, svc, func(in *business.RegisterInput) { in.Email = "third@example.fr" })
	bg := context.Background()
	if _, err := pool.Exec(bg, `INSERT INTO relative_guardians (relative_id, patient_id, rank) VALUES ($1, $2, 2)`, r.ID, other.ID); err != nil {
		t.Fatalf("second guardian: %v", err)
	}
	if _, err := pool.Exec(bg, `INSERT INTO relative_guardians (relative_id, patient_id, rank) VALUES ($1, $2, 2)`, r.ID, third.ID); err == nil {
		t.Fatal("a third guardian was accepted")
	}
	if rels, perIndex, err := svc.RelativesByIDs(asPatient(other.ID), []string{r.ID}); err != nil || len(rels) != 1 || perIndex != nil {
		t.Fatalf("second guardian's reference: %v %v %v", rels, perIndex, err)
	}
}

func TestNotificationPreferences(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := register(t, svc, func(in *business.RegisterInput) { in.Phone = "" })
	ctx := asPatient(p.ID)
	yes, no := true, false

	_, err := svc.SetNotificationPreferences(context.Background(), business.PreferencesUpdate{Email: &no})
	wantCode(t, err, apperr.Unauthenticated, "")
	_, err = svc.SetNotificationPreferences(ctx, business.PreferencesUpdate{Email: &no, SMS: &yes})
	wantCode(t, err, apperr.InvalidInput, "sms")
	if me, _ := svc.Me(ctx); !me.NotifyEmail || me.Version != 1 {
		t.Fatalf("bad input changed the account: %+v", me)
	}

	got, err := svc.SetNotificationPreferences(ctx, business.PreferencesUpdate{Email: &no})
	if err != nil || got.NotifyEmail || got.NotifySMS {
		t.Fatalf("preferences = %+v, %v", got, err)
	}
	ev := lastEvent(t, pool)
	if ev.Type != eventdata.NotificationPreferencesChanged || ev.Key != p.ID || ev.Data.NotificationPreferences.Email {
		t.Fatalf("event = %+v", ev)
	}

	str := "+33612345678"
	if _, err := svc.UpdateProfile(ctx, business.ProfileUpdate{Phone: &str}); err != nil {
		t.Fatal(err)
	}
	got, err = svc.SetNotificationPreferences(ctx, business.PreferencesUpdate{SMS: &yes})
	if err != nil || got.NotifyEmail || !got.NotifySMS {
		t.Fatalf("preferences = %+v, %v", got, err)
	}

	// One outbox row per change: registration, preferences, profile, preferences.
	var types []string
	for _, r := range outboxRows(t, pool) {
		if r.Topic != events.PatientEvents || r.Key != p.ID {
			t.Errorf("row %+v not on patient-events keyed by the patient", r)
		}
		types = append(types, r.Type)
	}
	want := []string{eventdata.PatientRegistered, eventdata.NotificationPreferencesChanged, eventdata.PatientUpdated, eventdata.NotificationPreferencesChanged}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", types, want)
	}
}

// TestRegistrationsPerAddressUnderRace: 50 identities register at once from
// one client address; exactly France's limit (10 an hour) get an account,
// the others REGISTRATION_LIMIT_REACHED with nothing written; another
// address (an IPv6 /64 counts as one) is not held back.
func TestRegistrationsPerAddressUnderRace(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[apperr.Code]int{}
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := validInput()
			in.Email = fmt.Sprintf("p%d@example.fr", i)
			_, err := svc.Register(newIdentity(), in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got[apperr.CodeOf(err)]++
			} else {
				got[""]++
			}
		}()
	}
	wg.Wait()
	if got[""] != 10 || got[apperr.RegistrationLimitReached] != 40 {
		t.Fatalf("outcomes %v", got)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM patients`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("%d accounts (%v)", n, err)
	}
	for i, addr := range []string{"2001:db8::1", "2001:db8::2"} {
		in := validInput()
		in.Email = fmt.Sprintf("v6-%d@example.fr", i)
		ctx := auth.ContextWithClientAddr(auth.WithPrincipal(context.Background(),
			auth.NewPrincipal("https://id.example", uuid.NewString(), auth.RolePatient, nil)), netip.MustParseAddr(addr))
		if _, err := svc.Register(ctx, in); err != nil {
			t.Fatalf("another address: %v", err)
		}
	}
	if err := pool.QueryRow(context.Background(), `SELECT registered FROM registration_counts WHERE address = '2001:db8::/64'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("the /64 counted %d (%v)", n, err)
	}
}
