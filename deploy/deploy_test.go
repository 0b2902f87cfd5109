// Package deploy holds the deployment files (the top-level Dockerfile and
// .dockerignore, deploy/kubernetes, deploy/helm). There is no Docker engine
// or cluster in CI, so these tests lint what can be linted without one: the
// Dockerfile through BuildKit's own parser and parse-time linter, its build
// stage replayed on the filtered build context, and the Kubernetes and Helm
// files for consistency with the image (name, plugin paths, user, paths,
// environment).
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/dockerignore"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"gopkg.in/yaml.v3"
)

const (
	// The image the deployment files run; the Dockerfile's header builds it.
	imageName = "ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1"
	// Where the image installs the plugins and what the plugins files load.
	pluginDir     = "/fluent-bit/plugins/"
	filterPlugin  = pluginDir + "flb-filter_opsworks.so"
	inputPlugin   = pluginDir + "in_cloudtrail_s3.so"
	fluentBitBase = "fluent/fluent-bit:5.1.1"
	stateDir      = "/var/lib/opsworks-trail"
)

// Credentials are optional (unset: no authentication), so the image does not
// default them; every other variable a pipeline uses must have a default.
var optionalEnv = map[string]bool{"ES_USER": true, "ES_PASSWORD": true, "OPENSEARCH_USER": true, "OPENSEARCH_PASSWORD": true,
	// The trail is the user's: no default in the image. Unset optional ones
	// give the input's defaults; an unset bucket stops start-up naming the key.
	"CLOUDTRAIL_BUCKET": true, "AWS_REGION": true, "CLOUDTRAIL_PREFIX": true, "CLOUDTRAIL_ORG_ID": true,
	"CLOUDTRAIL_S3_ENDPOINT": true, "CLOUDTRAIL_S3_FORCE_PATH_STYLE": true,
	"CLOUDTRAIL_VALIDATE_INTEGRITY": true, "CLOUDTRAIL_PUBLIC_KEYS_FILE": true}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type dockerfile struct {
	raw    []byte
	stages []instructions.Stage
	lint   []string
}

// parseDockerfile parses ./Dockerfile as BuildKit does, collecting the
// warnings of its parse-time lint rules.
func parseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	d := &dockerfile{raw: read(t, "Dockerfile")}
	res, err := parser.Parse(bytes.NewReader(d.raw))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		d.lint = append(d.lint, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		d.lint = append(d.lint, fmt.Sprintf("line %d: %s: %s", line, rule, msg))
	}})
	d.stages, _, err = instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return d
}

