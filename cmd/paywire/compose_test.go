package main

// These tests check the container files at the repository root,
// docker-compose.yml and Dockerfile, on machines without a Docker engine
// (CI has none). The compose file is loaded with compose-go, the library
// `docker compose` itself uses, so it is checked as compose reads it: schema,
// normalization, paths resolved against the project directory. The
// assertions are what a user would notice by `docker compose up` failing,
// hanging on a dependency, or serving nothing on localhost:8080.

import (
	"context"
	"encoding/json"
	"go/version"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const repoRoot = "../.."

func TestComposeFile(t *testing.T) {
	// No OS environment and no .env file: interpolation sees an empty
	// environment, so the result does not depend on the machine running it.
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithName("paywire"),
	)
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	pg, err := project.GetService("postgres")
	if err != nil {
		t.Fatal(err)
	}
	app, err := project.GetService("paywire")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("built from the repository Dockerfile", func(t *testing.T) {
		if app.Build == nil {
			t.Fatal("paywire has no build section")
		}
		// The Dockerfile copies go.mod and builds ./cmd/paywire: the
		// context must be the module root.
		if app.Build.Context != root {
			t.Errorf("build context = %s, want the repository root %s", app.Build.Context, root)
		}
		dockerfile := app.Build.Dockerfile
		if !filepath.IsAbs(dockerfile) {
			dockerfile = filepath.Join(app.Build.Context, dockerfile)
		}
		if _, err := os.Stat(dockerfile); err != nil {
			t.Errorf("build dockerfile: %v", err)
		}
	})

	env := func(t *testing.T, s types.ServiceConfig, key string) string {
		t.Helper()
		v := s.Environment[key]
		if v == nil || *v == "" {
			t.Fatalf("%s: environment %s is not set", s.Name, key)
		}
		return *v
	}

	t.Run("PAYWIRE_DB reaches the postgres service", func(t *testing.T) {
		dsn := env(t, app, "PAYWIRE_DB")
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("PAYWIRE_DB: %v", err)
		}
		if u.Scheme != "postgres" && u.Scheme != "postgresql" {
			t.Errorf("PAYWIRE_DB scheme = %q, want postgres", u.Scheme)
		}
		if u.Hostname() != pg.Name {
			t.Errorf("PAYWIRE_DB host = %q, want the service name %q", u.Hostname(), pg.Name)
		}
		if p := u.Port(); p != "" && p != "5432" {
			t.Errorf("PAYWIRE_DB port = %s, postgres listens on 5432", p)
		}
		password, _ := u.User.Password()
		got := []string{u.User.Username(), password, strings.TrimPrefix(u.Path, "/")}
		want := []string{env(t, pg, "POSTGRES_USER"), env(t, pg, "POSTGRES_PASSWORD"), env(t, pg, "POSTGRES_DB")}
		if !slices.Equal(got, want) {
			t.Errorf("PAYWIRE_DB user, password, database = %q, postgres service has %q", got, want)
		}
	})

	t.Run("waits for a healthy postgres", func(t *testing.T) {
		dep, ok := app.DependsOn[pg.Name]
		if !ok {
			t.Fatal("paywire does not depend on postgres")
		}
		if dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("depends_on postgres condition = %q, want %q", dep.Condition, types.ServiceConditionHealthy)
		}
	})

	// The port paywire listens on inside the container.
	host, port, err := net.SplitHostPort(env(t, app, "PAYWIRE_ADDR"))
	if err != nil {
		t.Fatalf("PAYWIRE_ADDR: %v", err)
	}

	t.Run("localhost:8080 reaches PAYWIRE_ADDR", func(t *testing.T) {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			t.Errorf("PAYWIRE_ADDR host = %q: a published port cannot reach it, listen on 0.0.0.0", host)
		}
		i := slices.IndexFunc(app.Ports, func(p types.ServicePortConfig) bool { return p.Published == "8080" })
		if i < 0 {
			t.Fatalf("paywire does not publish port 8080: %+v", app.Ports)
		}
		if target := strconv.FormatUint(uint64(app.Ports[i].Target), 10); target != port {
			t.Errorf("published 8080 maps to container port %s, PAYWIRE_ADDR listens on %s", target, port)
		}
	})

	t.Run("healthchecks", func(t *testing.T) {
		for _, s := range []types.ServiceConfig{pg, app} {
			if hc := s.HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
				t.Errorf("%s has no healthcheck", s.Name)
			}
		}
		if t.Failed() {
			return
		}
		// The runtime image has no shell: exec form, running the binary
		// where the Dockerfile puts it.
		test := app.HealthCheck.Test
		if len(test) < 3 || test[0] != "CMD" || test[1] != "/paywire" || test[2] != "healthcheck" {
			t.Fatalf("paywire healthcheck = %q, want [CMD /paywire healthcheck ...]", test)
		}
		checkURL := "http://127.0.0.1:8080/readyz" // paywire healthcheck's default --url
		for i := 3; i < len(test); i++ {
			flag, value, hasValue := strings.Cut(strings.TrimLeft(test[i], "-"), "=")
			if flag == "url" && hasValue {
				checkURL = value
			} else if flag == "url" && i+1 < len(test) {
				checkURL = test[i+1]
			}
		}
		u, err := url.Parse(checkURL)
		if err != nil {
			t.Fatalf("healthcheck URL: %v", err)
		}
		if u.Port() != port {
			t.Errorf("healthcheck asks %s, PAYWIRE_ADDR listens on port %s", checkURL, port)
		}
	})
}

