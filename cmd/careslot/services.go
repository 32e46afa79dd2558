package main

import (
	"context"
	"fmt"

	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/patient"
	"github.com/careslot/careslot/subgraphs/practitioner"
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
		return &runningService{name: practitioner.Name, handler: sg.Handler(), pool: pool}, nil
	},
	patient.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, patient.Name)
		if err != nil {
			return nil, err
		}
		sg, err := patient.New(ctx, patient.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger})
		if err != nil {
			return nil, err
		}
		return &runningService{name: patient.Name, handler: sg.Handler(), pool: pool}, nil
	},
	booking.Name: func(ctx context.Context, p *platform) (*runningService, error) {
		pool, err := p.openStore(ctx, booking.Name)
		if err != nil {
			return nil, err
		}
		sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: p.countries, Verifier: p.verifier, Logger: p.logger,
			KafkaBrokers: p.cfg.KafkaBrokers, TopicPrefix: p.cfg.KafkaTopicPrefix})
		if err != nil {
			return nil, err
		}
		return &runningService{name: booking.Name, handler: sg.Handler(), pool: pool, workers: sg.Workers()}, nil
	},
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
