package business

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// MaxImportRows caps one import call; seeders send batches of a few hundred.
const MaxImportRows = 5000

// ImportRow is one practice as an external system describes it. Re-importing
// the same (Country, ExternalID) updates that practice: its profile is
// overwritten (optional fields left nil keep their value), locations and
// appointment types are matched by name (case-insensitively) and updated in
// place or added, never deleted, and the opening hours of each imported
// location are replaced by the imported ones. A row that changes nothing
// writes nothing: no new version, no event.
type ImportRow struct {
	ExternalID         string
	Country            string
	FirstName          string
	LastName           string
	Specialties        []string
	Languages          []string // nil: unchanged
	RegistrationNumber *string
	Bio                *string
	AcceptsNewPatients *bool
	Locations          []LocationInput // PractitionerID is ignored
	AppointmentTypes   []ImportTypeInput
	OpeningHours       []ImportHoursInput
}

// ImportTypeInput is an appointment type of an imported practice; Key is the
// row-local name its opening hours refer to it by.
type ImportTypeInput struct {
	Key string
	AppointmentTypeInput
}

// ImportHoursInput is a weekly rule of an imported practice, at
// Locations[LocationIndex], for the types of AppointmentTypeKeys.
type ImportHoursInput struct {
	LocationIndex       int
	AppointmentTypeKeys []string
	RuleInput
}

// ImportFailure tells why one row was not imported.
type ImportFailure struct {
	Index   int
	Code    apperr.Code
	Field   string
	Message string
}

// ImportResult is the outcome of an import: PractitionerIDs holds, per input
// row, the id of the imported practitioner ("" for a failed row).
type ImportResult struct {
	Imported        int
	Failed          []ImportFailure
	PractitionerIDs []string
}

// prepared is a row that passed the checks that need no database.
type prepared struct {
	index int
	key   store.ExternalKey
	row   ImportRow
	p     store.Practitioner // profile fields only
	locs  []store.Location
	types []store.AppointmentType
	hours []store.OpeningHours // AppointmentTypeIDs hold the type keys
	// hourLocs holds the location index of each of hours.
	hourLocs []int
}

// planned is a prepared row turned into writes against the current state.
type planned struct {
	index  int
	pr     prepared
	key    store.ExternalKey
	before *store.Aggregate
	after  store.Aggregate
	write  store.PracticeWrite
	// unchanged: the row changes nothing; after is the stored practice.
	unchanged bool
}

