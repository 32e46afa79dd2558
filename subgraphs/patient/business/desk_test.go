package business_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/patient/business"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

func asSecretaryOf(practitioners ...string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.NewPrincipal("https://id.example", "sec-"+uuid.NewString(),
		auth.RoleSecretary, practitioners))
}

// identityWith is a new identity registering whose token carries contact.
func identityWith(c auth.Contact) context.Context {
	p := auth.NewPrincipal("https://id.example", uuid.NewString(), auth.RolePatient, nil)
	p.Contact = c
	return auth.ContextWithClientAddr(auth.WithPrincipal(context.Background(), p), netip.MustParseAddr("192.0.2.1"))
}

func caller(first, email, phone string) business.DeskPatientInput {
	return business.DeskPatientInput{FirstName: first, LastName: "Roux", BirthDate: date("1975-05-06"), Email: email, Phone: phone}
}

func record(t *testing.T, svc *business.Service, ctx context.Context, practice string, in business.DeskPatientInput) (store.DeskPatient, bool) {
	t.Helper()
	d, created, err := svc.RecordDeskPatient(ctx, practice, in)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	return d, created
}

// deskEvents are the outbox's desk patient events of a type, in order.
func deskEvents(t *testing.T, pool *pgxpool.Pool, eventType string) []events.Envelope {
	t.Helper()
	var out []events.Envelope
	for _, r := range outboxRows(t, pool) {
		if r.Type == eventType {
			if r.Topic != events.PatientEvents || r.Key != r.Envelope.Subject {
				t.Fatalf("%s on %s keyed %s", r.Type, r.Topic, r.Key)
			}
			out = append(out, r.Envelope)
		}
	}
	return out
}

