// The Helm chart (helm/countersign), rendered with the real `helm` for the default values and the
// files in helm/countersign/ci/ (every option on; everything from existing Secrets), then checked
// as parsed manifests: what kubeconform would check is not available offline, so this asserts
// what matters for countersign: security context, probes, ports, Services, NetworkPolicy, that
// no secret value leaves a Secret, that countersign accepts the environment the chart gives it,
// and that it starts on the CA and server key the chart generates and takes agent keys issued
// the way docs/deploy.md says. `bash .ci/run` builds the pinned Helm from the Go module proxy.
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, SETTINGS } from '../../src/config/config.js';
import { CLI, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { repoRoot } from '../support/python.js';
import { send, signedRequest } from '../support/raw-requests.js';

const CHART = path.join(repoRoot, 'helm', 'countersign');
const ALL_ON = path.join(CHART, 'ci', 'all-on-values.yaml');
const EXISTING = path.join(CHART, 'ci', 'existing-secrets-values.yaml');
const RELEASE = 'countersign';
const NAMESPACE = 'countersign';
/** The chart's minimum (Chart.yaml kubeVersion): rendering must work there. */
const KUBE_VERSION = '1.30.0';

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  spec?: unknown;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: unknown };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  projected?: { defaultMode?: number; sources: Array<{ secret?: { name: string; optional?: boolean; items?: Array<{ key: string; path: string }> } }> };
  emptyDir?: object;
  hostPath?: object;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext & { fsGroup?: number };
  volumes?: Volume[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  topologySpreadConstraints?: Array<{ topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }>;
}
interface Deployment extends Manifest {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: Meta; spec: PodSpec } };
}
interface Pod extends Manifest {
  spec: PodSpec;
}
interface Service extends Manifest {
  spec: { type: string; selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string | number }> };
}
interface Peer {
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string };
}
interface NetworkPolicy extends Manifest {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress?: Array<{ from?: Peer[]; ports?: Array<{ port: string | number; protocol?: string }> }>;
    egress?: Array<{ to?: Peer[]; ports?: Array<{ port: string | number; protocol?: string }> }>;
  };
}

interface Render {
  docs: Manifest[];
  /** Each document's text as helm printed it. */
  texts: string[];
}

let helm = '';