// Import creates or updates practices from an external system (admin only).
// Each row is validated like the portal's mutations; a bad row is reported in
// Failed and changes nothing, and the others are imported, each changed
// practice with one event. The whole call runs in one transaction: rows are
// written together (store.WritePractices: COPY, a dozen round trips), and
// should the database refuse a group, its rows are retried one by one, each
// in a savepoint.
func (s *Service) Import(ctx context.Context, rows []ImportRow) (ImportResult, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return ImportResult{}, err
	}
	if len(rows) > MaxImportRows {
		return ImportResult{}, apperr.Invalid("input", "at most %d practitioners per call", MaxImportRows)
	}
	res := ImportResult{PractitionerIDs: make([]string, len(rows))}
	fail := func(i int, err error) {
		f := ImportFailure{Index: i, Code: apperr.CodeOf(err), Message: err.Error()}
		if e, ok := apperr.As(err); ok {
			f.Field, f.Message = e.Field, e.Message
			if e.Field != "" {
				f.Message = e.Field + ": " + e.Message
			}
		}
		res.Failed = append(res.Failed, f)
	}
	var ready []prepared
	for i, r := range rows {
		pr, err := s.prepare(r)
		if err != nil {
			fail(i, err)
			continue
		}
		pr.index = i
		ready = append(ready, pr)
	}
	if len(ready) > 0 {
		err := s.store.InTx(ctx, func(tx *store.Tx) error {
			keys := make([]store.ExternalKey, len(ready))
			for i, pr := range ready {
				keys[i] = pr.key
			}
			found, err := tx.LockByExternalIDs(ctx, keys)
			if err != nil {
				return err
			}
			state := make(map[store.ExternalKey]*store.Aggregate, len(found))
			for k, a := range found {
				state[k] = &a
			}
			wave := make([]planned, 0, len(ready))
			inWave := map[store.ExternalKey]bool{}
			flush := func() error {
				refused, err := s.writeWave(ctx, tx, wave)
				if err != nil {
					return err
				}
				for i, pl := range wave {
					if refused[i] == nil {
						res.PractitionerIDs[pl.index] = pl.after.Practitioner.ID
						continue
					}
					// Back to what the database holds.
					if pl.before == nil {
						delete(state, pl.key)
					} else {
						state[pl.key] = pl.before
					}
					if pl.before == nil && isUniqueViolation(refused[i]) {
						// Another import created this practice meanwhile:
						// update it instead.
						after, err := s.replan(ctx, tx, pl)
						if err == nil {
							state[pl.key] = after
							res.PractitionerIDs[pl.index] = after.Practitioner.ID
							continue
						}
						if !isRefusal(err) {
							if _, ok := apperr.As(err); !ok {
								return err
							}
						}
						refused[i] = err
					}
					if _, ok := apperr.As(refused[i]); ok {
						fail(pl.index, refused[i])
					} else {
						res.Failed = append(res.Failed, storeFailure(pl.index, refused[i]))
					}
				}
				wave, inWave = wave[:0], map[store.ExternalKey]bool{}
				return nil
			}
			for _, pr := range ready {
				if inWave[pr.key] {
					// The same practice twice in one call: the second row
					// updates what the first wrote.
					if err := flush(); err != nil {
						return err
					}
				}
				pl, err := s.plan(pr, state[pr.key])
				if err != nil {
					if _, ok := apperr.As(err); !ok {
						return err
					}
					fail(pr.index, err)
					continue
				}
				if pl.unchanged {
					res.PractitionerIDs[pr.index] = pl.after.Practitioner.ID
					continue
				}
				state[pr.key] = &pl.after
				wave = append(wave, pl)
				inWave[pr.key] = true
			}
			return flush()
		})
		if err != nil {
			return ImportResult{}, err
		}
	}
	slices.SortFunc(res.Failed, func(a, b ImportFailure) int { return cmp.Compare(a.Index, b.Index) })
	res.Imported = len(rows) - len(res.Failed)
	return res, nil
}

// writeWave writes planned rows (one per practice) together in a savepoint;
// when the database refuses, it rolls back and writes them one by one, each
// in its own savepoint. It returns, per row, nil or the database's refusal.
func (s *Service) writeWave(ctx context.Context, tx *store.Tx, wave []planned) ([]error, error) {
	out := make([]error, len(wave))
	if len(wave) == 0 {
		return out, nil
	}
	writes := make([]store.PracticeWrite, len(wave))
	for i, pl := range wave {
		writes[i] = pl.write
	}
	err := tx.Savepoint(ctx, func(sp *store.Tx) error { return sp.WritePractices(ctx, writes) })
	switch {
	case err == nil:
		return out, nil
	case !isRefusal(err):
		return nil, err
	case len(wave) == 1:
		out[0] = err
		return out, nil
	}
	for i := range wave {
		err := tx.Savepoint(ctx, func(sp *store.Tx) error { return sp.WritePractices(ctx, writes[i:i+1]) })
		if err != nil && !isRefusal(err) {
			return nil, err
		}
		out[i] = err
	}
	return out, nil
}

