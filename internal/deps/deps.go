//go:build tools

package deps

import (
	_ "github.com/99designs/gqlgen/api"
	_ "github.com/99designs/gqlgen/graphql"
	_ "github.com/Masterminds/squirrel"
	_ "github.com/MicahParks/keyfunc/v3"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/vektah/gqlparser/v2"
	_ "github.com/vikstrous/dataloadgen"
	_ "github.com/wundergraph/cosmo/composition-go"
	_ "github.com/wundergraph/cosmo/router/core"
)
