// The chart's workload-identity pieces (helm/countersign/templates/workload-identity.yaml and
// _workload-identity.tpl): rendered with ci/workload-identity-values.yaml they must give countersign the
// settings it reads, an issuers file its loader accepts, the credentials Service and port, and a
// NetworkPolicy for that port alone; off by default. examples/agent-pod.yaml must agree with it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { loadIssuers } from '../../src/identity/oidc/issuers.js';
import { repoRoot } from '../support/python.js';

const CHART = path.join(repoRoot, 'helm', 'countersign');

interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

function helmBinary(): string {
  const goPath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout.trim() || path.join(homedir(), 'go');
  for (const candidate of [...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm')), path.join(goPath, 'bin', 'helm')]) {
    if (spawnSync(candidate, ['version', '--short'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  throw new Error('helm not found: run `bash .ci/run`, which builds the pinned Helm.');
}

function render(values: string[]): Manifest[] {
  const result = spawnSync(helmBinary(), ['template', 'countersign', CHART, '--namespace', 'countersign', '--kube-version', '1.30.0', ...values.flatMap((v) => ['-f', v])], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(result.stderr);
  return parseAllDocuments(result.stdout, { version: '1.1' }).map((d) => d.toJS() as Manifest | null).filter((m): m is Manifest => m !== null);
}

describe('helm chart: workload identity', { timeout: 60_000 }, () => {
  const manifests = render([path.join(CHART, 'ci', 'workload-identity-values.yaml')]);
  const deployment = manifests.find((m) => m.kind === 'Deployment');
  const container = (deployment?.spec as { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }>; ports: Array<{ name: string; containerPort: number }>; volumeMounts: Array<{ name: string; mountPath: string }> }> } } }).template.spec.containers[0];
  const env = Object.fromEntries((container?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']));

  it('gives countersign the credential endpoint settings, which its config accepts', () => {
    expect(env).toMatchObject({
      COUNTERSIGN_OIDC_ISSUERS_FILE: '/etc/countersign/workload-identity/issuers.yaml',
      COUNTERSIGN_CREDENTIALS_LISTEN: '0.0.0.0:8443',
      COUNTERSIGN_CREDENTIALS_TLS_NAMES: 'countersign-credentials.countersign.svc,countersign-credentials.countersign.svc.cluster.local,countersign-credentials',
      COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS: '900',
    });
    const config = loadConfig(Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('COUNTERSIGN_OIDC') || name.startsWith('COUNTERSIGN_CREDENTIAL'))));
    expect(config.workloadIdentity).toMatchObject({ listen: { host: '0.0.0.0', port: 8443 }, lifetimeSeconds: 900 });
    expect(config.workloadIdentity.tlsNames).toContain('countersign-credentials.countersign.svc');
    expect(container?.ports).toContainEqual(expect.objectContaining({ name: 'credentials', containerPort: 8443 }));
    expect(container?.volumeMounts).toContainEqual({ name: 'workload-identity', mountPath: '/etc/countersign/workload-identity', readOnly: true });
  });

  it('renders an issuers file the loader accepts', () => {
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'countersign-workload-identity');
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-helm-issuers-'));
    try {
      const file = path.join(dir, 'issuers.yaml');
      writeFileSync(file, configMap?.data?.['issuers.yaml'] ?? '');
      expect(loadIssuers({ issuersFile: file }).map((i) => [i.issuer, i.algorithms, i.bearerTokenFile])).toEqual([
        ['https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE', ['RS256', 'ES256'], '/etc/countersign/workload-identity/kube-api/token'],
        ['https://token.actions.githubusercontent.com', ['RS256'], undefined],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exposes the endpoint on its own Service, and a NetworkPolicy opens that port only to the agents named', () => {
    const service = manifests.find((m) => m.kind === 'Service' && m.metadata.name === 'countersign-credentials');
    expect(service?.spec?.ports).toEqual([{ name: 'credentials', port: 443, targetPort: 'credentials', protocol: 'TCP' }]);
    const policy = manifests.find((m) => m.kind === 'NetworkPolicy' && m.metadata.name === 'countersign-credentials');
    expect(policy?.spec?.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'agents' } } }], ports: [{ port: 'credentials', protocol: 'TCP' }] }]);
  });

  it('renders none of it by default', () => {
    const defaults = render([]);
    expect(defaults.filter((m) => m.metadata.name.includes('credentials') || m.metadata.name.includes('workload-identity'))).toEqual([]);
  });

  it('has an agent pod example that names the rendered Service, port and path', () => {
    const example = parseAllDocuments(readFileSync(path.join(CHART, 'examples', 'agent-pod.yaml'), 'utf8')).map((d) => d.toJS() as Manifest);
    const pod = example.find((m) => m.kind === 'Pod') as { spec: { initContainers: Array<{ args: string[] }>; containers: Array<{ env: Array<{ name: string; value: string }> }>; volumes: Array<{ projected?: { sources: Array<{ serviceAccountToken?: { audience: string } }> } }> } } | undefined;
    const podEnv = Object.fromEntries(pod?.spec.containers[0]?.env.map((e) => [e.name, e.value]) ?? []);
    const relayArgs = pod?.spec.initContainers[0]?.args ?? [];
    expect(relayArgs.slice(0, 3)).toEqual(['credential-relay', '--endpoint', 'https://countersign-credentials.countersign.svc/v1/credentials']);
    expect(podEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI).toBe(`http://${relayArgs[relayArgs.indexOf('--listen') + 1] ?? ''}/v1/credentials`);
    expect(podEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).toBe('/var/run/secrets/countersign/token');
    expect(pod?.spec.volumes.flatMap((v) => v.projected?.sources ?? []).map((s) => s.serviceAccountToken?.audience)).toContain('countersign');
  });
});