/** helm from PATH, then $(go env GOBIN) / $(go env GOPATH)/bin, then ~/go/bin. */
function findHelm(): string {
  const candidates = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'helm'));
  const goEnv = spawnSync('go', ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  if (goEnv.status === 0) {
    const [gobin = '', gopath = ''] = goEnv.stdout.split('\n');
    if (gobin.trim() !== '') candidates.push(path.join(gobin.trim(), 'helm'));
    for (const dir of gopath.split(path.delimiter).filter((d) => d.trim() !== '')) candidates.push(path.join(dir.trim(), 'bin', 'helm'));
  }
  candidates.push(path.join(homedir(), 'go', 'bin', 'helm'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error('helm not found on PATH or in $(go env GOPATH)/bin: run `bash .ci/run`, which builds the pinned Helm from the Go module proxy (see its "Helm" section).');
}

function runHelm(args: string[], chart = CHART): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(helm, [...args.map((a) => (a === '@chart' ? chart : a))], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function render(args: string[] = [], chart = CHART): Render {
  const result = runHelm(['template', RELEASE, '@chart', '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, ...args], chart);
  if (result.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${result.stderr}`);
  const docs: Manifest[] = [];
  const texts: string[] = [];
  // YAML 1.1, as the API server's decoder reads it.
  for (const doc of parseAllDocuments(result.stdout, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`helm template output does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Manifest | null;
    if (value === null) continue;
    docs.push(value);
    texts.push(doc.toString());
  }
  return { docs, texts };
}

function renderError(args: string[]): string {
  const result = runHelm(['template', RELEASE, '@chart', '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, ...args]);
  expect(result.status, 'helm template should have failed').not.toBe(0);
  return result.stderr;
}

const all = <T extends Manifest>(r: Render, kind: string): T[] => r.docs.filter((d) => d.kind === kind) as T[];
function one<T extends Manifest>(r: Render, kind: string, name?: string): T {
  const found = all<T>(r, kind).filter((d) => name === undefined || d.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return found[0] as T;
}
const b64 = (value: string) => Buffer.from(value, 'base64').toString('utf8');
function secretData(r: Render, name: string): Record<string, string> {
  const data = one(r, 'Secret', name).data ?? {};
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
}
const mainContainer = (d: Deployment) => d.spec.template.spec.containers.find((c) => c.name === 'countersign') as Container;
/** Every pod spec in a render: the Deployment's and the test hook's. */
function podSpecs(r: Render): Array<{ owner: string; spec: PodSpec }> {
  return [
    ...all<Deployment>(r, 'Deployment').map((d) => ({ owner: `Deployment ${d.metadata.name}`, spec: d.spec.template.spec })),
    ...all<Pod>(r, 'Pod').map((p) => ({ owner: `Pod ${p.metadata.name}`, spec: p.spec })),
  ];
}
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * The environment Kubernetes would give the container: plain values, secretKeyRef values from
 * the rendered Secrets (or `placeholder` for Secrets that exist outside the chart), and $(VAR)
 * references to variables defined earlier in the list.
 */
function containerEnv(r: Render, container: Container, placeholder: (name: string) => string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    let value: string | undefined;
    if (e.value !== undefined) {
      value = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
    } else if (e.valueFrom?.secretKeyRef !== undefined) {
      const ref = e.valueFrom.secretKeyRef;
      const rendered = all(r, 'Secret').find((s) => s.metadata.name === ref.name);
      value = rendered === undefined ? placeholder(e.name) : secretData(r, ref.name)[ref.key];
      if (value === undefined && ref.optional !== true) throw new Error(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
    }
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/** Values of Secrets that exist outside the chart, by env var name. */
const PLACEHOLDERS: Record<string, string> = {
  COUNTERSIGN_REDIS_URL: 'rediss://:from-a-secret@redis.example.com:6379/0',
  REDIS_PASSWORD: 'from-a-secret',
  COUNTERSIGN_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/from-a-secret',
  COUNTERSIGN_TEAMS_WEBHOOK_URL: 'https://example.webhook.office.com/from-a-secret',
  COUNTERSIGN_WEBHOOK_URL: 'https://hooks.example.com/from-a-secret',
  COUNTERSIGN_WEBHOOK_SECRET: 'from-a-secret',
};
const placeholders = (name: string): string | undefined => PLACEHOLDERS[name];

let byDefault: Render;
let allOn: Render;
let existing: Render;
let allOnValues: {
  serviceAccount: { irsaRoleArn: string };
  notifications: Record<'slackWebhookUrl' | 'teamsWebhookUrl' | 'webhookUrl' | 'webhookSecret', string>;
  redis: { auth: { password: string }; port: number };
  policies: { files: Record<string, string> };
};

beforeAll(() => {
  helm = findHelm();
  byDefault = render();
  allOn = render(['-f', ALL_ON]);
  existing = render(['-f', EXISTING]);
  allOnValues = parse(readFileSync(ALL_ON, 'utf8')) as typeof allOnValues;
});

describe('helm chart: lint and schema', () => {
  it.each<[string, string[]]>([
    ['default values', []],
    ['ci/all-on-values.yaml', ['-f', ALL_ON]],
    ['ci/existing-secrets-values.yaml', ['-f', EXISTING]],
  ])('helm lint --strict passes with %s', (_name, args) => {
    const result = runHelm(['lint', '--strict', '@chart', '--kube-version', KUBE_VERSION, ...args]);
    expect(result.stdout + result.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it('refuses unknown values (values.schema.json) and contradictory ones (template checks)', () => {
    expect(renderError(['--set', 'redis.hots=x'])).toMatch(/additional properties 'hots' not allowed|hots/);
    expect(renderError(['--set', 'replicaCount=two'])).toContain('replicaCount');
    expect(renderError(['--set', 'extraEnv[0].name=COUNTERSIGN_LISTNE', '--set', 'extraEnv[0].value=x'])).toContain('COUNTERSIGN_LISTNE is not a countersign setting');
    expect(renderError(['--set', 'review.identityHeader=X-Forwarded-Email'])).toContain('review.trustedProxies');
    expect(renderError(['--set', 'terminationGracePeriodSeconds=10'])).toContain('terminationGracePeriodSeconds');
    expect(renderError(['--set', 'ca.existingSecret=my-ca'])).toContain('ca.certificate');
  });
});

describe('helm chart: workload', () => {
  it('renders the expected objects for the default values and with every option on', () => {
    const kinds = (r: Render) => r.docs.map((d) => d.kind).sort();
    expect(kinds(byDefault)).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'Pod', 'Secret', 'Service', 'Service', 'Service', 'ServiceAccount']);
    for (const kind of ['HorizontalPodAutoscaler', 'Ingress', 'ServiceMonitor']) expect(all(allOn, kind)).toHaveLength(1);
    expect(all(allOn, 'Secret').map((s) => s.metadata.name).sort()).toEqual(['countersign', 'countersign-agents', 'countersign-settings']);
    // Everything from existing Secrets: the chart creates none.
    expect(all(existing, 'Secret')).toHaveLength(0);
    for (const r of [byDefault, allOn, existing]) {
      for (const doc of r.docs) if (doc.kind !== 'ServiceMonitor') expect(doc.metadata.namespace, `${doc.kind} ${doc.metadata.name}`).toBe(NAMESPACE);
    }
    expect(one(allOn, 'ServiceMonitor').metadata.namespace).toBe('monitoring');
  });

  it('runs 1 replica by default (no Redis); several, with Redis, spread over zones and nodes, with a PodDisruptionBudget; the HPA owns replicas when on', () => {
    expect(one<Deployment>(byDefault, 'Deployment').spec.replicas).toBe(1);
    // One replica: no PDB, which would block every node drain.
    expect(all(byDefault, 'PodDisruptionBudget')).toEqual([]);
    const several = render(['--set', 'replicaCount=2', '--set', 'redis.host=redis.countersign.svc']);
    const deployment = one<Deployment>(several, 'Deployment');
    expect(deployment.spec.replicas).toBe(2);
    const podLabels = deployment.spec.template.metadata.labels;
    expect(matches(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    const spread = deployment.spec.template.spec.topologySpreadConstraints ?? [];
    expect(spread.map((c) => c.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const c of spread) expect(matches(c.labelSelector.matchLabels, podLabels)).toBe(true);
    const pdb = one<Manifest & { spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } } }>(several, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);

    const onDeployment = one<Deployment>(allOn, 'Deployment');
    expect(onDeployment.spec.replicas).toBeUndefined();
    const hpa = one<Manifest & { spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { name: string } } }>(allOn, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10, scaleTargetRef: { name: onDeployment.metadata.name } });
    expect(one<Manifest & { spec: object }>(allOn, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
  });

  it('locks every container down: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const r of [byDefault, allOn, existing]) {
      for (const { owner, spec } of podSpecs(r)) {
        expect(spec.automountServiceAccountToken, owner).toBe(false);
        expect(spec.hostNetwork ?? false, owner).toBe(false);
        expect(spec.hostPID ?? false, owner).toBe(false);
        for (const volume of spec.volumes ?? []) expect(volume.hostPath, `${owner} volume ${volume.name}`).toBeUndefined();
        for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
          const where = `${owner} container ${container.name}`;
          const sc = container.securityContext ?? {};
          const pod = spec.securityContext ?? {};
          expect(sc.runAsNonRoot ?? pod.runAsNonRoot, where).toBe(true);
          expect(sc.runAsUser ?? pod.runAsUser, where).not.toBe(0);
          expect(sc.readOnlyRootFilesystem, where).toBe(true);
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
          expect(sc.privileged ?? false, where).toBe(false);
          expect(sc.capabilities?.drop, where).toContain('ALL');
          expect(sc.capabilities?.add ?? [], where).toEqual([]);
          expect((sc.seccompProfile ?? pod.seccompProfile)?.type, where).toBe('RuntimeDefault');
        }
      }
    }
  });

  it('listens on 8080 (proxy), 8081 (review) and 9090 (admin), probed on the admin port, with a preStop pause and room for the graceful shutdown', () => {
    for (const r of [byDefault, allOn]) {
      const deployment = one<Deployment>(r, 'Deployment');
      const c = mainContainer(deployment);
      expect(Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]))).toEqual({ proxy: 8080, review: 8081, admin: 9090 });
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'admin' });
      expect(c.startupProbe?.httpGet?.port).toBe('admin');
      expect(c.args).toEqual(['serve']);
      const env = containerEnv(r, c, placeholders);
      expect(env.COUNTERSIGN_LISTEN).toBe('0.0.0.0:8080');
      expect(env.COUNTERSIGN_REVIEW_LISTEN).toBe('0.0.0.0:8081');
      expect(env.COUNTERSIGN_ADMIN_LISTEN).toBe('0.0.0.0:9090');
      const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(preStop).toBeGreaterThan(0);
      const grace = Number(env.COUNTERSIGN_SHUTDOWN_GRACE_SECONDS ?? 25);
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + grace + 5);
    }
  });

  it('keeps the CA, server key and agent registry in a read-only Secret mount, linked into a writable data directory; policies from a ConfigMap; no subPath (updates reach running pods)', () => {
    for (const r of [byDefault, allOn, existing]) {
      const spec = one<Deployment>(r, 'Deployment').spec.template.spec;
      const c = mainContainer(one<Deployment>(r, 'Deployment'));
      const env = containerEnv(r, c, placeholders);
      const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
      const volumes = Object.fromEntries((spec.volumes ?? []).map((v) => [v.name, v]));
      const dataMount = mounts[env.COUNTERSIGN_DATA_DIR ?? ''];
      const policyMount = mounts[env.COUNTERSIGN_POLICY_DIR ?? ''];
      // Writable: the file audit log (no Redis). An emptyDir unless a claim is given.
      expect(dataMount?.readOnly ?? false).toBe(false);
      expect(volumes[dataMount?.name ?? '']?.emptyDir).toBeDefined();
      expect(policyMount?.readOnly).toBe(true);
      expect(volumes[policyMount?.name ?? '']?.configMap?.name).toBeTruthy();
      for (const m of [...(spec.initContainers ?? []), ...spec.containers].flatMap((x) => x.volumeMounts ?? [])) expect(m.subPath, m.mountPath).toBeUndefined();
      // The Secrets, projected read-only; the agents Secret may not exist yet.
      const keysVolume = Object.values(volumes).find((v) => v.projected !== undefined);
      const keysMount = (c.volumeMounts ?? []).find((m) => m.name === keysVolume?.name);
      expect(keysMount?.readOnly).toBe(true);
      expect(keysVolume?.projected?.defaultMode).toBe(0o440);
      const sources = keysVolume?.projected?.sources ?? [];
      expect(sources.flatMap((s) => (s.secret?.items ?? []).map((i) => i.path)).sort()).toEqual(['agents.json', 'ca.crt', 'ca.key', 'server.key']);
      expect(sources.find((s) => s.secret?.items?.some((i) => i.path === 'agents.json'))?.secret?.optional).toBe(true);
      // The init container links the keys into the data directory: same image, same mounts.
      const init = spec.initContainers?.find((x) => x.name === 'link-keys');
      expect(init?.image).toBe(c.image);
      expect(init?.command?.slice(-2)).toEqual([keysMount?.mountPath, dataMount?.mountPath]);
      expect((init?.volumeMounts ?? []).map((m) => [m.name, m.mountPath, m.readOnly ?? false])).toEqual([
        [dataMount?.name, dataMount?.mountPath, false],
        [keysMount?.name, keysMount?.mountPath, true],
      ]);
      // Only the data directory and /tmp are writable.
      expect(volumes[mounts['/tmp']?.name ?? '']?.emptyDir).toBeDefined();
      for (const m of c.volumeMounts ?? []) if (m.mountPath !== dataMount?.mountPath && m.mountPath !== '/tmp' && !m.mountPath.startsWith('/scratch')) expect(m.readOnly, m.mountPath).toBe(true);
    }
    const existingVolumes = one<Deployment>(existing, 'Deployment').spec.template.spec.volumes ?? [];
    const sources = existingVolumes.find((v) => v.projected !== undefined)?.projected?.sources ?? [];
    expect(sources.map((s) => s.secret?.name)).toEqual(['countersign-ca', 'countersign-server-key', 'countersign-agents']);
    expect(sources[0]?.secret?.items).toEqual([{ key: 'tls.crt', path: 'ca.crt' }, { key: 'tls.key', path: 'ca.key' }]);
    expect(existingVolumes.find((v) => v.name === 'policies')?.configMap?.name).toBe('countersign-policies');
    expect(renderError(['--set', 'dataVolume.existingClaim=audit', '--set', 'replicaCount=2', '--set', 'redis.host=redis.countersign.svc'])).toContain('single replica');
  });

  it('refuses to render several replicas, or autoscaling, without Redis (each would keep its own approvals)', () => {
    expect(renderError(['--set', 'replicaCount=2'])).toContain("replicaCount=2 without Redis: each replica would keep its own approvals in memory");
    expect(renderError(['--set', 'autoscaling.enabled=true'])).toContain('autoscaling.enabled without Redis');
    expect(one<Deployment>(render(['--set', 'dataVolume.existingClaim=audit']), 'Deployment').spec.replicas).toBe(1);
  });
});

describe('helm chart: Services, Ingress, NetworkPolicy, identity', () => {
  it('gives agents a Service with the proxy port only; review and admin have their own Services', () => {
    for (const r of [byDefault, allOn]) {
      const podLabels = one<Deployment>(r, 'Deployment').spec.template.metadata.labels;
      const services = all<Service>(r, 'Service');
      expect(services).toHaveLength(3);
      const byPort = Object.fromEntries(services.map((s) => [s.spec.ports.map((p) => p.targetPort).join(','), s]));
      expect(Object.keys(byPort).sort()).toEqual(['admin', 'proxy', 'review']);
      expect(byPort.proxy?.metadata.name).toBe(RELEASE);
      expect(byPort.review?.metadata.name).toBe(`${RELEASE}-review`);
      expect(byPort.admin?.metadata.name).toBe(`${RELEASE}-admin`);
      for (const s of services) {
        expect(s.spec.type).toBe('ClusterIP');
        expect(matches(s.spec.selector, podLabels)).toBe(true);
      }
      // The helm test pod is not selected by any Service (it would receive agents' traffic).
      const testPod = one<Pod>(r, 'Pod');
      for (const s of services) expect(matches(s.spec.selector, testPod.metadata.labels)).toBe(false);
    }
    const ingress = one<Manifest & { spec: { rules: Array<{ host: string; http: { paths: Array<{ backend: { service: { name: string; port: { name: string } } } }> } }> } }>(allOn, 'Ingress');
    expect(ingress.spec.rules[0]?.http.paths[0]?.backend.service).toEqual({ name: `${RELEASE}-review`, port: { name: 'review' } });
  });

  it('lets agents reach only the proxy port, and nothing but the monitoring namespace (and the test pod) reach the admin port', () => {
    const policy = one<NetworkPolicy>(byDefault, 'NetworkPolicy');
    const deployment = one<Deployment>(byDefault, 'Deployment');
    expect(matches(policy.spec.podSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const rules = policy.spec.ingress ?? [];
    // No rule without peers (that would admit everyone), each rule for one port.
    for (const rule of rules) {
      expect(rule.from?.length ?? 0).toBeGreaterThan(0);
      expect(rule.ports).toHaveLength(1);
    }
    const rulesFor = (port: string) => rules.filter((rule) => rule.ports?.some((p) => p.port === port));
    expect(rulesFor('proxy')).toEqual([{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'countersign.dev/agent': 'true' } } }], ports: [{ port: 'proxy', protocol: 'TCP' }] }]);
    const admin = rulesFor('admin');
    expect(admin).toHaveLength(1);
    const testPod = one<Pod>(byDefault, 'Pod');
    expect(admin[0]?.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      { podSelector: { matchLabels: expect.any(Object) as Record<string, string> } },
    ]);
    expect(matches(admin[0]?.from?.[1]?.podSelector?.matchLabels ?? { none: 'x' }, testPod.metadata.labels)).toBe(true);
    // The agents' peers appear in no rule but the proxy's.
    for (const rule of [...admin, ...rulesFor('review')]) expect(rule.from).not.toContainEqual(rulesFor('proxy')[0]?.from?.[0]);
    expect(rules.map((rule) => rule.ports?.[0]?.port).sort()).toEqual(['admin', 'proxy', 'review']);

    const onPolicy = one<NetworkPolicy>(allOn, 'NetworkPolicy');
    expect(onPolicy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const egressPorts = (onPolicy.spec.egress ?? []).flatMap((rule) => (rule.ports ?? []).map((p) => p.port));
    expect(egressPorts).toEqual(expect.arrayContaining([53, 443, 80, allOnValues.redis.port, 4566]));
  });

  it('annotates the ServiceAccount for IRSA when a role is given, and not otherwise (EKS Pod Identity needs nothing)', () => {
    const sa = one(allOn, 'ServiceAccount');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe(allOnValues.serviceAccount.irsaRoleArn);
    expect(one(byDefault, 'ServiceAccount').metadata.annotations?.['eks.amazonaws.com/role-arn']).toBeUndefined();
    expect(one<Deployment>(allOn, 'Deployment').spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect((one<Manifest & { spec: { endpoints: Array<{ port: string; path: string }> } }>(allOn, 'ServiceMonitor')).spec.endpoints).toEqual([
      expect.objectContaining({ port: 'admin', path: '/metrics' }),
    ]);
  });
});

describe('helm chart: secrets stay in Secrets', () => {
  it('publishes the CA certificate, never its key, in a ConfigMap', () => {
    for (const r of [byDefault, allOn, existing]) {
      const bundle = all(r, 'ConfigMap').find((c) => c.metadata.labels?.['app.kubernetes.io/component'] === 'ca-bundle');
      const pem = bundle?.data?.['ca.crt'] ?? '';
      expect(new X509Certificate(pem).ca).toBe(true);
      for (const cm of all(r, 'ConfigMap')) expect(JSON.stringify(cm)).not.toMatch(/PRIVATE KEY/);
    }
    // The generated CA: the ConfigMap's certificate is the Secret's, with an EC key countersign can sign leaves with.
    const keys = secretData(allOn, RELEASE);
    expect(one(allOn, 'ConfigMap', 'countersign-ca-bundle').data?.['ca.crt']?.trim()).toBe(keys['ca.crt']?.trim());
    expect(keys['ca.key']).toMatch(/BEGIN EC PRIVATE KEY/);
    expect(keys['server.key']).toMatch(/^[0-9a-f]{64}$/);
    expect(one(byDefault, 'Secret').metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    // The existing CA: the certificate given in values.
    const existingValues = parse(readFileSync(EXISTING, 'utf8')) as { ca: { certificate: string } };
    expect(one(existing, 'ConfigMap', 'countersign-ca').data?.['ca.crt']?.trim()).toBe(existingValues.ca.certificate.trim());
  });

  it('puts no secret value into a ConfigMap, an env value, an annotation or any other non-Secret object', () => {
    const rendered = Object.entries(secretData(allOn, RELEASE)).filter(([key]) => key !== 'ca.crt').map(([, v]) => v);
    const settings = Object.values(secretData(allOn, 'countersign-settings'));
    const fromValues = [...Object.values(allOnValues.notifications), allOnValues.redis.auth.password, encodeURIComponent(allOnValues.redis.auth.password)];
    const secrets = [...rendered, ...settings, ...fromValues];
    // A PEM key re-indented elsewhere would not match whole: look for each of its lines too.
    const needles = secrets.flatMap((s) => [s.trim(), ...s.split('\n').filter((line) => line.length >= 32 && !line.startsWith('-----'))]);
    expect(needles.length).toBeGreaterThan(8);
    allOn.docs.forEach((doc, i) => {
      if (doc.kind === 'Secret') return;
      const text = `${allOn.texts[i] ?? ''}\n${JSON.stringify(doc)}`;
      for (const needle of needles) expect(text.includes(needle), `${doc.kind} ${doc.metadata.name} contains a secret value`).toBe(false);
    });
    // Secret-bearing settings come from secretKeyRef, never a plain value.
    const secretSettings = ['COUNTERSIGN_SLACK_WEBHOOK_URL', 'COUNTERSIGN_TEAMS_WEBHOOK_URL', 'COUNTERSIGN_WEBHOOK_URL', 'COUNTERSIGN_WEBHOOK_SECRET', 'COUNTERSIGN_REDIS_URL', 'REDIS_PASSWORD'];
    for (const r of [allOn, existing]) {
      for (const e of mainContainer(one<Deployment>(r, 'Deployment')).env ?? []) {
        if (!secretSettings.includes(e.name)) continue;
        if (e.name === 'COUNTERSIGN_REDIS_URL' && e.value !== undefined) {
          // Composed from REDIS_PASSWORD (a secretKeyRef defined before it).
          expect(e.value).toContain(':$(REDIS_PASSWORD)@');
          continue;
        }
        expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined();
        expect(e.value, e.name).toBeUndefined();
      }
    }
    const existingEnv = (mainContainer(one<Deployment>(existing, 'Deployment')).env ?? []).map((e) => e.name);
    expect(existingEnv.indexOf('REDIS_PASSWORD')).toBeGreaterThanOrEqual(0);
    expect(existingEnv.indexOf('REDIS_PASSWORD')).toBeLessThan(existingEnv.indexOf('COUNTERSIGN_REDIS_URL'));
  });
});

describe('helm chart: countersign accepts what the chart gives it', () => {
  it("lists exactly countersign's settings as the chart's known settings", () => {
    const helpers = readFileSync(path.join(CHART, 'templates', '_helpers.tpl'), 'utf8');
    const listed = /define "countersign\.knownSettings" -}}\s*([A-Z_ ]+?)\s*{{-/.exec(helpers)?.[1]?.split(/\s+/) ?? [];
    expect(listed.sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it.each<[string, () => Render]>([
    ['default values', () => byDefault],
    ['ci/all-on-values.yaml', () => allOn],
    ['ci/existing-secrets-values.yaml', () => existing],
    ['a Redis URL from an existing Secret', () => render(['--set', 'redis.existingUrlSecret.name=redis-url', '--set', 'replicaCount=3'])],
    ['Redis without a password', () => render(['--set', 'redis.host=redis.countersign.svc'])],
  ])('renders only known COUNTERSIGN_* settings, and an environment loadConfig accepts (%s)', (_name, get) => {
    const r = get();
    for (const { spec } of podSpecs(r)) {
      for (const c of spec.containers) {
        for (const e of c.env ?? []) if (e.name.startsWith('COUNTERSIGN_')) expect(Object.keys(SETTINGS), e.name).toContain(e.name);
      }
    }
    const env = containerEnv(r, mainContainer(one<Deployment>(r, 'Deployment')), placeholders);
    const config = loadConfig(env);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.adminListen.port).toBe(9090);
    expect(config.approvals.reviewListen.port).toBe(8081);
    if (r === allOn) {
      expect(config.approvals.reviewUrl).toBe('https://countersign.example.com');
      expect(config.approvals.trustedIdentity?.header).toBe('X-Auth-Request-Email');
      expect(config.approvals.slackWebhookUrl).toBe(allOnValues.notifications.slackWebhookUrl);
      expect(config.approvals.webhookSecret).toBe(allOnValues.notifications.webhookSecret);
      // The password with URL-reserved characters survives the URL, as Redis clients decode it.
      const url = new URL(config.approvals.redisUrl ?? '');
      expect(url.protocol).toBe('rediss:');
      expect(decodeURIComponent(url.password)).toBe(allOnValues.redis.auth.password);
      expect(url.port).toBe('6380');
      expect(url.pathname).toBe('/2');
    }
    if (r === existing) expect(config.approvals.redisUrl).toBe('rediss://:from-a-secret@countersign.memorystore.internal:6378/0');
  });

  it('tells the agent side what to set (NOTES.txt)', () => {
    const notes = (args: string[]) => {
      // NOTES.txt is not part of `helm template` output: render it through tpl in a copy of the chart.
      const copy = mkdtempSync(path.join(tmpdir(), 'cs-chart-notes-'));
      try {
        cpSync(CHART, copy, { recursive: true });
        renameSync(path.join(copy, 'templates', 'NOTES.txt'), path.join(copy, 'notes.txt'));
        writeFileSync(path.join(copy, 'templates', 'notes.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n');
        return one(render(args, copy), 'ConfigMap', 'notes').data?.notes ?? '';
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    };
    const text = notes([]);
    expect(text).toContain(`HTTPS_PROXY=http://${RELEASE}.${NAMESPACE}.svc:8080`);
    expect(text).toContain('AWS_CA_BUNDLE=');
    expect(text).toContain(`ConfigMap ${RELEASE}-ca`);
    expect(text).toContain('agents issue');
    expect(text).toContain('countersign.dev/agent: "true"');
  });
});

/**
 * Writes files the way the kubelet updates a Secret or ConfigMap volume: into a fresh hidden
 * directory, then an atomic swap of the `..data` symlink, with each file a symlink through it.
 */
function writeVolume(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2)}`;
  mkdirSync(path.join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, stamp, name), text, { mode: 0o440 });
  symlinkSync(stamp, path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(path.join('..data', name), path.join(dir, name));
    } catch {
      // already linked
    }
  }
  for (const entry of readdirSync(dir)) if (entry.startsWith('..') && entry !== '..data' && entry !== stamp) rmSync(path.join(dir, entry), { recursive: true, force: true });
}

describe('helm chart: countersign runs on what the chart generates', { timeout: 60_000 }, () => {
  let cs: CountersignProcess | undefined;
  let keysDir = '';
  let dataDir = '';
  let caPem = '';
  let serverKey = '';
  let caKey = '';

  beforeAll(async () => {
    // The default render: a generated CA and server key, no agents Secret yet, no policies.
    const deployment = one<Deployment>(byDefault, 'Deployment');
    const keys = secretData(byDefault, RELEASE);
    caPem = one(byDefault, 'ConfigMap', `${RELEASE}-ca`).data?.['ca.crt'] ?? '';
    serverKey = keys['server.key'] ?? '';
    caKey = keys['ca.key'] ?? '';
    const root = mkdtempSync(path.join(tmpdir(), 'cs-chart-run-'));
    keysDir = path.join(root, 'keys');
    dataDir = path.join(root, 'data');
    mkdirSync(dataDir);
    writeVolume(keysDir, { 'ca.crt': keys['ca.crt'] ?? '', 'ca.key': caKey, 'server.key': serverKey });
    const policyDir = path.join(root, 'policies');
    writeVolume(policyDir, one(byDefault, 'ConfigMap', `${RELEASE}-policies`).data ?? {});
    // The pod's init container, run as rendered (its Node program), on these directories.
    const init = deployment.spec.template.spec.initContainers?.find((c) => c.name === 'link-keys');
    const [, flag, program] = init?.command ?? [];
    expect(flag).toBe('-e');
    execFileSync(process.execPath, ['-e', program ?? '', keysDir, dataDir]);
    cs = await startCountersign({ policies: policyDir, dataDir, env: { COUNTERSIGN_LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await cs?.stop();
  });

  it('is ready, and intercepts TLS with a certificate that verifies against the published CA bundle', async () => {
    const running = cs as CountersignProcess;
    const ready = await fetch(`${running.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    const socket = netConnect(running.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write('CONNECT s3.amazonaws.com:443 HTTP/1.1\r\nHost: s3.amazonaws.com:443\r\n\r\n'));
      socket.once('data', (chunk: Buffer) => (chunk.toString().startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(chunk.toString()))));
    });
    const tls = tlsConnect({ socket, servername: 's3.amazonaws.com', ca: caPem });
    try {
      const peer = await new Promise<string>((resolve, reject) => {
        tls.once('secureConnect', () => resolve(tls.getPeerX509Certificate()?.subjectAltName ?? ''));
        tls.once('error', reject);
      });
      expect(tls.authorized).toBe(true);
      expect(peer).toContain('s3.amazonaws.com');
    } finally {
      tls.destroy();
    }
  });

  it("accepts an agent key issued offline from the Secret's server key once the agents Secret appears (docs/deploy.md), never writing to the Secret mount", async () => {
    const running = cs as CountersignProcess;
    const keyFiles = () => readdirSync(keysDir).filter((name) => !name.startsWith('..')).sort();
    expect(keyFiles()).toEqual(['ca.crt', 'ca.key', 'server.key']);
    // The operator's machine: server.key from the Secret, `countersign agents issue`.
    const local = mkdtempSync(path.join(tmpdir(), 'cs-operator-'));
    writeFileSync(path.join(local, 'server.key'), serverKey + '\n', { mode: 0o600 });
    const issued = JSON.parse(
      execFileSync(process.execPath, [CLI, 'agents', 'issue', 'report-bot', '--json'], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: local }, encoding: 'utf8' }),
    ) as { accessKeyId: string; secretAccessKey: string };
    const host = `127.0.0.1:${running.port}`;
    const request = async () => {
      const { headers } = await signedRequest({ accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, service: 's3', host, path: '/reports/q3.csv' });
      return send(running.port, 'GET', '/reports/q3.csv', headers);
    };
    // Before the agents Secret exists the key is unknown.
    expect((await request()).body).toContain('<Code>InvalidAccessKeyId</Code>');
    // `kubectl apply` of the agents Secret: the kubelet swaps the projected volume's files.
    writeVolume(keysDir, { 'ca.crt': readFileSync(path.join(keysDir, 'ca.crt'), 'utf8'), 'ca.key': caKey, 'server.key': serverKey, 'agents.json': readFileSync(path.join(local, 'agents.json'), 'utf8') });
    await new Promise((r) => setTimeout(r, 400)); // the registry is re-read at most every 250 ms
    // Now the agent is known, and decided by policy (no policies: no rule matches).
    const decided = await request();
    expect(decided.status).toBe(403);
    expect(decided.body).toContain('<Code>AccessDenied</Code>');
    expect(decided.body).toContain('no rule matched');
    expect(keyFiles()).toEqual(['agents.json', 'ca.crt', 'ca.key', 'server.key']);
    rmSync(local, { recursive: true, force: true });
  });
});
