// Package codegen drives gqlgen for every subgraph from one shared gqlgen.yml
// and then composes the router configuration.
package codegen

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/99designs/gqlgen/api"
	gqlconfig "github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/careslot/careslot/internal/compose"
	"github.com/careslot/careslot/internal/config"
)

// Run generates the named services (all with a schema file when none are
// named) under root, then composes router-config/config.json when compose is set.
func Run(root string, services []string, doCompose bool) error {
	// gqlgen resolves every path against the working directory.
	if err := os.Chdir(root); err != nil {
		return err
	}
	root = "."
	if len(services) == 0 {
		for _, s := range config.Services {
			if _, err := os.Stat(filepath.Join(root, "schema", s+".graphqls")); err == nil {
				services = append(services, s)
			}
		}
	}
	for _, s := range services {
		if err := generate(root, s); err != nil {
			return fmt.Errorf("generate %s: %w", s, err)
		}
	}
	if doCompose {
		if err := compose.Write(root); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
	}
	return nil
}

func generate(root, service string) error {
	cfg, err := gqlconfig.LoadConfig(filepath.Join(root, "gqlgen.yml"))
	if err != nil {
		return err
	}
	schemaFile := filepath.ToSlash(filepath.Join("schema", service+".graphqls"))
	src, err := os.ReadFile(filepath.Join(root, schemaFile))
	if err != nil {
		return err
	}
	cfg.SchemaFilename = gqlconfig.StringList{schemaFile}
	cfg.Sources = []*ast.Source{{Name: schemaFile, Input: string(src)}}
	dir := filepath.ToSlash(filepath.Join("subgraphs", service, "graph"))
	cfg.Exec = gqlconfig.ExecConfig{Filename: dir + "/generated.go", Package: "graph"}
	cfg.Federation = gqlconfig.PackageConfig{Filename: dir + "/federation.go", Package: "graph", Version: 2, Options: cfg.Federation.Options}
	cfg.Model = gqlconfig.PackageConfig{Filename: dir + "/model/models_gen.go", Package: "model"}
	// Hand-written models beside models_gen.go win over generated ones, so a
	// subgraph can carry keys (e.g. a Location's practitioner id) that its
	// resolvers need but the schema does not expose.
	cfg.AutoBind = append(cfg.AutoBind, "github.com/careslot/careslot/"+dir+"/model")
	cfg.Resolver = gqlconfig.ResolverConfig{
		Layout:           gqlconfig.LayoutFollowSchema,
		DirName:          dir,
		Package:          "graph",
		FilenameTemplate: "{name}.resolvers.go",
		Type:             "Resolver",
	}
	if err := os.MkdirAll(filepath.Join(root, dir, "model"), 0o755); err != nil {
		return err
	}
	return api.Generate(cfg)
}
