package business

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kinds of message.
const (
	KindConfirmation = "CONFIRMATION"
	KindRescheduled  = "RESCHEDULED"
	KindCancelled    = "CANCELLED"
	KindReminder     = "REMINDER"
	// KindSlotOffered: an earlier slot is held for a waiting patient until
	// a deadline (booking's SlotOffered).
	KindSlotOffered = "SLOT_OFFERED"
	// KindSeriesConfirmation confirms a whole treatment series in one
	// message listing every session (series.go).
	KindSeriesConfirmation = "SERIES_CONFIRMATION"
)

// Channels.
const (
	ChannelEmail = "EMAIL"
	ChannelSMS   = "SMS"
)

// Rendering is what a message says, before it is put into words.
type Rendering struct {
	Kind    string
	Channel string
	// Locale is the patient's BCP 47 tag (fr-FR); its language picks the
	// template (fr, de, it, en; anything else gets English).
	Locale       string
	FirstName    string // the account holder's
	RelativeName string // who attends, when it is a relative
	Practitioner string // display name
	Place        string // location name and address
	TypeName     string // the appointment type ("motive"), optional
	// Zone is the location's zone: every time is written in it.
	Zone             *time.Location
	StartsAt         time.Time
	PreviousStartsAt *time.Time // RESCHEDULED: where it was
	CancelledBy      string     // CANCELLED: PATIENT or PRACTITIONER
	Reason           string     // CANCELLED by the practitioner: their reason
	// Deadline is, for SLOT_OFFERED, until when the slot is held; with
	// PreviousStartsAt, the appointment accepting would move.
	Deadline *time.Time
	// Sessions are, for SERIES_CONFIRMATION, the start of every session
	// (StartsAt is the first's).
	Sessions []time.Time
}

// Rendered is a message put into words.
type Rendered struct {
	Subject string // email only
	Body    string
}

// language is one language's words: the calendar names and the templates.
type language struct {
	weekdays [7]string  // Sunday first, as time.Weekday
	months   [12]string // January first
	// when formats a local time: weekday, day, month, year, HH:MM.
	when func(wd string, d int, mo string, y int, hm string) string
	// templates per message key: subject, email body, SMS.
	templates map[string][3]string
	forWhom   string // " for %s"
	reason    string // reason line, "Reason: %s"
}

