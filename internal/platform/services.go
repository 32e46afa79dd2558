package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/subgraphs/availability"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/notification"
	notifsender "github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/patient"
	"github.com/careslot/careslot/subgraphs/practitioner"
	"github.com/careslot/careslot/subgraphs/search"
)

// builders make each subgraph from the platform.
var builders = map[string]func(ctx context.Context, p *Platform) (*Service, error){
	practitioner.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		pool, err := p.OpenStore(ctx, practitioner.Name)
		if err != nil {
			return nil, err
		}
		sg, err := practitioner.New(ctx, practitioner.Deps{Pool: pool, Countries: p.Countries, Verifier: p.Verifier, Logger: p.Logger})
		if err != nil {
			return nil, err
		}
		return &Service{Name: practitioner.Name, Handler: sg.Handler(), Pool: pool,
			Routes: map[string]http.Handler{practitioner.PracticeRoute: sg.PracticeHandler(),
				practitioner.PracticesExportPath: sg.PracticesExportHandler()}}, nil
	},
	patient.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		pool, err := p.OpenStore(ctx, patient.Name)
		if err != nil {
			return nil, err
		}
		sg, err := patient.New(ctx, patient.Deps{Pool: pool, Countries: p.Countries, Verifier: p.Verifier, Logger: p.Logger,
			// The GDPR export gathers what the other services hold about the caller.
			ExportSources: map[string]string{
				booking.Name:      p.Config.InternalURLs[booking.Name],
				notification.Name: p.Config.InternalURLs[notification.Name],
			}})
		if err != nil {
			return nil, err
		}
		return &Service{Name: patient.Name, Handler: sg.Handler(), Pool: pool,
			Routes: map[string]http.Handler{patient.DeskPatientRoute: sg.DeskPatientHandler()}}, nil
	},
	booking.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		pool, err := p.OpenStore(ctx, booking.Name)
		if err != nil {
			return nil, err
		}
		// Redis carries agendaChanged to every booking instance (live agenda).
		rdb, err := p.Redis()
		if err != nil {
			return nil, err
		}
		sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: p.Countries, Verifier: p.Verifier, Logger: p.Logger,
			KafkaBrokers: p.Config.KafkaBrokers, TopicPrefix: p.Config.KafkaTopicPrefix, Redis: rdb, KeyPrefix: p.Config.RedisPrefix,
			PractitionerURL: p.Config.InternalURLs[practitioner.Name], PatientURL: p.Config.InternalURLs[patient.Name]})
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, sg.Close)
		// Its replicas of practices and patients are warm once its consumers caught up.
		return &Service{Name: booking.Name, Handler: sg.Handler(), Pool: pool, Workers: sg.Workers(),
			Routes: map[string]http.Handler{booking.ExportPath: sg.ExportHandler(), booking.OccupiedExportPath: sg.OccupiedExportHandler(),
				booking.CalendarRoute: sg.CalendarHandler(), booking.OverlapsPath: sg.OverlapsHandler()}, Ready: sg.CaughtUp}, nil
	},
	notification.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		pool, err := p.OpenStore(ctx, notification.Name)
		if err != nil {
			return nil, err
		}
		var snd notifsender.Sender // nil: the log sender, messages kept in the store
		if p.Config.AWSRegion != "" {
			if snd, err = notifsender.NewAWS(ctx, notifsender.AWSSettings{Region: p.Config.AWSRegion,
				From: p.Config.NotificationEmailFrom, SMSSenderID: p.Config.NotificationSMSSenderID}); err != nil {
				return nil, err
			}
		}
		sg, err := notification.New(ctx, notification.Deps{Pool: pool, Countries: p.Countries, Verifier: p.Verifier, Logger: p.Logger,
			KafkaBrokers: p.Config.KafkaBrokers, TopicPrefix: p.Config.KafkaTopicPrefix, Sender: snd})
		if err != nil {
			return nil, err
		}
		return &Service{Name: notification.Name, Handler: sg.Handler(), Pool: pool, Workers: sg.Workers(),
			Routes: map[string]http.Handler{notification.ExportPath: sg.ExportHandler()}, Ready: sg.CaughtUp}, nil
	},
	availability.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		sg, err := NewAvailability(ctx, p)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, sg.Close)
		rdb, _ := p.Redis()
		return &Service{Name: availability.Name, Handler: sg.Handler(), Workers: sg.Workers(),
			Routes: map[string]http.Handler{availability.NextSlotsExportPath: sg.NextSlotsExportHandler()},
			Ready: func(ctx context.Context) error {
				if err := rdb.Ping(ctx).Err(); err != nil {
					return err
				}
				return sg.CaughtUp(ctx)
			}}, nil
	},
	search.Name: func(ctx context.Context, p *Platform) (*Service, error) {
		sg, err := NewSearch(ctx, p)
		if err != nil {
			return nil, err
		}
		// The embedded index lives in memory: warm it from the owners' exports
		// over HTTP (practices, next slots) while the consumers catch up on
		// events; the service is ready once both are done. The owners may be
		// starting too: the reads are asked again until they answer.
		var loaded atomic.Bool
		warm := func(ctx context.Context) error {
			c := &export.Client{Patience: -1, Logger: p.Logger.With("service", search.Name)}
			if err := sg.Load(ctx, PracticesExport(ctx, p, c), NextSlotsExport(ctx, p, c)); err != nil {
				return err
			}
			loaded.Store(true)
			return nil
		}
		return &Service{Name: search.Name, Handler: sg.Handler(), Workers: append(sg.Workers(), warm),
			Ready: func(ctx context.Context) error {
				if err := sg.CaughtUp(ctx); err != nil {
					return err
				}
				if !loaded.Load() {
					return errors.New("search index loading")
				}
				return nil
			}}, nil
	},
}

