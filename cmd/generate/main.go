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
)

func main() {
	skipCompose := flag.Bool("skip-compose", false, "only run gqlgen")
	flag.Parse()
	services := flag.Args()
	if err := codegen.Run(".", services, !*skipCompose); err != nil {
		fmt.Fprintln(os.Stderr, err)
		log.SetFlags(0)
		os.Exit(1)
	}
}