// TestDeskPatientRecordedOnce: 20 requests recording one caller at once, the
// contact typed differently each time, leave one record and one event; the
// same person with only the phone in common is that record; another birth
// date, or another practice, is another record.
func TestDeskPatientRecordedOnce(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	practice := uuid.NewString()
	ctx := asSecretaryOf(practice)

	const n = 20
	emails := []string{"Lea.Roux@Example.org", " lea.roux@example.org", "LEA.ROUX@EXAMPLE.ORG"}
	phones := []string{"+33 6 11 22 33 44", "+33611223344", "+33.6.11.22.33.44"}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
		errs    []error
	)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, c, err := svc.RecordDeskPatient(ctx, practice, caller("Léa", emails[i%3], phones[i%3]))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ids[d.ID]++
			if c {
				created++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || len(ids) != 1 || created != 1 {
		t.Fatalf("errors %v, records %v, created %d", errs, ids, created)
	}
	if c := count(t, pool, `SELECT count(*) FROM desk_patients`); c != 1 {
		t.Fatalf("%d rows", c)
	}
	evs := deskEvents(t, pool, eventdata.DeskPatientRecorded)
	if len(evs) != 1 {
		t.Fatalf("%d DeskPatientRecorded events", len(evs))
	}
	var snap eventdata.DeskPatient
	if err := evs[0].DataAs(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.PractitionerID != practice || snap.Email != "lea.roux@example.org" || snap.Phone != "+33611223344" ||
		snap.BirthDate != "1975-05-06" || snap.Version != 1 || snap.FirstName != "Léa" || snap.ClaimedBy != "" {
		t.Fatalf("snapshot %+v", snap)
	}
	var first string
	for id := range ids {
		first = id
	}

	// The phone alone (another address) finds the record; nothing is written.
	if d, c := record(t, svc, ctx, practice, caller("Lea", "other@example.org", "+33611223344")); c || d.ID != first {
		t.Fatalf("by phone: %s created %v, want %s", d.ID, c, first)
	}
	// Another birth date, or another practice, is another person's record.
	other := caller("Léa", "lea.roux@example.org", "")
	other.BirthDate = date("1976-05-06")
	if d, c := record(t, svc, ctx, practice, other); !c || d.ID == first {
		t.Fatal("another birth date found the record")
	}
	elsewhere := uuid.NewString()
	if d, c := record(t, svc, asSecretaryOf(elsewhere), elsewhere, caller("Léa", "lea.roux@example.org", "")); !c || d.ID == first {
		t.Fatal("another practice found the record")
	}
	// Without a contact, the name (any case) tells the person.
	a, c1 := record(t, svc, ctx, practice, caller("Jean", "", ""))
	b, c2 := record(t, svc, ctx, practice, business.DeskPatientInput{FirstName: "JEAN", LastName: "roux", BirthDate: date("1975-05-06")})
	if !c1 || c2 || a.ID != b.ID {
		t.Fatalf("without contact: %s (%v), %s (%v)", a.ID, c1, b.ID, c2)
	}
	if c := count(t, pool, `SELECT count(*) FROM desk_patients`); c != 4 {
		t.Fatalf("%d rows, want 4", c)
	}

	// Bad input changes nothing.
	_, _, err := svc.RecordDeskPatient(ctx, practice, caller("Léa", "not an address", ""))
	wantCode(t, err, apperr.InvalidInput, "email")
	_, _, err = svc.RecordDeskPatient(ctx, practice, caller("Léa", "", "0611223344"))
	wantCode(t, err, apperr.InvalidInput, "phone")
}

// TestDeskPatientsOnlyForTheirPractice: the practice's staff list, search
// and resolve its records; another practice's secretary, and a patient, are
// FORBIDDEN from the list and find nothing by id.
func TestDeskPatientsOnlyForTheirPractice(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	practice, other := uuid.NewString(), uuid.NewString()
	ours := asSecretaryOf(practice)
	lea, _ := record(t, svc, ours, practice, caller("Léa", "lea@example.org", "+33611223344"))
	marc, _ := record(t, svc, ours, practice, caller("Marc", "marc@example.org", ""))

	page, err := svc.DeskPatients(ours, practice, "", nil, "")
	if err != nil || len(page.Patients) != 2 || page.Patients[0].ID != marc.ID {
		t.Fatalf("list: %+v, %v", page.Patients, err)
	}
	one := 1
	page, err = svc.DeskPatients(ours, practice, "", &one, "")
	if err != nil || !page.HasNextPage {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	if page, err = svc.DeskPatients(ours, practice, "", &one, page.Cursors[0]); err != nil || len(page.Patients) != 1 || page.Patients[0].ID != lea.ID {
		t.Fatalf("second page: %+v, %v", page.Patients, err)
	}
	for search, want := range map[string]string{"LEA@example.org": lea.ID, "+33 6 11 22 33 44": lea.ID, "roux ma": marc.ID, "marc r": marc.ID} {
		page, err := svc.DeskPatients(ours, practice, search, nil, "")
		if err != nil || len(page.Patients) != 1 || page.Patients[0].ID != want {
			t.Errorf("search %q: %+v, %v", search, page.Patients, err)
		}
	}
	if page, err := svc.DeskPatients(ours, practice, "%", nil, ""); err != nil || len(page.Patients) != 0 {
		t.Errorf("a wildcard matched: %+v, %v", page.Patients, err)
	}

	// Another practice: FORBIDDEN for the list, nothing of ours in its own, nothing by id.
	theirs := asSecretaryOf(other)
	_, err = svc.DeskPatients(theirs, practice, "", nil, "")
	wantCode(t, err, apperr.Forbidden, "")
	if page, err := svc.DeskPatients(theirs, other, "lea@example.org", nil, ""); err != nil || len(page.Patients) != 0 {
		t.Fatalf("another practice's list: %+v, %v", page.Patients, err)
	}
	rows, perIndex, err := svc.DeskPatientsByIDs(theirs, []string{lea.ID})
	if err != nil || len(rows) != 0 || len(perIndex) != 1 || apperr.CodeOf(perIndex[0]) != apperr.NotFound {
		t.Fatalf("another practice by id: %v, %v, %v", rows, perIndex, err)
	}
	_, _, err = svc.RecordDeskPatient(theirs, practice, caller("Zoé", "zoe@example.org", ""))
	wantCode(t, err, apperr.Forbidden, "")
	// A patient sees none of it.
	_, err = svc.DeskPatients(asPatient(uuid.NewString()), practice, "", nil, "")
	wantCode(t, err, apperr.Forbidden, "")
	if rows, perIndex, err := svc.DeskPatientsByIDs(asPatient(uuid.NewString()), []string{lea.ID}); err != nil || len(rows) != 0 || perIndex == nil {
		t.Fatalf("a patient by id: %v, %v, %v", rows, perIndex, err)
	}
	// The practitioner themself resolves it.
	pr := auth.WithPrincipal(context.Background(), auth.Principal{Subject: practice, Account: practice, Role: auth.RolePractitioner})
	if rows, perIndex, err := svc.DeskPatientsByIDs(pr, []string{lea.ID, marc.ID}); err != nil || len(rows) != 2 || perIndex != nil {
		t.Fatalf("the practitioner by id: %v, %v, %v", rows, perIndex, err)
	}
}

// TestClaimOnlyWithVerifiedContact: registering claims a person's desk
// records, in every practice, only with a contact the token's identity
// provider vouches for and the same birth date; an unverified address or
// another birth date claims nothing.
func TestClaimOnlyWithVerifiedContact(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	pa, pb := uuid.NewString(), uuid.NewString()
	const mail = "lea.roux@example.org"
	atA, _ := record(t, svc, asSecretaryOf(pa), pa, caller("Léa", mail, ""))
	atB, _ := record(t, svc, asSecretaryOf(pb), pb, caller("Léa", "", "+33611223344"))
	claimedBy := func(id string) string {
		t.Helper()
		var by *string
		if err := pool.QueryRow(context.Background(), `SELECT claimed_by::text FROM desk_patients WHERE id = $1`, id).Scan(&by); err != nil {
			t.Fatal(err)
		}
		if by == nil {
			return ""
		}
		return *by
	}
	reg := func(ctx context.Context, address, birth string) store.Patient {
		t.Helper()
		in := validInput()
		in.Email, in.Phone, in.BirthDate = address, "", date(birth)
		p, err := svc.Register(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The address in the token, not vouched for: nothing.
	reg(identityWith(auth.Contact{Email: mail}), "first@example.org", "1975-05-06")
	reg(identityWith(auth.Contact{Email: mail, EmailVerified: false, Phone: "+33611223344"}), "second@example.org", "1975-05-06")
	// Vouched for, another birth date: nothing.
	reg(identityWith(auth.Contact{Email: "LEA.Roux@example.org", EmailVerified: true}), "third@example.org", "1975-05-07")
	if claimedBy(atA.ID) != "" || claimedBy(atB.ID) != "" || len(deskEvents(t, pool, eventdata.DeskPatientClaimed)) != 0 {
		t.Fatal("claimed without a verified contact and the same birth date")
	}

	// A verified address (in any case) and the birth date: the record of that address only.
	lea := reg(identityWith(auth.Contact{Email: "LEA.Roux@example.org", EmailVerified: true}), "lea@example.org", "1975-05-06")
	if claimedBy(atA.ID) != lea.ID || claimedBy(atB.ID) != "" {
		t.Fatalf("claims after the verified address: %q, %q", claimedBy(atA.ID), claimedBy(atB.ID))
	}
	// A verified phone claims the other practice's record; a second
	// identity with the same address finds nothing left to claim.
	other := reg(identityWith(auth.Contact{Email: mail, EmailVerified: true, Phone: "+33 6 11 22 33 44", PhoneVerified: true}),
		"lea2@example.org", "1975-05-06")
	if claimedBy(atA.ID) != lea.ID || claimedBy(atB.ID) != other.ID {
		t.Fatalf("claims after the verified phone: %q, %q", claimedBy(atA.ID), claimedBy(atB.ID))
	}
	evs := deskEvents(t, pool, eventdata.DeskPatientClaimed)
	if len(evs) != 2 {
		t.Fatalf("%d DeskPatientClaimed events", len(evs))
	}
	var c eventdata.DeskPatientClaim
	if err := evs[0].DataAs(&c); err != nil || c.DeskPatientID != atA.ID || c.AccountID != lea.ID || c.PractitionerID != pa || c.Version != 2 {
		t.Fatalf("claim %+v, %v", c, err)
	}
	// The record says so to its practice.
	page, err := svc.DeskPatients(asSecretaryOf(pa), pa, "", nil, "")
	if err != nil || len(page.Patients) != 1 || page.Patients[0].ClaimedBy != lea.ID {
		t.Fatalf("the practice's list: %+v, %v", page.Patients, err)
	}
}