// replan writes a row planned as a new practice that another import created
// meanwhile, as an update of what that import wrote.
func (s *Service) replan(ctx context.Context, tx *store.Tx, pl planned) (*store.Aggregate, error) {
	found, err := tx.LockByExternalIDs(ctx, []store.ExternalKey{pl.key})
	if err != nil {
		return nil, err
	}
	cur, ok := found[pl.key]
	if !ok {
		return nil, apperr.E(apperr.Conflict, "changed concurrently by another import; retry this row")
	}
	again, err := s.plan(pl.pr, &cur)
	if err != nil {
		return nil, err
	}
	if again.unchanged {
		return &again.after, nil
	}
	if err := tx.Savepoint(ctx, func(sp *store.Tx) error { return sp.WritePractices(ctx, []store.PracticeWrite{again.write}) }); err != nil {
		return nil, err
	}
	return &again.after, nil
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

// isRefusal tells a statement the database refused (a constraint, say) from a
// lost connection or a cancelled context, which end the whole import.
func isRefusal(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg)
}

func storeFailure(index int, err error) ImportFailure {
	var pg *pgconn.PgError
	msg := "could not be stored"
	code := apperr.Internal
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505", "40001", "40P01":
			code, msg = apperr.Conflict, "changed concurrently by another import; retry this row"
		case "23514", "23503", "22001", "22003":
			code, msg = apperr.InvalidInput, "refused by the database: "+pg.Message
		}
	}
	return ImportFailure{Index: index, Code: code, Message: msg}
}

// prepare checks a row on its own, with the portal's rules.
func (s *Service) prepare(r ImportRow) (prepared, error) {
	var pr prepared
	pr.row = r
	ext := strings.TrimSpace(r.ExternalID)
	switch {
	case ext == "":
		return pr, apperr.Invalid("externalId", "is required")
	case utf8.RuneCountInString(ext) > 200:
		return pr, apperr.Invalid("externalId", "is longer than 200 characters")
	}
	country, err := s.country(r.Country)
	if err != nil {
		return pr, err
	}
	pr.key = store.ExternalKey{Country: country.Code, ExternalID: ext}
	p := store.Practitioner{Country: country.Code, ExternalID: ext}
	if err := applyNames(&p, r.FirstName, r.LastName); err != nil {
		return pr, err
	}
	if p.Specialties, err = s.specialties(country, r.Specialties); err != nil {
		return pr, err
	}
	if r.Languages != nil {
		if p.Languages, err = languages(r.Languages); err != nil {
			return pr, err
		}
	}
	if r.Bio != nil {
		if p.Bio, err = bio(*r.Bio); err != nil {
			return pr, err
		}
	}
	if r.RegistrationNumber != nil {
		p.RegistrationNumber = strings.TrimSpace(*r.RegistrationNumber)
		if p.RegistrationNumber != "" && !country.ValidRegistrationNumber(p.RegistrationNumber) {
			return pr, apperr.Invalid("registrationNumber", "not a valid %s", country.Regulatory.RegistrationNumberName)
		}
	}
	pr.p = p

	if len(r.Locations) == 0 {
		return pr, apperr.Invalid("locations", "at least one location is required")
	}
	for i, in := range r.Locations {
		l := locationOf(in)
		field := fmt.Sprintf("locations[%d]", i)
		if err := validateLocation(l); err != nil {
			return pr, within(field, err)
		}
		if l.AddressCountry != country.Code {
			return pr, apperr.Invalid(field+".address.country", "must be the practice's country %q", country.Code)
		}
		for j := range i {
			if strings.EqualFold(pr.locs[j].Name, l.Name) {
				return pr, apperr.Invalid(field+".name", "%q is also the name of locations[%d]; locations are matched by name", l.Name, j)
			}
		}
		pr.locs = append(pr.locs, l)
	}

	keys := map[string]int{}
	for i, in := range r.AppointmentTypes {
		field := fmt.Sprintf("appointmentTypes[%d]", i)
		key := strings.TrimSpace(in.Key)
		if key == "" {
			return pr, apperr.Invalid(field+".key", "is required")
		}
		if j, dup := keys[key]; dup {
			return pr, apperr.Invalid(field+".key", "%q is also the key of appointmentTypes[%d]", key, j)
		}
		keys[key] = i
		a := typeOf(in.AppointmentTypeInput)
		if err := validateType(a); err != nil {
			return pr, within(field, err)
		}
		if a.VisitMode == "VIDEO" && !country.HasFeature("video") {
			return pr, apperr.Invalid(field+".visitMode", "video consultations are not offered in %s", country.Name)
		}
		for j := range i {
			if strings.EqualFold(pr.types[j].Name, a.Name) {
				return pr, apperr.Invalid(field+".name", "%q is also the name of appointmentTypes[%d]; types are matched by name", a.Name, j)
			}
		}
		a.ID = key // resolved to an id by plan
		pr.types = append(pr.types, a)
	}

	if len(r.OpeningHours) > MaxRulesPerLocation*len(r.Locations) {
		return pr, apperr.Invalid("openingHours", "at most %d rules per location", MaxRulesPerLocation)
	}
	for i, in := range r.OpeningHours {
		field := fmt.Sprintf("openingHours[%d]", i)
		if in.LocationIndex < 0 || in.LocationIndex >= len(r.Locations) {
			return pr, apperr.Invalid(field+".locationIndex", "must be the index of one of the %d locations", len(r.Locations))
		}
		h := store.OpeningHours{Weekday: in.Weekday, StartMinute: in.StartMinute,
			EndMinute: in.EndMinute, StepMinutes: in.StepMinutes, AppointmentTypeIDs: dedupe(trimAll(in.AppointmentTypeKeys))}
		if err := checkRule(field, "appointmentTypeKeys", h); err != nil {
			return pr, err
		}
		for _, k := range h.AppointmentTypeIDs {
			if _, ok := keys[k]; !ok {
				return pr, apperr.Invalid(field+".appointmentTypeKeys", "%q is not the key of one of this row's appointmentTypes", k)
			}
		}
		pr.hours = append(pr.hours, h)
		pr.hourLocs = append(pr.hourLocs, in.LocationIndex)
	}
	// Overlaps among the imported rules (same location or not): the
	// practitioner is in one place at a time. Rules of locations not in the
	// import are checked by plan, against the database.
	if err := checkOverlaps("openingHours", pr.hours, nil, nil); err != nil {
		return pr, err
	}
	return pr, nil
}

