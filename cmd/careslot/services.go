package main

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
var builders = map[string]func(ctx context.Context, p *platform) (*runningService, error){
	practitioner.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, practitioner.Name)
		if err != nil {
			return nil, err
		}
		sg, err := practitioner.New(ctx, practitioner.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger})
		if err != nil {
			return nil, err
		}
		return &runningService{name: practitioner.Name, handler: sg.Handler(), pool: pool,
			routes: map[string]http.Handler{practitioner.PracticeRoute: sg.PracticeHandler(),
				practitioner.PracticesExportPath: sg.PracticesExportHandler()}}, nil
	},
	patient.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, patient.Name)
		if err != nil {
			return nil, err
		}
		sg, err := patient.New(ctx, patient.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger,
			// The GDPR export gathers what the other services hold about the caller.
			ExportSources: map[string]string{
				booking.Name:      p.cfg.InternalURLs[booking.Name],
				notification.Name: p.cfg.InternalURLs[notification.Name],
			}})
		if err != nil {
			return nil, err
		}
		return &runningService{name: patient.Name, handler: sg.Handler(), pool: pool,
			routes: map[string]http.Handler{patient.DeskPatientRoute: sg.DeskPatientHandler()}}, nil
	},
	booking.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, booking.Name)
		if err != nil {
			return nil, err
		}
		// Redis carries agendaChanged to every booking instance (live agenda).
		rdb, err := p.redis()
		if err != nil {
			return nil, err
		}
		sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger,
			KafkaBrokers: p.cfg.KafkaBrokers, TopicPrefix: p.cfg.KafkaTopicPrefix, Redis: rdb, KeyPrefix: p.cfg.RedisPrefix,
			PractitionerURL: p.cfg.InternalURLs[practitioner.Name], PatientURL: p.cfg.InternalURLs[patient.Name]})
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, sg.Close)
		// Its replicas of practices and patients are warm once its consumers caught up.
		return &runningService{name: booking.Name, handler: sg.Handler(), pool: pool, workers: sg.Workers(),
			routes: map[string]http.Handler{booking.ExportPath: sg.ExportHandler(), booking.OccupiedExportPath: sg.OccupiedExportHandler(),
				booking.CalendarRoute: sg.CalendarHandler()}, ready: sg.CaughtUp}, nil
	},
	notification.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, notification.Name)
		if err != nil {
			return nil, err
		}
		var snd notifsender.Sender // nil: the log sender, messages kept in the store
		if p.cfg.AWSRegion != "" {
			if snd, err = notifsender.NewAWS(ctx, notifsender.AWSSettings{Region: p.cfg.AWSRegion,
				From: p.cfg.NotificationEmailFrom, SMSSenderID: p.cfg.NotificationSMSSenderID}); err != nil {
				return nil, err
			}
		}
		sg, err := notification.New(ctx, notification.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger,
			KafkaBrokers: p.cfg.KafkaBrokers, TopicPrefix: p.cfg.KafkaTopicPrefix, Sender: snd})
		if err != nil {
			return nil, err
		}
		return &runningService{name: notification.Name, handler: sg.Handler(), pool: pool, workers: sg.Workers(),
			routes: map[string]http.Handler{notification.ExportPath: sg.ExportHandler()}, ready: sg.CaughtUp}, nil
	},
	availability.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		sg, err := newAvailability(ctx, p)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, sg.Close)
		rdb, _ := p.redis()
		return &runningService{name: availability.Name, handler: sg.Handler(), workers: sg.Workers(),
			routes: map[string]http.Handler{availability.NextSlotsExportPath: sg.NextSlotsExportHandler()},
			ready: func(ctx context.Context) error {
				if err := rdb.Ping(ctx).Err(); err != nil {
					return err
				}
				return sg.CaughtUp(ctx)
			}}, nil
	},
	search.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		sg, err := newSearch(ctx, p)
		if err != nil {
			return nil, err
		}
		// The embedded index lives in memory: warm it from the owners' exports
		// over HTTP (practices, next slots) while the consumers catch up on
		// events; the service is ready once both are done. The owners may be
		// starting too: the reads are asked again until they answer.
		var loaded atomic.Bool
		warm := func(ctx context.Context) error {
			c := &export.Client{Patience: -1, Logger: p.logger.With("service", search.Name)}
			if err := sg.Load(ctx, practicesExport(ctx, p, c), nextSlotsExport(ctx, p, c)); err != nil {
				return err
			}
			loaded.Store(true)
			return nil
		}
		return &runningService{name: search.Name, handler: sg.Handler(), workers: append(sg.Workers(), warm),
			ready: func(ctx context.Context) error {
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

func newSearch(ctx context.Context, p *platform) (*search.Subgraph, error) {
	rdb, err := p.redis()
	if err != nil {
		return nil, err
	}
	return search.New(ctx, search.Deps{Redis: rdb, KeyPrefix: p.cfg.RedisPrefix, Countries: p.countries, Verifier: p.verifier,
		Logger: p.logger, KafkaBrokers: p.cfg.KafkaBrokers, TopicPrefix: p.cfg.KafkaTopicPrefix, OpenSearchURL: p.cfg.OpenSearchURL})
}

// practicesExport streams every practice's snapshot from practitioner's
// export, occupiedExport the occupied ranges from booking's, nextSlotsExport
// the next available slots from availability's: over HTTP, at
// <SERVICE>_INTERNAL_URL, never from their stores.
func practicesExport(ctx context.Context, p *platform, c *export.Client) func(fn func([]eventdata.Practitioner) error) error {
	return export.Source[eventdata.Practitioner](ctx, c, internalURL(p, practitioner.Name, practitioner.PracticesExportPath))
}

func occupiedExport(ctx context.Context, p *platform, c *export.Client) func(fn func([]eventdata.Appointment) error) error {
	return export.Source[eventdata.Appointment](ctx, c, internalURL(p, booking.Name, booking.OccupiedExportPath))
}

func nextSlotsExport(ctx context.Context, p *platform, c *export.Client) func(fn func([]eventdata.Availability) error) error {
	return export.Source[eventdata.Availability](ctx, c, internalURL(p, availability.Name, availability.NextSlotsExportPath))
}

func internalURL(p *platform, service, path string) string {
	return strings.TrimSuffix(p.cfg.InternalURLs[service], "/") + path
}

func newAvailability(ctx context.Context, p *platform) (*availability.Subgraph, error) {
	rdb, err := p.redis()
	if err != nil {
		return nil, err
	}
	return availability.New(ctx, availability.Deps{Redis: rdb, KeyPrefix: p.cfg.RedisPrefix, Countries: p.countries,
		Verifier: p.verifier, Logger: p.logger, KafkaBrokers: p.cfg.KafkaBrokers, TopicPrefix: p.cfg.KafkaTopicPrefix})
}

// enabledServices lists the services this build serves, in start order.
func enabledServices() []string {
	var out []string
	for _, name := range []string{"practitioner", "patient", "search", "availability", "booking", "notification"} {
		if _, ok := builders[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

func buildService(ctx context.Context, p *platform, name string) (*runningService, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (services: %v)", name, enabledServices())
	}
	return b(ctx, p)
}