// NewSearch builds the search subgraph on the platform's Redis (also for
// `careslot rebuild search`).
func NewSearch(ctx context.Context, p *Platform) (*search.Subgraph, error) {
	rdb, err := p.Redis()
	if err != nil {
		return nil, err
	}
	return search.New(ctx, search.Deps{Redis: rdb, KeyPrefix: p.Config.RedisPrefix, Countries: p.Countries, Verifier: p.Verifier,
		Logger: p.Logger, KafkaBrokers: p.Config.KafkaBrokers, TopicPrefix: p.Config.KafkaTopicPrefix, OpenSearchURL: p.Config.OpenSearchURL})
}

// PracticesExport streams every practice's snapshot from practitioner's
// export, OccupiedExport the occupied ranges from booking's, NextSlotsExport
// the next available slots from availability's: over HTTP, at
// <SERVICE>_INTERNAL_URL, never from their stores.
func PracticesExport(ctx context.Context, p *Platform, c *export.Client) func(fn func([]eventdata.Practitioner) error) error {
	return export.Source[eventdata.Practitioner](ctx, c, internalURL(p, practitioner.Name, practitioner.PracticesExportPath))
}

func OccupiedExport(ctx context.Context, p *Platform, c *export.Client) func(fn func([]eventdata.Appointment) error) error {
	return export.Source[eventdata.Appointment](ctx, c, internalURL(p, booking.Name, booking.OccupiedExportPath))
}

func NextSlotsExport(ctx context.Context, p *Platform, c *export.Client) func(fn func([]eventdata.Availability) error) error {
	return export.Source[eventdata.Availability](ctx, c, internalURL(p, availability.Name, availability.NextSlotsExportPath))
}

func internalURL(p *Platform, service, path string) string {
	return strings.TrimSuffix(p.Config.InternalURLs[service], "/") + path
}

// NewAvailability builds the availability subgraph on the platform's Redis
// (also for `careslot rebuild availability`).
func NewAvailability(ctx context.Context, p *Platform) (*availability.Subgraph, error) {
	rdb, err := p.Redis()
	if err != nil {
		return nil, err
	}
	return availability.New(ctx, availability.Deps{Redis: rdb, KeyPrefix: p.Config.RedisPrefix, Countries: p.Countries,
		Verifier: p.Verifier, Logger: p.Logger, KafkaBrokers: p.Config.KafkaBrokers, TopicPrefix: p.Config.KafkaTopicPrefix})
}

// Services lists the services this build serves, in start order.
func Services() []string {
	var out []string
	for _, name := range []string{"practitioner", "patient", "search", "availability", "booking", "notification"} {
		if _, ok := builders[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// Build makes the named service from the platform.
func Build(ctx context.Context, p *Platform, name string) (*Service, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (services: %v)", name, Services())
	}
	return b(ctx, p)
}