// plan turns a prepared row into the writes and the resulting practice, given
// the practice's current state (nil: a new practice). Only what the row
// changes is written: locations and types that differ from the stored ones,
// and the opening hours of the locations whose imported rules differ from
// the stored rules (rules that are the same keep their ids). A row that
// changes nothing is planned as unchanged: no write, no version, no event.
func (s *Service) plan(pr prepared, cur *store.Aggregate) (planned, error) {
	pl := planned{index: pr.index, pr: pr, key: pr.key, before: cur}
	var agg store.Aggregate
	p := pr.p
	changed := cur == nil
	if cur == nil {
		p.ID, p.Version, p.AcceptsNewPatients = uid.New(), 1, true
		if p.Languages == nil {
			p.Languages = []string{}
		}
	} else {
		agg = store.Aggregate{
			Locations:        slices.Clone(cur.Locations),
			AppointmentTypes: slices.Clone(cur.AppointmentTypes),
			OpeningHours:     slices.Clone(cur.OpeningHours),
			Absences:         cur.Absences,
		}
		old := cur.Practitioner
		p.ID, p.Version, p.AcceptsNewPatients, p.CreatedAt = old.ID, old.Version+1, old.AcceptsNewPatients, old.CreatedAt
		if pr.row.Languages == nil {
			p.Languages = old.Languages
		}
		if pr.row.Bio == nil {
			p.Bio = old.Bio
		}
		if pr.row.RegistrationNumber == nil {
			p.RegistrationNumber = old.RegistrationNumber
		}
	}
	if pr.row.AcceptsNewPatients != nil {
		p.AcceptsNewPatients = *pr.row.AcceptsNewPatients
	}
	if cur != nil && !sameProfile(cur.Practitioner, p) {
		changed = true
	}
	agg.Practitioner = p
	w := store.PracticeWrite{New: cur == nil, Practitioner: p}

	locIDs := make([]string, len(pr.locs))
	stored := make([]bool, len(pr.locs)) // whether locs[i] is a stored location
	for i, l := range pr.locs {
		l.PractitionerID, l.Country = p.ID, p.Country
		j := slices.IndexFunc(agg.Locations, func(e store.Location) bool { return strings.EqualFold(e.Name, l.Name) })
		if j >= 0 {
			l.ID, stored[i] = agg.Locations[j].ID, true
			if agg.Locations[j] != l {
				agg.Locations[j] = l
				w.UpdatedLocations = append(w.UpdatedLocations, l)
			}
		} else {
			l.ID = uid.New()
			agg.Locations = append(agg.Locations, l)
			w.NewLocations = append(w.NewLocations, l)
		}
		locIDs[i] = l.ID
	}
	typeIDs := make(map[string]string, len(pr.types))
	for _, a := range pr.types {
		key := a.ID
		a.PractitionerID, a.Country = p.ID, p.Country
		j := slices.IndexFunc(agg.AppointmentTypes, func(e store.AppointmentType) bool { return strings.EqualFold(e.Name, a.Name) })
		if j >= 0 {
			a.ID, a.Position = agg.AppointmentTypes[j].ID, agg.AppointmentTypes[j].Position
			if agg.AppointmentTypes[j] != a {
				agg.AppointmentTypes[j] = a
				w.UpdatedTypes = append(w.UpdatedTypes, a)
			}
		} else {
			a.ID, a.Position = uid.New(), len(agg.AppointmentTypes)
			agg.AppointmentTypes = append(agg.AppointmentTypes, a)
			w.NewTypes = append(w.NewTypes, a)
		}
		typeIDs[key] = a.ID
	}
	others := slices.DeleteFunc(slices.Clone(agg.OpeningHours), func(h store.OpeningHours) bool { return slices.Contains(locIDs, h.LocationID) })
	rules := make([]store.OpeningHours, len(pr.hours))
	for i, h := range pr.hours {
		ids := make([]string, len(h.AppointmentTypeIDs))
		for k, key := range h.AppointmentTypeIDs {
			ids[k] = typeIDs[key]
		}
		h.ID, h.PractitionerID, h.Country, h.LocationID, h.AppointmentTypeIDs = uid.New(), p.ID, p.Country, locIDs[pr.hourLocs[i]], ids
		rules[i] = h
	}
	if err := checkOverlaps("openingHours", rules, others, locationNames(agg.Locations)); err != nil {
		return pl, err
	}
	// Each imported location's rules are replaced by the imported ones,
	// unless they are the same as the stored ones.
	hours := make([]store.OpeningHours, 0, len(others)+len(rules))
	hours = append(hours, others...)
	w.Hours = make([]store.OpeningHours, 0, len(rules))
	for i, id := range locIDs {
		var before []store.OpeningHours
		for _, h := range agg.OpeningHours {
			if h.LocationID == id {
				before = append(before, h)
			}
		}
		// after is a slice of w.Hours, which holds them if they are written.
		at := len(w.Hours)
		for k, h := range rules {
			if pr.hourLocs[k] == i {
				w.Hours = append(w.Hours, h)
			}
		}
		after := w.Hours[at:]
		if sameRules(before, after) {
			w.Hours = w.Hours[:at]
			hours = append(hours, before...)
			continue
		}
		if stored[i] {
			w.ReplaceHoursOf = append(w.ReplaceHoursOf, id)
		}
		hours = append(hours, after...)
	}
	agg.OpeningHours = hours
	slices.SortStableFunc(agg.OpeningHours, func(a, b store.OpeningHours) int {
		return cmp.Or(cmp.Compare(a.Weekday, b.Weekday), cmp.Compare(a.StartMinute, b.StartMinute),
			cmp.Compare(a.LocationID, b.LocationID), cmp.Compare(a.ID, b.ID))
	})
	now := s.now()
	agg.Absences = slices.DeleteFunc(slices.Clone(agg.Absences), func(a store.Absence) bool { return !a.EndsAt.After(now) })

	if !changed && len(w.NewLocations)+len(w.UpdatedLocations) == 0 && len(w.NewTypes)+len(w.UpdatedTypes) == 0 && len(w.ReplaceHoursOf) == 0 && len(w.Hours) == 0 {
		pl.unchanged, pl.after = true, *cur
		return pl, nil
	}
	ev, err := events.New(Source, eventdata.PractitionerImported, p.ID, SnapshotOf(agg))
	if err != nil {
		return pl, err
	}
	w.Event = ev
	pl.after, pl.write = agg, w
	return pl, nil
}