func commands[T any](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// goMinor is go.mod's go directive as major.minor ("1.24").
func goMinor(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?\s*$`).FindSubmatch(read(t, "go.mod"))
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.lint) > 0 {
		t.Errorf("BuildKit lint warnings:\n%s", strings.Join(d.lint, "\n"))
	}
	if len(d.stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(d.stages))
	}
	names := map[string]bool{}
	for i, s := range d.stages {
		base := s.BaseName
		if names[strings.ToLower(base)] {
			continue // FROM an earlier stage
		}
		_, tag, ok := strings.Cut(base[strings.LastIndex(base, "/")+1:], ":")
		if !ok || tag == "" || tag == "latest" || strings.Contains(base, "$") {
			t.Errorf("stage %d: FROM %s is not pinned to a tag", i, base)
		}
		if s.Name != "" {
			names[strings.ToLower(s.Name)] = true
		}
	}

	build, final := d.stages[0], d.stages[len(d.stages)-1]
	// The builder's Go still gets security fixes (Go supports its two
	// newest minor releases: at most one behind the toolchain running these
	// tests) and is at least go.mod's; Debian trixie, the Fluent Bit image's
	// release. It runs on the build machine's platform and cross-compiles.
	m := regexp.MustCompile(`^golang:1\.(\d+)-trixie$`).FindStringSubmatch(build.BaseName)
	mod, _ := strconv.Atoi(strings.TrimPrefix(goMinor(t), "1."))
	run, _ := strconv.Atoi(regexp.MustCompile(`^go1\.(\d+)`).FindStringSubmatch(runtime.Version() + "")[1])
	if m == nil {
		t.Errorf("builder is %s, want golang:1.N-trixie", build.BaseName)
	} else if n, _ := strconv.Atoi(m[1]); n < mod || n < run-1 {
		t.Errorf("builder is %s: Go 1.%d is older than go.mod's 1.%d or no longer supported (the tests run Go 1.%d)", build.BaseName, n, mod, run)
	}
	if build.Platform != "$BUILDPLATFORM" {
		t.Errorf("builder platform %q, want $BUILDPLATFORM (it cross-compiles for the target)", build.Platform)
	}
	if final.BaseName != fluentBitBase {
		t.Errorf("final stage is FROM %s, want %s", final.BaseName, fluentBitBase)
	}

	// Non-root in the final stage.
	users := commands[*instructions.UserCommand](final)
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER: the upstream image runs as root")
	}
	// Numeric, so that Kubernetes' runAsNonRoot can verify it.
	user := users[len(users)-1].User
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root uid", user)
	}

	// CMD and ENTRYPOINT in exec form.
	cmds := commands[*instructions.CmdCommand](final)
	if len(cmds) == 0 || cmds[len(cmds)-1].PrependShell ||
		strings.Join(cmds[len(cmds)-1].CmdLine, " ") != "/fluent-bit/bin/fluent-bit -c /fluent-bit/etc/fluent-bit.conf" {
		t.Errorf("CMD = %v", cmds)
	}
	for _, e := range commands[*instructions.EntrypointCommand](final) {
		if e.PrependShell {
			t.Errorf("ENTRYPOINT in shell form: %v", e.CmdLine)
		}
	}

	// COPY from the build context: the sources exist and .dockerignore
	// does not exclude them.
	ignore := dockerignorePatterns(t)
	for _, s := range d.stages {
		for _, c := range commands[*instructions.CopyCommand](s) {
			if c.From != "" {
				continue
			}
			for _, src := range c.SourcePaths {
				matches, _ := filepath.Glob(filepath.Join(repoRoot(), src))
				if len(matches) == 0 {
					t.Errorf("COPY %s: no such file in the repository", src)
				}
				if excluded, _ := ignore.MatchesOrParentMatches(filepath.Clean(src)); excluded {
					t.Errorf("COPY %s: excluded by .dockerignore", src)
				}
			}
		}
	}

	// The header's build command names the image the deployments run.
	if !strings.Contains(string(d.raw), "docker build -t "+imageName+" .") {
		t.Errorf("the Dockerfile's header does not build %s", imageName)
	}

	// Every variable a shipped pipeline uses has a default in the image,
	// except the optional credentials.
	env := map[string]bool{}
	for _, e := range commands[*instructions.EnvCommand](final) {
		for _, kv := range e.Env {
			env[kv.Key] = true
		}
	}
	for name := range pipelineVariables(t) {
		if !env[name] && !optionalEnv[name] {
			t.Errorf("${%s} is used by a shipped pipeline but has no ENV default in the image", name)
		}
	}
}

func dockerignorePatterns(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	patterns, err := dockerignore.ReadAll(bytes.NewReader(read(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

var varRe = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// pipelineVariables are the ${VARS} of examples/pipelines.
func pipelineVariables(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "examples", "pipelines", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range varRe.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("no variables in examples/pipelines")
	}
	return out
}

// The build stage, replayed without Docker: the build context filtered by
// .dockerignore, the stage's COPY and RUN steps executed in it (with /out and
// /dirs redirected into the test's directory), then the final stage's
// COPY --from sources checked against what the stage produced. This catches
// a .dockerignore that drops a package the plugins need, a wrong package
// path, or a COPY --from of something never built.
func TestDockerBuildStage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugins")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	d := parseDockerfile(t)
	build := d.stages[0]
	root := t.TempDir()
	ctx := filepath.Join(root, "context")
	copyContext(t, ctx, dockerignorePatterns(t))
	redirect := strings.NewReplacer("/out/", root+"/out/", "/out ", root+"/out ", "/dirs/", root+"/dirs/")

	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			// TARGETARCH is empty in the replay: the build machine's
			// architecture, as a plain docker build on it.
		case *instructions.WorkdirCommand, *instructions.CopyCommand:
			// WORKDIR is the context dir; COPY go.mod/go.sum and COPY . .
			// bring the (already copied) context.
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				t.Fatalf("unexpected COPY --from in the build stage: %v", cp)
			}
		case *instructions.RunCommand:
			script := strings.Join(c.CmdLine, " ")
			if strings.TrimSpace(script) == "go mod download" {
				continue // only warms a layer; the build downloads what it needs
			}
			if !c.PrependShell {
				t.Fatalf("RUN in exec form is not replayed: %v", c.CmdLine)
			}
			if err := os.MkdirAll(filepath.Join(root, "out"), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", redirect.Replace(script))
			cmd.Dir = ctx
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("RUN %s\n%v\n%s", script, err, out)
			}
		default:
			t.Fatalf("the replay does not know %s", c.Name())
		}
	}

	built := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(root, "out"))
	for _, e := range entries {
		built[e.Name()] = true
	}
	if !built["flb-filter_opsworks.so"] {
		t.Errorf("the build stage did not produce flb-filter_opsworks.so: %v", built)
	}
	if !built["in_cloudtrail_s3.so"] {
		t.Errorf("the build stage did not produce in_cloudtrail_s3.so: %v", built)
	}
	for name := range built {
		if !strings.HasSuffix(name, ".so") {
			t.Errorf("/out/%s would be copied into the plugins directory", name)
		}
	}

	final := d.stages[len(d.stages)-1]
	for _, c := range commands[*instructions.CopyCommand](final) {
		if c.From == "" {
			continue
		}
		for _, src := range c.SourcePaths {
			if _, err := os.Stat(filepath.Join(root, strings.TrimPrefix(src, "/"))); err != nil {
				t.Errorf("COPY --from=%s %s: not produced by the build stage", c.From, src)
			}
		}
		if c.SourcePaths[0] == "/out/" && c.DestPath != pluginDir {
			t.Errorf("the plugins are copied to %s, the plugins files load them from %s", c.DestPath, pluginDir)
		}
	}
	// The directories the pipelines write to exist in the image, owned by
	// the runtime user.
	for _, dir := range []string{stateDir + "/storage", stateDir + "/errors", stateDir + "/unclassified", stateDir + "/integrity"} {
		if fi, err := os.Stat(filepath.Join(root, "dirs", dir)); err != nil || !fi.IsDir() {
			t.Errorf("the image does not create %s", dir)
		}
	}
	chowned := false
	for _, c := range commands[*instructions.CopyCommand](final) {
		if c.From != "" && len(c.SourcePaths) == 1 && c.SourcePaths[0] == "/dirs/" {
			chowned = c.Chown == "65532:65532"
		}
	}
	if !chowned {
		t.Error("the state directories are not copied with --chown=65532:65532")
	}
}

// copyContext copies the repository minus .dockerignore's exclusions (and
// minus untracked build output), as `docker build .` would send it.
func copyContext(t *testing.T, dst string, ignore *patternmatcher.PatternMatcher) {
	t.Helper()
	src := repoRoot()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		if excluded, _ := ignore.MatchesOrParentMatches(rel); excluded {
			if info.IsDir() && !ignore.Exclusions() {
				return filepath.SkipDir
			}
			return nil // a directory is walked when a !pattern may take a file back
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --- Kubernetes and Helm ---------------------------------------------------

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string         `yaml:"name"`
		Value     *string        `yaml:"value"`
		ValueFrom map[string]any `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	SecurityContext map[string]any `yaml:"securityContext"`
	LivenessProbe   map[string]any `yaml:"livenessProbe"`
	ReadinessProbe  map[string]any `yaml:"readinessProbe"`
	Resources       struct {
		Requests map[string]any `yaml:"requests"`
		Limits   map[string]any `yaml:"limits"`
	} `yaml:"resources"`
}

type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas         *int `yaml:"replicas"`
		BackoffLimit     *int `yaml:"backoffLimit"`
		PodFailurePolicy *struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes struct {
					ContainerName string `yaml:"containerName"`
					Operator      string `yaml:"operator"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				ServiceAccountName string           `yaml:"serviceAccountName"`
				RestartPolicy      string           `yaml:"restartPolicy"`
				SecurityContext    map[string]any   `yaml:"securityContext"`
				Volumes            []map[string]any `yaml:"volumes"`
				Containers         []container      `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// manifests reads a multi-document file of deploy/kubernetes by kind.
func manifests(t *testing.T, file string) map[string]manifest {
	t.Helper()
	out := map[string]manifest{}
	dec := yaml.NewDecoder(bytes.NewReader(read(t, "deploy/kubernetes/"+file)))
	for {
		var m manifest
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("%s: %v", file, err)
		}
		if m.Kind == "" {
			continue
		}
		if _, dup := out[m.Kind]; dup {
			t.Errorf("%s: two %s", file, m.Kind)
		}
		out[m.Kind] = m
	}
	return out
}

// pathsUnder checks that every filesystem path the pipeline text uses is on
// a mount (writable ones on a writable mount), so the container's read-only
// root filesystem is never written.
func pathsUnder(t *testing.T, what, pipeline string, mounts map[string]bool) {
	t.Helper()
	for _, p := range regexp.MustCompile(`(/var/[A-Za-z0-9_./*-]+)`).FindAllString(pipeline, -1) {
		ok := false
		for m, writable := range mounts {
			if strings.HasPrefix(p, m+"/") || p == m {
				ok = true
				if strings.HasPrefix(p, stateDir) && !writable {
					t.Errorf("%s: %s is written but its mount %s is read-only", what, p, m)
				}
			}
		}
		if !ok {
			t.Errorf("%s: %s is on no volume (the root filesystem is read-only)", what, p)
		}
	}
}

// The Kubernetes manifests: a backfill Job (exit_on_eof, checkpoints on a
// PVC, exit code 2 fails the Job at once) and an SQS fleet Deployment, each
// with a ServiceAccount for IRSA, running the image's Fluent Bit on the
// ConfigMap's pipeline, which loads both plugins from where the image
// installs them and uses only variables the container sets. TestDeployConfigs
// (test/e2e) runs those pipelines in real Fluent Bit.
func TestKubernetesManifests(t *testing.T) {
	for file, workload := range map[string]string{"backfill-job.yaml": "Job", "sqs-fleet.yaml": "Deployment"} {
		t.Run(file, func(t *testing.T) {
			ms := manifests(t, file)
			cm, w, sa := ms["ConfigMap"], ms[workload], ms["ServiceAccount"]
			if cm.Kind == "" || w.Kind == "" || sa.Kind == "" {
				t.Fatalf("want a ConfigMap, a %s and a ServiceAccount, got %v", workload, keys(ms))
			}
			pod := w.Spec.Template.Spec
			if pod.ServiceAccountName != sa.Metadata.Name || !strings.HasPrefix(sa.Metadata.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::") {
				t.Errorf("the pod runs as %q; the ServiceAccount %q needs the IRSA annotation (eks.amazonaws.com/role-arn)", pod.ServiceAccountName, sa.Metadata.Name)
			}
			switch workload {
			case "Job":
				pvc := ms["PersistentVolumeClaim"]
				claimed := false
				for _, v := range pod.Volumes {
					if c, ok := v["persistentVolumeClaim"].(map[string]any); ok && c["claimName"] == pvc.Metadata.Name {
						claimed = true
					}
				}
				if pvc.Kind == "" || !claimed {
					t.Error("the Job's checkpoints are not on the PersistentVolumeClaim the file creates")
				}
				if pod.RestartPolicy != "Never" {
					t.Errorf("restartPolicy %q: Never, so that the pod's exit code reaches the Job", pod.RestartPolicy)
				}
				pfp := w.Spec.PodFailurePolicy
				if pfp == nil || len(pfp.Rules) == 0 || pfp.Rules[0].Action != "FailJob" || !slices.Equal(pfp.Rules[0].OnExitCodes.Values, []int{2}) {
					t.Error("the Job does not fail at once on exit code 2 (the window was read, with problems a rerun would not fix)")
				}
			case "Deployment":
				if w.Spec.Replicas == nil || *w.Spec.Replicas < 2 {
					t.Error("the SQS fleet has fewer than 2 replicas")
				}
			}
			if len(pod.Containers) != 1 || pod.Containers[0].Image != imageName {
				t.Fatalf("want one container running %s", imageName)
			}
			fb := pod.Containers[0]
			psc := pod.SecurityContext
			if psc["runAsNonRoot"] != true || psc["runAsUser"] != 65532 || psc["fsGroup"] != 65532 {
				t.Errorf("pod securityContext %v: want non-root 65532 (the image's USER) and fsGroup for the volumes", psc)
			}
			if fb.SecurityContext["readOnlyRootFilesystem"] != true {
				t.Error("the fluent-bit container's root filesystem is writable")
			}
			if fb.LivenessProbe == nil || fb.ReadinessProbe == nil || fb.Resources.Requests["memory"] == nil || fb.Resources.Limits["memory"] == nil {
				t.Error("probes on Fluent Bit's HTTP server and memory requests/limits are required")
			}
			checkPodPipeline(t, cm, fb)
		})
	}
}

// checkPodPipeline: -c points into the ConfigMap's mount; the pipeline has
// the S3 input and the filter, loads both plugins from the image, writes
// only to mounted volumes, and its variables are set in the container.
func checkPodPipeline(t *testing.T, cm manifest, fb container) {
	t.Helper()
	mounts := map[string]bool{}
	configDir := ""
	for _, m := range fb.VolumeMounts {
		mounts[m.MountPath] = !m.ReadOnly
		if m.Name == "config" {
			configDir = m.MountPath
		}
	}
	if len(fb.Args) != 2 || fb.Args[0] != "-c" || filepath.Dir(fb.Args[1]) != configDir {
		t.Fatalf("args %v: want -c <file in the config mount %s>", fb.Args, configDir)
	}
	name := filepath.Base(fb.Args[1])
	pipeline, ok := cm.Data[name]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", name)
	}
	var p struct {
		Service  map[string]any `yaml:"service"`
		Pipeline struct {
			Inputs  []map[string]any `yaml:"inputs"`
			Filters []map[string]any `yaml:"filters"`
			Outputs []map[string]any `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal([]byte(pipeline), &p); err != nil {
		t.Fatalf("ConfigMap %s: %v", name, err)
	}
	pf, _ := p.Service["plugins_file"].(string)
	var plugins struct {
		Plugins []string `yaml:"plugins"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data[pf]), &plugins); err != nil || !slices.Equal(plugins.Plugins, []string{inputPlugin, filterPlugin}) {
		t.Errorf("plugins_file %q loads %v (%v), want [%s %s]", pf, plugins.Plugins, err, inputPlugin, filterPlugin)
	}
	if len(p.Pipeline.Inputs) != 1 || p.Pipeline.Inputs[0]["name"] != "cloudtrail_s3" {
		t.Error("the ConfigMap pipeline does not read with cloudtrail_s3")
	}
	if len(p.Pipeline.Filters) == 0 || p.Pipeline.Filters[0]["name"] != "opsworks" {
		t.Error("the ConfigMap pipeline has no opsworks filter")
	}
	pathsUnder(t, "ConfigMap "+name, pipeline, mounts)
	set := map[string]bool{}
	for _, e := range fb.Env {
		set[e.Name] = true
	}
	for _, m := range varRe.FindAllStringSubmatch(pipeline, -1) {
		if !set[m[1]] {
			t.Errorf("${%s} is used by the ConfigMap pipeline but not set in the container", m[1])
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type helmValues struct {
	Kind           string `yaml:"kind"`
	ReplicaCount   int    `yaml:"replicaCount"`
	ServiceAccount struct {
		Create      bool              `yaml:"create"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"serviceAccount"`
	Resources struct {
		Requests map[string]any `yaml:"requests"`
		Limits   map[string]any `yaml:"limits"`
	} `yaml:"resources"`
	Image struct {
		Repository string `yaml:"repository"`
		Tag        string `yaml:"tag"`
	} `yaml:"image"`
	PodSecurityContext map[string]any `yaml:"podSecurityContext"`
	SecurityContext    map[string]any `yaml:"securityContext"`
	Env                []struct {
		Name string `yaml:"name"`
	} `yaml:"env"`
	ExtraVolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"extraVolumeMounts"`
	Config struct {
		Service    string            `yaml:"service"`
		Inputs     string            `yaml:"inputs"`
		Filters    string            `yaml:"filters"`
		Outputs    string            `yaml:"outputs"`
		ExtraFiles map[string]string `yaml:"extraFiles"`
	} `yaml:"config"`
}

// The chart's config directory and the fluent-bit.conf it assembles there.
const chartConfigDir = "/fluent-bit/etc/conf"

func TestHelmValues(t *testing.T) {
	var v helmValues
	if err := yaml.Unmarshal(read(t, "deploy/helm/values.yaml"), &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	if got := v.Image.Repository + ":" + v.Image.Tag; got != imageName {
		t.Errorf("image %s, want %s", got, imageName)
	}
	if v.Kind != "Deployment" {
		t.Errorf("kind %s: a DaemonSet would run one backfill per node", v.Kind)
	}
	if v.PodSecurityContext["runAsUser"] != 65532 || v.PodSecurityContext["runAsNonRoot"] != true {
		t.Errorf("podSecurityContext %v", v.PodSecurityContext)
	}
	conf := v.Config.Service + v.Config.Inputs + v.Config.Filters + v.Config.Outputs
	// The chart runs every config value through tpl: no template syntax
	// by accident.
	if strings.Contains(conf, "{{") {
		t.Error("config contains {{ (Helm tpl would evaluate it)")
	}
	m := regexp.MustCompile(`(?mi)^\s*plugins_file\s+(\S+)\s*$`).FindStringSubmatch(v.Config.Service)
	if m == nil || filepath.Dir(m[1]) != chartConfigDir {
		t.Fatalf("config.service loads no plugins file from the chart's %s: %v", chartConfigDir, m)
	}
	plugins, ok := v.Config.ExtraFiles[filepath.Base(m[1])]
	if !ok {
		t.Fatalf("config.extraFiles has no %s", filepath.Base(m[1]))
	}
	for _, so := range []string{inputPlugin, filterPlugin} {
		if !regexp.MustCompile(`(?m)^\s*Path\s+` + regexp.QuoteMeta(so) + `\s*$`).MatchString(plugins) {
			t.Errorf("the plugins file does not load %s:\n%s", so, plugins)
		}
	}
	if !regexp.MustCompile(`(?mi)^\s*Name\s+cloudtrail_s3\s*$`).MatchString(v.Config.Inputs) || !strings.Contains(v.Config.Inputs, "queue_url") {
		t.Error("config.inputs is not cloudtrail_s3 in SQS mode (the follower)")
	}
	if v.ReplicaCount < 2 {
		t.Errorf("replicaCount %d: the SQS fleet shares a queue", v.ReplicaCount)
	}
	if !v.ServiceAccount.Create || !strings.HasPrefix(v.ServiceAccount.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::") {
		t.Error("serviceAccount: want one created, with the IRSA annotation")
	}
	if v.Resources.Requests["memory"] == nil || v.Resources.Limits["memory"] == nil {
		t.Error("resources: memory requests and limits are required")
	}
	mounts := map[string]bool{}
	for _, vm := range v.ExtraVolumeMounts {
		mounts[vm.MountPath] = !vm.ReadOnly
	}
	pathsUnder(t, "Helm config", conf, mounts)
	set := map[string]bool{}
	for _, e := range v.Env {
		set[e.Name] = true
	}
	var missing []string
	for _, m := range varRe.FindAllStringSubmatch(conf, -1) {
		if !set[m[1]] {
			missing = append(missing, m[1])
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("variables used but not in env: %v", missing)
	}
}

// The plugins files shipped with the pipelines load both plugins from where
// the image installs them.
func TestPipelinePluginsFiles(t *testing.T) {
	for _, so := range []string{inputPlugin, filterPlugin} {
		if !regexp.MustCompile(`(?m)^\s*Path\s+` + regexp.QuoteMeta(so) + `\s*$`).Match(read(t, "examples/pipelines/plugins.conf")) {
			t.Errorf("examples/pipelines/plugins.conf does not load %s", so)
		}
	}
	var p struct {
		Plugins []string `yaml:"plugins"`
	}
	if err := yaml.Unmarshal(read(t, "examples/pipelines/plugins.yaml"), &p); err != nil || len(p.Plugins) != 2 || p.Plugins[0] != inputPlugin || p.Plugins[1] != filterPlugin {
		t.Errorf("examples/pipelines/plugins.yaml loads %v (%v), want [%s %s]", p.Plugins, err, inputPlugin, filterPlugin)
	}
}

// The ECS task definition runs the image (its default pipeline: S3
// polling into Elasticsearch) on Fargate, as the image's user with a
// read-only root filesystem and the state directory on a volume, with a
// task role; every variable the pipeline needs is set (credentials from
// Secrets Manager); deploy/ecs/task-role-policy.json is the README's
// least-privilege policy.
func TestECSTaskDefinition(t *testing.T) {
	var td struct {
		TaskRoleArn             string                  `json:"taskRoleArn"`
		RequiresCompatibilities []string                `json:"requiresCompatibilities"`
		Volumes                 []struct{ Name string } `json:"volumes"`
		ContainerDefinitions    []struct {
			Image                  string                             `json:"image"`
			User                   string                             `json:"user"`
			ReadonlyRootFilesystem bool                               `json:"readonlyRootFilesystem"`
			Environment            []struct{ Name, Value string }     `json:"environment"`
			Secrets                []struct{ Name, ValueFrom string } `json:"secrets"`
			MountPoints            []struct {
				SourceVolume  string `json:"sourceVolume"`
				ContainerPath string `json:"containerPath"`
			} `json:"mountPoints"`
			LogConfiguration struct {
				LogDriver string `json:"logDriver"`
			} `json:"logConfiguration"`
		} `json:"containerDefinitions"`
	}
	if err := json.Unmarshal(read(t, "deploy/ecs/task-definition.json"), &td); err != nil {
		t.Fatal(err)
	}
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("%d containers", len(td.ContainerDefinitions))
	}
	c := td.ContainerDefinitions[0]
	if c.Image != imageName || c.User != "65532:65532" || !c.ReadonlyRootFilesystem || c.LogConfiguration.LogDriver != "awslogs" {
		t.Errorf("container: image %s, user %q, read-only root %v, log driver %q", c.Image, c.User, c.ReadonlyRootFilesystem, c.LogConfiguration.LogDriver)
	}
	if !strings.HasPrefix(td.TaskRoleArn, "arn:aws:iam::") || !slices.Contains(td.RequiresCompatibilities, "FARGATE") {
		t.Errorf("task role %q, compatibilities %v", td.TaskRoleArn, td.RequiresCompatibilities)
	}
	if len(c.MountPoints) != 1 || c.MountPoints[0].ContainerPath != stateDir || len(td.Volumes) != 1 || td.Volumes[0].Name != c.MountPoints[0].SourceVolume {
		t.Errorf("the state directory %s is not on the task's volume: %v", stateDir, c.MountPoints)
	}
	set := map[string]bool{}
	for _, e := range c.Environment {
		set[e.Name] = true
	}
	for _, e := range c.Secrets {
		set[e.Name] = true
	}
	// The image's default pipeline is elasticsearch.conf: its variables
	// without a default in the image must be set, the trail's first.
	for _, name := range []string{"CLOUDTRAIL_BUCKET", "AWS_REGION", "ES_HOST", "ES_USER", "ES_PASSWORD"} {
		if !set[name] {
			t.Errorf("%s is not set", name)
		}
	}
	var readme struct{ Statement []map[string]any }
	m := regexp.MustCompile("(?s)### Least-privilege IAM policy\n\n```json\n(.*?)```").FindSubmatch(read(t, "README.md"))
	if m == nil || json.Unmarshal(m[1], &readme) != nil {
		t.Fatal("no policy in the README's \"Least-privilege IAM policy\"")
	}
	var policy struct{ Statement []map[string]any }
	if err := json.Unmarshal(read(t, "deploy/ecs/task-role-policy.json"), &policy); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(policy, readme) {
		t.Error("deploy/ecs/task-role-policy.json differs from the README's least-privilege policy")
	}
}
