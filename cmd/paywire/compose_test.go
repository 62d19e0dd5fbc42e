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
	"path"
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

// loadCompose loads docker-compose.yml as `docker compose` would with the
// environment env (KEY=value) and no .env file, so that the result does not
// depend on the machine running the test.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithName("paywire"),
		cli.WithEnv(env),
	)
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return project
}

func TestComposeFile(t *testing.T) {
	// No OS environment: interpolation sees an empty environment.
	project := loadCompose(t)
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

	t.Run("metrics listener with a token", func(t *testing.T) {
		// The service's environment, read by the binary's own parser.
		cfg, _, err := parseConfig("serve", nil, func(k string) string {
			if v := app.Environment[k]; v != nil {
				return *v
			}
			return ""
		})
		if err != nil {
			t.Fatalf("paywire serve refuses the compose environment: %v", err)
		}
		if cfg.MetricsAddr == "" {
			t.Fatal("PAYWIRE_METRICS_ADDR is public: /metrics would share the published port 8080")
		}
		if env(t, app, "PAYWIRE_METRICS_ADDR") != cfg.MetricsAddr {
			t.Fatalf("PAYWIRE_METRICS_ADDR = %q, read as %q", env(t, app, "PAYWIRE_METRICS_ADDR"), cfg.MetricsAddr)
		}
		mhost, mport, _ := net.SplitHostPort(cfg.MetricsAddr)
		if ip := net.ParseIP(mhost); mhost != "" && (ip == nil || !ip.IsUnspecified()) {
			t.Errorf("PAYWIRE_METRICS_ADDR host = %q: nothing outside the container reaches it, listen on 0.0.0.0", mhost)
		}
		if mport == port {
			t.Errorf("PAYWIRE_METRICS_ADDR and PAYWIRE_ADDR both use port %s", port)
		}
		if cfg.MetricsToken == "" {
			t.Error("PAYWIRE_METRICS_TOKEN is not set: the metrics listener answers anyone who reaches it")
		}
		if cfg.Pprof {
			t.Error("PAYWIRE_PPROF is on")
		}
		// Usable without --demo: links survive restarts, and the operator
		// API can create the first merchant.
		if len(cfg.TokenKey) != 32 {
			t.Error("PAYWIRE_TOKEN_KEY is not set: links and API secrets would not survive a restart")
		}
		if cfg.OperatorToken == "" || cfg.Demo {
			t.Errorf("operator token %q, demo %v: the deployment needs the operator API, not --demo", cfg.OperatorToken, cfg.Demo)
		}
		// A published metrics port is for this host only.
		for _, p := range app.Ports {
			if strconv.FormatUint(uint64(p.Target), 10) != mport {
				continue
			}
			if ip := net.ParseIP(p.HostIP); ip == nil || !ip.IsLoopback() {
				t.Errorf("the metrics port %s is published on %q, want 127.0.0.1 only", mport, p.HostIP)
			}
		}
		// The token is the operator's, from the environment (or .env).
		const token = "token-from-the-environment"
		other, err := loadCompose(t, "PAYWIRE_METRICS_TOKEN="+token).GetService("paywire")
		if err != nil {
			t.Fatal(err)
		}
		if got := env(t, other, "PAYWIRE_METRICS_TOKEN"); got != token {
			t.Errorf("with PAYWIRE_METRICS_TOKEN=%s in the environment the service gets %q", token, got)
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
		checkURL := healthcheckURL(test[3:])
		u, err := url.Parse(checkURL)
		if err != nil {
			t.Fatalf("healthcheck URL: %v", err)
		}
		if u.Port() != port {
			t.Errorf("healthcheck asks %s, PAYWIRE_ADDR listens on port %s", checkURL, port)
		}
		// The compose healthcheck replaces the image's: both run the same
		// command, so the image checks the same thing without compose.
		stages := readDockerfile(t)
		if image := dockerfileHealthcheck(t, stages[len(stages)-1]); !slices.Equal(test[1:], image) {
			t.Errorf("compose healthcheck runs %q, the Dockerfile's HEALTHCHECK %q", test[1:], image)
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

	// Metrics settings are the deployment's: no token baked into the image
	// (anyone who pulls it would read it), pprof off, /metrics not on the
	// public port.
	imageEnv := dockerfileEnv(final)
	if _, ok := imageEnv["PAYWIRE_METRICS_TOKEN"]; ok {
		t.Error("the image sets PAYWIRE_METRICS_TOKEN: a secret in an image is no secret")
	}
	if v := imageEnv["PAYWIRE_METRICS_ADDR"]; v == "public" {
		t.Error("the image serves /metrics on the public listener")
	}
	if v, ok := imageEnv["PAYWIRE_PPROF"]; ok && v != "false" {
		t.Errorf("the image sets PAYWIRE_PPROF=%s", v)
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

// nonrootUID is the uid of the user `nonroot` in the distroless images.
const nonrootUID = "65532"

// TestDockerfileRuntimeUser checks that the runtime image, run as its
// non-root user with its defaults, can write its database: the SQLite file
// PAYWIRE_DB names (or the binary's default, relative to WORKDIR) lies in a
// directory copied into the image owned by that user, and on a volume.
func TestDockerfileRuntimeUser(t *testing.T) {
	stages := readDockerfile(t)
	final := stages[len(stages)-1]

	// USER: the last one wins; the distroless names map to their uids.
	user := ""
	for _, ins := range final {
		if keyword(ins) == "USER" {
			user = strings.TrimSpace(ins[len("USER"):])
		}
	}
	if user == "" {
		t.Fatal("the final stage sets no USER: say which user runs the binary")
	}
	uid, gid, _ := strings.Cut(user, ":")
	if resolveDistrolessID(uid) != nonrootUID || (gid != "" && resolveDistrolessID(gid) != nonrootUID) {
		t.Fatalf("USER %s, want nonroot (uid %s)", user, nonrootUID)
	}

	workdir := "/"
	for _, ins := range final {
		if keyword(ins) == "WORKDIR" {
			workdir = path.Join(workdir, strings.TrimSpace(ins[len("WORKDIR"):]))
		}
	}
	db, ok := dockerfileEnv(final)["PAYWIRE_DB"]
	if !ok {
		i := slices.IndexFunc(options, func(o option) bool { return o.Env == "PAYWIRE_DB" })
		db = options[i].Default
	}
	if strings.Contains(db, "://") {
		t.Fatalf("PAYWIRE_DB = %q: the image must run on its own, on SQLite", db)
	}
	if !path.IsAbs(db) {
		db = path.Join(workdir, db)
	}
	dbDir := path.Dir(db)

	// The store creates missing directories below one it can write to.
	var owned string
	for _, ins := range final {
		if keyword(ins) != "COPY" {
			continue
		}
		flags, args := instructionArgs(ins[len("COPY"):])
		if len(args) < 2 || !within(dbDir, args[len(args)-1]) {
			continue
		}
		owner, ok := flags["chown"]
		ou, og, _ := strings.Cut(owner, ":")
		if !ok || resolveDistrolessID(ou) != nonrootUID || (og != "" && resolveDistrolessID(og) != nonrootUID) {
			t.Errorf("%s: the data directory is not copied with --chown=%s", ins, nonrootUID)
			continue
		}
		from := flags["from"]
		src := slices.IndexFunc(stages, func(s []string) bool { return strings.HasSuffix(strings.ToLower(s[0]), " as "+strings.ToLower(from)) })
		if src < 0 {
			t.Errorf("%s: no stage named %q makes the directory", ins, from)
			continue
		}
		if !slices.ContainsFunc(stages[src], func(r string) bool {
			return keyword(r) == "RUN" && strings.Contains(r, "mkdir") && strings.Contains(r, args[0])
		}) {
			t.Errorf("%s: stage %q does not mkdir %s", ins, from, args[0])
			continue
		}
		owned = args[len(args)-1]
	}
	if owned == "" {
		t.Errorf("the database %s (PAYWIRE_DB, WORKDIR %s) is in no directory the image gives uid %s: the store cannot create it", db, workdir, nonrootUID)
	}

	var volumes []string
	for _, ins := range final {
		if keyword(ins) == "VOLUME" {
			_, v := instructionArgs(ins[len("VOLUME"):])
			volumes = append(volumes, v...)
		}
	}
	if !slices.ContainsFunc(volumes, func(v string) bool { return within(dbDir, v) }) {
		t.Errorf("the database %s is on no VOLUME (%q): it would be lost with the container", db, volumes)
	}
}

// TestDockerfileHealthcheck checks the image's own HEALTHCHECK: exec form
// (there is no shell), running the binary at the port the image listens on.
func TestDockerfileHealthcheck(t *testing.T) {
	stages := readDockerfile(t)
	final := stages[len(stages)-1]
	test := dockerfileHealthcheck(t, final)
	if len(test) < 2 || test[0] != "/paywire" || test[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK runs %q, want [/paywire healthcheck ...]", test)
	}
	addr, ok := dockerfileEnv(final)["PAYWIRE_ADDR"]
	if !ok {
		t.Fatal("the image does not set PAYWIRE_ADDR")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("PAYWIRE_ADDR: %v", err)
	}
	u, err := url.Parse(healthcheckURL(test[2:]))
	if err != nil {
		t.Fatalf("healthcheck URL: %v", err)
	}
	if u.Port() != port {
		t.Errorf("HEALTHCHECK asks %s, PAYWIRE_ADDR listens on port %s", u, port)
	}
}

func readDockerfile(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := dockerfileStages(string(b))
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return stages
}

// dockerfileHealthcheck returns the command of a stage's HEALTHCHECK, which
// must be in exec form.
func dockerfileHealthcheck(t *testing.T, stage []string) []string {
	t.Helper()
	i := slices.IndexFunc(stage, func(ins string) bool { return keyword(ins) == "HEALTHCHECK" })
	if i < 0 {
		t.Fatal("the final stage has no HEALTHCHECK")
	}
	rest := strings.TrimSpace(stage[i][len("HEALTHCHECK"):])
	for strings.HasPrefix(rest, "--") {
		_, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	cmd, rest, _ := strings.Cut(rest, " ")
	if strings.ToUpper(cmd) != "CMD" {
		t.Fatalf("%s: want HEALTHCHECK [options] CMD [...]", stage[i])
	}
	var args []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &args); err != nil {
		t.Fatalf("%s is not in exec form (the image has no shell): %v", stage[i], err)
	}
	return args
}

// healthcheckURL is the URL `paywire healthcheck` asks, given its flags.
func healthcheckURL(flags []string) string {
	checkURL := "http://127.0.0.1:8080/readyz" // paywire healthcheck's default --url
	for i := 0; i < len(flags); i++ {
		flag, value, hasValue := strings.Cut(strings.TrimLeft(flags[i], "-"), "=")
		if flag == "url" && hasValue {
			checkURL = value
		} else if flag == "url" && i+1 < len(flags) {
			checkURL = flags[i+1]
		}
	}
	return checkURL
}

// dockerfileEnv collects a stage's ENV instructions, in both the key=value
// and the legacy "key value" form.
func dockerfileEnv(stage []string) map[string]string {
	env := map[string]string{}
	for _, ins := range stage {
		if keyword(ins) != "ENV" {
			continue
		}
		rest := strings.TrimSpace(ins[len("ENV"):])
		fields := strings.Fields(rest)
		if len(fields) > 0 && !strings.Contains(fields[0], "=") {
			k, v, _ := strings.Cut(rest, " ")
			env[k] = strings.Trim(strings.TrimSpace(v), `"`)
			continue
		}
		for _, f := range fields {
			k, v, _ := strings.Cut(f, "=")
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}

// instructionArgs splits the arguments of COPY or VOLUME into --flags and
// the remaining words, in exec (JSON) or plain form.
func instructionArgs(s string) (map[string]string, []string) {
	flags := map[string]string{}
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "--") {
		var f string
		f, s, _ = strings.Cut(s, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		flags[k] = v
		s = strings.TrimSpace(s)
	}
	var args []string
	if json.Unmarshal([]byte(s), &args) != nil {
		args = strings.Fields(s)
	}
	return flags, args
}

// resolveDistrolessID maps the user and group names of the distroless
// images to their ids.
func resolveDistrolessID(name string) string {
	switch name {
	case "nonroot":
		return nonrootUID
	case "root":
		return "0"
	}
	return name
}

// within reports whether dir is dir or below ancestor.
func within(dir, ancestor string) bool {
	dir, ancestor = path.Clean(dir), path.Clean(ancestor)
	return dir == ancestor || strings.HasPrefix(dir, strings.TrimSuffix(ancestor, "/")+"/")
}