// TestComposeDockerfile reads the Dockerfile that the compose file builds.
func TestComposeDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := dockerfileStages(string(b))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(stages))
	}

	build := slices.IndexFunc(stages, func(s []string) bool {
		return slices.ContainsFunc(s, func(ins string) bool { return keyword(ins) == "RUN" && strings.Contains(ins, "go build") })
	})
	if build < 0 {
		t.Fatal("no stage runs go build")
	}
	stage := stages[build]
	goBuild := stage[slices.IndexFunc(stage, func(ins string) bool { return keyword(ins) == "RUN" && strings.Contains(ins, "go build") })]
	if !strings.Contains(goBuild, "./cmd/paywire") {
		t.Errorf("go build does not build ./cmd/paywire: %s", goBuild)
	}
	// The runtime image has no libc.
	if !slices.ContainsFunc(stage, func(ins string) bool {
		return (ins == goBuild || keyword(ins) == "ENV") && strings.Contains(ins, "CGO_ENABLED=0")
	}) {
		t.Errorf("the build stage does not set CGO_ENABLED=0")
	}

	// Official golang images set GOTOOLCHAIN=local: an image older than
	// go.mod's go line fails to build.
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	modGo := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(mod)
	imageGo := regexp.MustCompile(`\bgolang:(\d+\.\d+)`).FindStringSubmatch(stage[0])
	if modGo == nil || imageGo == nil {
		t.Errorf("cannot compare the build image %q with go.mod's go line", stage[0])
	} else if want := version.Lang("go" + string(modGo[1])); version.Compare(version.Lang("go"+imageGo[1]), want) < 0 {
		t.Errorf("build image %q is older than go.mod's go %s", stage[0], modGo[1])
	}

	final := stages[len(stages)-1]
	if !strings.Contains(final[0], "gcr.io/distroless/static") {
		t.Errorf("final stage is %q, want gcr.io/distroless/static", final[0])
	}
	// The compose healthcheck runs /paywire; `docker compose up` runs serve.
	var command []string
	for _, ins := range final {
		if k := keyword(ins); k == "ENTRYPOINT" || k == "CMD" {
			var args []string
			if err := json.Unmarshal([]byte(strings.TrimSpace(ins[len(k):])), &args); err != nil {
				t.Errorf("%s is not in exec form: %v", ins, err)
			}
			command = append(command, args...)
		}
	}
	if !slices.Equal(command, []string{"/paywire", "serve"}) {
		t.Errorf("ENTRYPOINT and CMD run %q, want [/paywire serve]", command)
	}
}

// dockerfileStages splits a Dockerfile into stages, each a list of
// instructions with line continuations joined and comments dropped; the
// first instruction of each stage is its FROM.
func dockerfileStages(dockerfile string) [][]string {
	var stages [][]string
	var ins strings.Builder
	for line := range strings.Lines(dockerfile) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			ins.WriteString(l + " ")
			continue
		}
		ins.WriteString(line)
		s := ins.String()
		ins.Reset()
		if keyword(s) == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 { // skip ARGs before the first FROM
			stages[len(stages)-1] = append(stages[len(stages)-1], s)
		}
	}
	return stages
}

// keyword returns an instruction's keyword in upper case.
func keyword(ins string) string {
	k, _, _ := strings.Cut(ins, " ")
	return strings.ToUpper(k)
}