// sameProfile tells whether an import leaves a stored profile as it is.
func sameProfile(a, b store.Practitioner) bool {
	return a.FirstName == b.FirstName && a.LastName == b.LastName && a.Bio == b.Bio &&
		slices.Equal(a.Languages, b.Languages) && slices.Equal(a.Specialties, b.Specialties) &&
		a.RegistrationNumber == b.RegistrationNumber && a.AcceptsNewPatients == b.AcceptsNewPatients
}

// sameRules tells whether two rule sets of one location say the same thing,
// whatever their ids and order.
func sameRules(a, b []store.OpeningHours) bool {
	if len(a) != len(b) {
		return false
	}
	order := func(x, y store.OpeningHours) int {
		return cmp.Or(cmp.Compare(x.Weekday, y.Weekday), cmp.Compare(x.StartMinute, y.StartMinute),
			cmp.Compare(x.EndMinute, y.EndMinute), cmp.Compare(x.StepMinutes, y.StepMinutes))
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, order)
	slices.SortFunc(b, order)
	for i := range a {
		if order(a[i], b[i]) != 0 || !slices.Equal(a[i].AppointmentTypeIDs, b[i].AppointmentTypeIDs) {
			return false
		}
	}
	return true
}

// within prefixes the field of a domain error with the path of its parent.
func within(prefix string, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.InvalidInput {
		return err
	}
	field := prefix
	if e.Field != "" {
		field += "." + e.Field
	}
	return apperr.Invalid(field, "%s", e.Message)
}