// Template placeholders: {name} the account holder's first name, {for} " for
// <relative>" or "", {practitioner}, {when}, {old} the previous time, {place},
// {type} the appointment type (in parentheses, or ""), {reason} a reason line
// or "", {deadline} until when an offered slot is held, {count} and
// {sessions} a series' sessions (one per line in an email, separated by "; "
// in an SMS).
var languages = map[string]language{
	"fr": {
		weekdays: [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		months:   [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		when: func(wd string, d int, mo string, y int, hm string) string {
			return fmt.Sprintf("%s %d %s %d à %s", wd, d, mo, y, hm)
		},
		forWhom: " pour %s",
		reason:  "\nMotif : %s",
		templates: map[string][3]string{
			"CONFIRMATION": {"Rendez-vous confirmé : {practitioner}, {when}",
				"Bonjour {name},\n\nVotre rendez-vous{for} avec {practitioner}{type} est confirmé le {when}.\nAdresse : {place}\n\nVous trouverez le rendez-vous en pièce jointe pour votre agenda.\n\nCareslot",
				"Careslot : RDV{for} confirmé avec {practitioner} le {when}, {place}."},
			"RESCHEDULED": {"Rendez-vous déplacé : {practitioner}, {when}",
				"Bonjour {name},\n\nVotre rendez-vous{for} avec {practitioner}{type} prévu le {old} a été déplacé au {when}.\nAdresse : {place}\n\nCareslot",
				"Careslot : RDV{for} avec {practitioner} déplacé du {old} au {when}."},
			"CANCELLED_PATIENT": {"Rendez-vous annulé : {practitioner}, {when}",
				"Bonjour {name},\n\nNous confirmons l'annulation de votre rendez-vous{for} avec {practitioner} du {when}.\n\nCareslot",
				"Careslot : RDV{for} avec {practitioner} du {when} annulé."},
			"CANCELLED_PRACTITIONER": {"{practitioner} a annulé votre rendez-vous du {when}",
				"Bonjour {name},\n\n{practitioner} a annulé votre rendez-vous{for} du {when}.{reason}\nVous pouvez prendre un nouveau rendez-vous sur Careslot.\n\nCareslot",
				"Careslot : {practitioner} a annulé votre RDV{for} du {when}.{reason}"},
			"SLOT_OFFERED": {"Un créneau plus tôt s'est libéré : {practitioner}, {when}",
				"Bonjour {name},\n\nUn créneau plus tôt s'est libéré{for} avec {practitioner}{type} : le {when}.\nAdresse : {place}\n\nNous vous le réservons jusqu'au {deadline}. Acceptez-le ou refusez-le dans Careslot ; passé ce délai, il sera proposé au patient suivant.\n\nCareslot",
				"Careslot : créneau plus tôt{for} avec {practitioner} le {when}, réservé pour vous jusqu'au {deadline}. Répondez dans Careslot."},
			"SLOT_OFFERED_MOVE": {"Un créneau plus tôt s'est libéré : {practitioner}, {when}",
				"Bonjour {name},\n\nUn créneau plus tôt s'est libéré{for} avec {practitioner}{type} : le {when}, au lieu du {old}.\nAdresse : {place}\n\nNous vous le réservons jusqu'au {deadline}. Si vous l'acceptez dans Careslot, votre rendez-vous du {old} y sera déplacé ; passé ce délai, il sera proposé au patient suivant.\n\nCareslot",
				"Careslot : créneau plus tôt{for} avec {practitioner} le {when} au lieu du {old}, réservé pour vous jusqu'au {deadline}. Répondez dans Careslot."},
			"REMINDER": {"Rappel : rendez-vous avec {practitioner}, {when}",
				"Bonjour {name},\n\nNous vous rappelons votre rendez-vous{for} avec {practitioner}{type} le {when}.\nAdresse : {place}\n\nCareslot",
				"Careslot : rappel, RDV{for} avec {practitioner} le {when}, {place}."},
			"SERIES_CONFIRMATION": {"Série de {count} rendez-vous confirmée : {practitioner}",
				"Bonjour {name},\n\nVos {count} rendez-vous{for} avec {practitioner}{type} sont confirmés :\n{sessions}\nAdresse : {place}\n\nVous trouverez les rendez-vous en pièce jointe pour votre agenda.\n\nCareslot",
				"Careslot : {count} RDV{for} confirmés avec {practitioner} : {sessions}. {place}."},
		},
	},
	"de": {
		weekdays: [7]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
		months:   [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		when: func(wd string, d int, mo string, y int, hm string) string {
			return fmt.Sprintf("%s, %d. %s %d um %s Uhr", wd, d, mo, y, hm)
		},
		forWhom: " für %s",
		reason:  "\nGrund: %s",
		templates: map[string][3]string{
			"CONFIRMATION": {"Termin bestätigt: {practitioner}, {when}",
				"Guten Tag {name},\n\nIhr Termin{for} bei {practitioner}{type} ist bestätigt: {when}.\nAdresse: {place}\n\nDen Termin für Ihren Kalender finden Sie im Anhang.\n\nCareslot",
				"Careslot: Termin{for} bei {practitioner} bestätigt: {when}, {place}."},
			"RESCHEDULED": {"Termin verschoben: {practitioner}, {when}",
				"Guten Tag {name},\n\nIhr Termin{for} bei {practitioner}{type} am {old} wurde verschoben auf {when}.\nAdresse: {place}\n\nCareslot",
				"Careslot: Termin{for} bei {practitioner} verschoben von {old} auf {when}."},
			"CANCELLED_PATIENT": {"Termin abgesagt: {practitioner}, {when}",
				"Guten Tag {name},\n\nwir bestätigen die Absage Ihres Termins{for} bei {practitioner} am {when}.\n\nCareslot",
				"Careslot: Termin{for} bei {practitioner} am {when} abgesagt."},
			"CANCELLED_PRACTITIONER": {"{practitioner} hat Ihren Termin am {when} abgesagt",
				"Guten Tag {name},\n\n{practitioner} hat Ihren Termin{for} am {when} abgesagt.{reason}\nSie können auf Careslot einen neuen Termin buchen.\n\nCareslot",
				"Careslot: {practitioner} hat Ihren Termin{for} am {when} abgesagt.{reason}"},
			"SLOT_OFFERED": {"Ein früherer Termin ist frei: {practitioner}, {when}",
				"Guten Tag {name},\n\nein früherer Termin{for} bei {practitioner}{type} ist frei geworden: {when}.\nAdresse: {place}\n\nWir halten ihn für Sie bis {deadline}. Nehmen Sie ihn in Careslot an oder lehnen Sie ihn ab; danach wird er dem nächsten Patienten angeboten.\n\nCareslot",
				"Careslot: früherer Termin{for} bei {practitioner}: {when}, für Sie reserviert bis {deadline}. Antworten Sie in Careslot."},
			"SLOT_OFFERED_MOVE": {"Ein früherer Termin ist frei: {practitioner}, {when}",
				"Guten Tag {name},\n\nein früherer Termin{for} bei {practitioner}{type} ist frei geworden: {when} statt {old}.\nAdresse: {place}\n\nWir halten ihn für Sie bis {deadline}. Nehmen Sie ihn in Careslot an, wird Ihr Termin am {old} dorthin verschoben; danach wird er dem nächsten Patienten angeboten.\n\nCareslot",
				"Careslot: früherer Termin{for} bei {practitioner}: {when} statt {old}, für Sie reserviert bis {deadline}. Antworten Sie in Careslot."},
			"REMINDER": {"Erinnerung: Termin bei {practitioner}, {when}",
				"Guten Tag {name},\n\nwir erinnern Sie an Ihren Termin{for} bei {practitioner}{type}: {when}.\nAdresse: {place}\n\nCareslot",
				"Careslot: Erinnerung, Termin{for} bei {practitioner}: {when}, {place}."},
			"SERIES_CONFIRMATION": {"Terminserie bestätigt: {count} Termine bei {practitioner}",
				"Guten Tag {name},\n\nIhre {count} Termine{for} bei {practitioner}{type} sind bestätigt:\n{sessions}\nAdresse: {place}\n\nDie Termine für Ihren Kalender finden Sie im Anhang.\n\nCareslot",
				"Careslot: {count} Termine{for} bei {practitioner} bestätigt: {sessions}. {place}."},
		},
	},
	"it": {
		weekdays: [7]string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
		months:   [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		when: func(wd string, d int, mo string, y int, hm string) string {
			return fmt.Sprintf("%s %d %s %d alle %s", wd, d, mo, y, hm)
		},
		forWhom: " per %s",
		reason:  "\nMotivo: %s",
		templates: map[string][3]string{
			"CONFIRMATION": {"Appuntamento confermato: {practitioner}, {when}",
				"Buongiorno {name},\n\nil suo appuntamento{for} con {practitioner}{type} è confermato per {when}.\nIndirizzo: {place}\n\nIn allegato trova l'appuntamento per il suo calendario.\n\nCareslot",
				"Careslot: appuntamento{for} con {practitioner} confermato per {when}, {place}."},
			"RESCHEDULED": {"Appuntamento spostato: {practitioner}, {when}",
				"Buongiorno {name},\n\nil suo appuntamento{for} con {practitioner}{type} previsto per {old} è stato spostato a {when}.\nIndirizzo: {place}\n\nCareslot",
				"Careslot: appuntamento{for} con {practitioner} spostato da {old} a {when}."},
			"CANCELLED_PATIENT": {"Appuntamento annullato: {practitioner}, {when}",
				"Buongiorno {name},\n\nconfermiamo l'annullamento del suo appuntamento{for} con {practitioner} di {when}.\n\nCareslot",
				"Careslot: appuntamento{for} con {practitioner} di {when} annullato."},
			"CANCELLED_PRACTITIONER": {"{practitioner} ha annullato il suo appuntamento di {when}",
				"Buongiorno {name},\n\n{practitioner} ha annullato il suo appuntamento{for} di {when}.{reason}\nPuò prenotare un nuovo appuntamento su Careslot.\n\nCareslot",
				"Careslot: {practitioner} ha annullato il suo appuntamento{for} di {when}.{reason}"},
			"SLOT_OFFERED": {"Si è liberato un appuntamento prima: {practitioner}, {when}",
				"Buongiorno {name},\n\nsi è liberato un appuntamento prima{for} con {practitioner}{type}: {when}.\nIndirizzo: {place}\n\nLo teniamo per lei fino a {deadline}. Lo accetti o lo rifiuti su Careslot; dopo, sarà proposto al paziente successivo.\n\nCareslot",
				"Careslot: appuntamento prima{for} con {practitioner}: {when}, riservato per lei fino a {deadline}. Risponda su Careslot."},
			"SLOT_OFFERED_MOVE": {"Si è liberato un appuntamento prima: {practitioner}, {when}",
				"Buongiorno {name},\n\nsi è liberato un appuntamento prima{for} con {practitioner}{type}: {when} invece di {old}.\nIndirizzo: {place}\n\nLo teniamo per lei fino a {deadline}. Se lo accetta su Careslot, il suo appuntamento di {old} sarà spostato lì; dopo, sarà proposto al paziente successivo.\n\nCareslot",
				"Careslot: appuntamento prima{for} con {practitioner}: {when} invece di {old}, riservato per lei fino a {deadline}. Risponda su Careslot."},
			"REMINDER": {"Promemoria: appuntamento con {practitioner}, {when}",
				"Buongiorno {name},\n\nle ricordiamo il suo appuntamento{for} con {practitioner}{type}: {when}.\nIndirizzo: {place}\n\nCareslot",
				"Careslot: promemoria, appuntamento{for} con {practitioner}: {when}, {place}."},
			"SERIES_CONFIRMATION": {"Serie di {count} appuntamenti confermata: {practitioner}",
				"Buongiorno {name},\n\ni suoi {count} appuntamenti{for} con {practitioner}{type} sono confermati:\n{sessions}\nIndirizzo: {place}\n\nIn allegato trova gli appuntamenti per il suo calendario.\n\nCareslot",
				"Careslot: {count} appuntamenti{for} con {practitioner} confermati: {sessions}. {place}."},
		},
	},
	"en": {
		weekdays: [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		when: func(wd string, d int, mo string, y int, hm string) string {
			return fmt.Sprintf("%s %d %s %d at %s", wd, d, mo, y, hm)
		},
		forWhom: " for %s",
		reason:  "\nReason: %s",
		templates: map[string][3]string{
			"CONFIRMATION": {"Appointment confirmed: {practitioner}, {when}",
				"Hello {name},\n\nYour appointment{for} with {practitioner}{type} is confirmed for {when}.\nAddress: {place}\n\nThe appointment is attached for your calendar.\n\nCareslot",
				"Careslot: appointment{for} with {practitioner} confirmed for {when}, {place}."},
			"RESCHEDULED": {"Appointment moved: {practitioner}, {when}",
				"Hello {name},\n\nYour appointment{for} with {practitioner}{type} on {old} has been moved to {when}.\nAddress: {place}\n\nCareslot",
				"Careslot: appointment{for} with {practitioner} moved from {old} to {when}."},
			"CANCELLED_PATIENT": {"Appointment cancelled: {practitioner}, {when}",
				"Hello {name},\n\nWe confirm that your appointment{for} with {practitioner} on {when} is cancelled.\n\nCareslot",
				"Careslot: appointment{for} with {practitioner} on {when} cancelled."},
			"CANCELLED_PRACTITIONER": {"{practitioner} cancelled your appointment on {when}",
				"Hello {name},\n\n{practitioner} cancelled your appointment{for} on {when}.{reason}\nYou can book a new appointment on Careslot.\n\nCareslot",
				"Careslot: {practitioner} cancelled your appointment{for} on {when}.{reason}"},
			"SLOT_OFFERED": {"An earlier slot is free: {practitioner}, {when}",
				"Hello {name},\n\nAn earlier slot{for} with {practitioner}{type} has come free: {when}.\nAddress: {place}\n\nWe are holding it for you until {deadline}. Accept or decline it in Careslot; after that it goes to the next patient.\n\nCareslot",
				"Careslot: earlier slot{for} with {practitioner} on {when}, held for you until {deadline}. Reply in Careslot."},
			"SLOT_OFFERED_MOVE": {"An earlier slot is free: {practitioner}, {when}",
				"Hello {name},\n\nAn earlier slot{for} with {practitioner}{type} has come free: {when}, instead of {old}.\nAddress: {place}\n\nWe are holding it for you until {deadline}. If you accept it in Careslot, your appointment on {old} moves there; after that it goes to the next patient.\n\nCareslot",
				"Careslot: earlier slot{for} with {practitioner} on {when} instead of {old}, held for you until {deadline}. Reply in Careslot."},
			"REMINDER": {"Reminder: appointment with {practitioner}, {when}",
				"Hello {name},\n\nThis is a reminder of your appointment{for} with {practitioner}{type} on {when}.\nAddress: {place}\n\nCareslot",
				"Careslot: reminder, appointment{for} with {practitioner} on {when}, {place}."},
			"SERIES_CONFIRMATION": {"Series of {count} appointments confirmed: {practitioner}",
				"Hello {name},\n\nYour {count} appointments{for} with {practitioner}{type} are confirmed:\n{sessions}\nAddress: {place}\n\nThe appointments are attached for your calendar.\n\nCareslot",
				"Careslot: {count} appointments{for} with {practitioner} confirmed: {sessions}. {place}."},
		},
	},
}

// Language is the template language used for a locale: its language part
// when Careslot has templates for it, English otherwise.
func Language(locale string) string {
	lang, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(locale, "_", "-")), "-")
	if _, ok := languages[lang]; ok {
		return lang
	}
	return "en"
}

// FormatWhen writes an instant as a local date and time in the zone, in the
// locale's language, e.g. "mardi 10 mars 2026 à 09:30".
func FormatWhen(locale string, t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	l := languages[Language(locale)]
	t = t.In(zone)
	return l.when(l.weekdays[t.Weekday()], t.Day(), l.months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// Render puts a message into words.
func Render(r Rendering) (Rendered, error) {
	l := languages[Language(r.Locale)]
	key := r.Kind
	switch r.Kind {
	case KindCancelled:
		key = "CANCELLED_PATIENT"
		if r.CancelledBy == "PRACTITIONER" {
			key = "CANCELLED_PRACTITIONER"
		}
	case KindSlotOffered:
		if r.PreviousStartsAt != nil {
			key = "SLOT_OFFERED_MOVE"
		}
	}
	t, ok := l.templates[key]
	if !ok {
		return Rendered{}, fmt.Errorf("no template for %s", key)
	}
	forWhom, typ, reason, old, deadline := "", "", "", "", ""
	if r.RelativeName != "" {
		forWhom = fmt.Sprintf(l.forWhom, r.RelativeName)
	}
	if r.TypeName != "" {
		typ = " (" + r.TypeName + ")"
	}
	if r.Reason != "" && key == "CANCELLED_PRACTITIONER" {
		reason = fmt.Sprintf(l.reason, r.Reason)
		if r.Channel == ChannelSMS {
			reason = " " + strings.TrimPrefix(reason, "\n")
		}
	}
	if r.PreviousStartsAt != nil {
		old = FormatWhen(r.Locale, *r.PreviousStartsAt, r.Zone)
	}
	if r.Deadline != nil {
		deadline = FormatWhen(r.Locale, *r.Deadline, r.Zone)
	}
	sessions := make([]string, len(r.Sessions))
	for i, at := range r.Sessions {
		sessions[i] = FormatWhen(r.Locale, at, r.Zone)
	}
	list := "- " + strings.Join(sessions, "\n- ")
	if r.Channel == ChannelSMS {
		list = strings.Join(sessions, "; ")
	}
	rep := strings.NewReplacer(
		"{name}", r.FirstName, "{for}", forWhom, "{practitioner}", r.Practitioner,
		"{when}", FormatWhen(r.Locale, r.StartsAt, r.Zone), "{old}", old, "{place}", r.Place,
		"{type}", typ, "{reason}", reason, "{deadline}", deadline, "{count}", strconv.Itoa(len(r.Sessions)), "{sessions}", list)
	if r.Channel == ChannelSMS {
		return Rendered{Body: rep.Replace(t[2])}, nil
	}
	return Rendered{Subject: rep.Replace(t[0]), Body: rep.Replace(t[1])}, nil
}
