// Command image builds Careslot's OCI image without a container engine (go-containerregistry):
// a static careslot binary on an empty base, user 1000, CA certificates, no shell, one fixed
// timestamp so two builds of one tree give one digest. It writes an OCI image layout and a
// tarball under the output directory, and the digest to <out>/digest; with -repo (IMAGE_REPO)
// it pushes the image, authenticating with the Docker config's credentials.
//
//	go run . -src ../.. -out ../../build/image [-repo registry.example/careslot -tag v1.2.3]
//
// It lives in its own module so go-containerregistry does not join the main module's build list.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	src := fs.String("src", ".", "the careslot module's root")
	pkg := fs.String("pkg", "./cmd/careslot", "the main package to build")
	out := fs.String("out", "build/image", "output directory (OCI layout in oci/, careslot.tar, digest)")
	arch := fs.String("arch", envOr("IMAGE_ARCH", "amd64"), "GOARCH and image platform")
	repo := fs.String("repo", os.Getenv("IMAGE_REPO"), "registry repository to push to (empty: no push)")
	tag := fs.String("tag", os.Getenv("IMAGE_TAG"), "tag (default the source's short git revision)")
	ca := fs.String("ca", caPath, "PEM bundle of CA certificates to ship")
	if err := fs.Parse(args); err != nil {
		return err
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	revision := gitRevision(*src)
	if *tag == "" {
		*tag = "dev"
		if revision != "" {
			*tag = revision[:12]
		}
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "careslot",
		"org.opencontainers.image.description": "Careslot: GraphQL subgraphs, router and operational commands in one binary",
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	img, err := Build(ctx, Spec{Src: *src, Package: *pkg, Arch: *arch, CACertificates: *ca, Created: created, Labels: labels})
	if err != nil {
		return err
	}
	digest, err := Write(img, *out, "careslot:"+*tag)
	if err != nil {
		return err
	}
	fmt.Printf("image %s written to %s\n", digest, *out)
	if *repo != "" {
		ref, err := Push(ctx, img, *repo+":"+*tag)
		if err != nil {
			return err
		}
		fmt.Printf("pushed %s\n", ref)
	}
	return nil
}

// Write lays the image out under dir: an OCI image layout (dir/oci, the image tagged refName), a
// tarball loadable by `docker load` or `podman load` (dir/careslot.tar) and the digest (dir/digest).
func Write(img v1.Image, dir, refName string) (v1.Hash, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	ociDir := filepath.Join(dir, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": refName,
	})); err != nil {
		return v1.Hash{}, err
	}
	ref, err := name.NewTag(refName, name.WithDefaultRegistry("localhost"))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "careslot.tar"), ref, img); err != nil {
		return v1.Hash{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "digest"), []byte(digest.String()+"\n"), 0o644); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

// Push writes the image to a registry under a tag and returns its reference by digest, which is
// what the chart deploys in production.
func Push(ctx context.Context, img v1.Image, tagRef string, opts ...remote.Option) (string, error) {
	ref, err := name.NewTag(tagRef)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", tagRef, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(ref, img, opts...); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(digest.String()).String(), nil
}

// sourceDateEpoch is the image's timestamp: SOURCE_DATE_EPOCH (the reproducible-builds
// convention) when set, otherwise the Unix epoch.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// gitRevision is the source tree's commit, or "" outside a git checkout.
func gitRevision(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
