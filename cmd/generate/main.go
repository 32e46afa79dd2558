// Command generate regenerates every subgraph from schema/<service>.graphqls
// with the one root gqlgen.yml, then composes router-config/config.json.
// `make generate` runs it from the repository root.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/careslot/careslot/internal/codegen"
	"github.com/careslot/careslot/internal/compose"
)

func main() {
	skipCompose := flag.Bool("skip-compose", false, "only run gqlgen")
	composeOnly := flag.Bool("compose-only", false, "only compose router-config/config.json")
	flag.Parse()
	services := flag.Args()
	var err error
	if *composeOnly {
		err = compose.Write(".")
	} else {
		err = codegen.Run(".", services, !*skipCompose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		log.SetFlags(0)
		os.Exit(1)
	}
}