func locationOf(in LocationInput) store.Location {
	return store.Location{
		Name:           strings.TrimSpace(in.Name),
		Line1:          strings.TrimSpace(in.Line1),
		PostalCode:     strings.TrimSpace(in.PostalCode),
		City:           strings.TrimSpace(in.City),
		AddressCountry: strings.ToLower(strings.TrimSpace(in.Country)),
		Lat:            in.Lat,
		Lon:            in.Lon,
		TimeZone:       in.TimeZone,
	}
}

func typeOf(in AppointmentTypeInput) store.AppointmentType {
	a := store.AppointmentType{
		Name:               strings.TrimSpace(in.Name),
		DurationMinutes:    in.DurationMinutes,
		VisitMode:          in.VisitMode,
		NewPatientsAllowed: in.NewPatientsAllowed,
		OnlineBookable:     in.OnlineBookable,
		BookingHorizonDays: DefaultBookingHorizonDays,
	}
	setInt(&a.BufferBeforeMinutes, in.BufferBeforeMinutes)
	setInt(&a.BufferAfterMinutes, in.BufferAfterMinutes)
	setInt(&a.MinNoticeMinutes, in.MinNoticeMinutes)
	setInt(&a.BookingHorizonDays, in.BookingHorizonDays)
	return a
}

func trimAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.TrimSpace(s)
	}
	return out
}
