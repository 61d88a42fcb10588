/**
 * deploy/k8s against the Kubernetes JSON schemas, offline: `kubernetes-validate --strict` (PyPI,
 * installed by scripts/setup as .tools/kubernetes-validate, schemas bundled), for the oldest and
 * newest Kubernetes versions we claim. Plus what the schemas cannot see: names and selectors that
 * must match across files, probes on the worker's health paths, the termination grace above the
 * worker's shutdown grace, and a ConfigMap + Secret that the worker's own config parser accepts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { assertWorkerConfig, parseConfig } from '../../../src/config/parse.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const K8S = join(REPO, 'deploy/k8s');
const VALIDATOR = join(REPO, '.tools/kubernetes-validate');
/** Kubernetes versions the manifests must validate against (oldest supported by current clusters, newest bundled). */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

const manifestFiles = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const manifests = manifestFiles.map((f) => parse(readFileSync(join(K8S, f), 'utf8')) as Manifest);
const byKind = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found.map((m) => m.kind)).toEqual([kind]);
  return found[0]!;
};

async function validate(files: readonly string[], version: string): Promise<{ code: number; output: string }> {
  if (!existsSync(VALIDATOR)) throw new Error(`${VALIDATOR} is missing: run scripts/setup`);
  try {
    const { stdout, stderr } = await run(VALIDATOR, ['--strict', '--no-warn', '-k', version, ...files]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('deploy/k8s', () => {
  it('kustomization.yaml lists every manifest, and there is one of each kind the README names', () => {
    const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Job', 'PodDisruptionBudget', 'Secret', 'Service']);
  });

  it.each(KUBERNETES_VERSIONS)('every manifest validates strictly against the Kubernetes %s schemas', async (version) => {
    const { code, output } = await validate(manifestFiles.map((f) => join(K8S, f)), version);
    expect(output.split('\n').filter((l) => l.trim() !== '' && !/ passed for resource /.test(l))).toEqual([]);
    expect(code).toBe(0);
    expect(output.match(/ passed for resource /g)).toHaveLength(manifestFiles.length);
  });

  it('the validator rejects a misspelt field (the check is live)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8s-'));
    try {
      const broken = join(dir, 'broken.yaml');
      writeFileSync(broken, readFileSync(join(K8S, 'worker-deployment.yaml'), 'utf8').replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecond:'));
      const { code, output } = await validate([broken], KUBERNETES_VERSIONS[0]!);
      expect(code).not.toBe(0);
      expect(output).toContain('terminationGracePeriodSecond');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the worker Deployment probes /healthz and /readyz on METRICS_PORT, and waits longer than the worker\'s shutdown grace', () => {
    const deployment = byKind('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const config = byKind('ConfigMap').data!;
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: Number(config.METRICS_PORT), protocol: 'TCP' }]);
    expect([container.livenessProbe.httpGet, container.readinessProbe.httpGet, container.startupProbe.httpGet]).toEqual([
      { path: '/healthz', port: 'metrics' }, { path: '/readyz', port: 'metrics' }, { path: '/healthz', port: 'metrics' },
    ]);
    const grace = /const SHUTDOWN_GRACE = '(\d+) seconds'/.exec(readFileSync(join(REPO, 'src/worker.ts'), 'utf8'));
    expect(grace).not.toBeNull();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(grace![1]));
    expect(Object.keys(container.resources).sort()).toEqual(['limits', 'requests']);
    expect(container.env).toEqual([{ name: 'INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
  });

  it('Service, HPA and PDB select the worker pods; worker and starter read the ConfigMap and Secret that exist', () => {
    const deployment = byKind('Deployment');
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels);
    expect(selects(byKind('Service').spec.selector)).toBe(true);
    expect(selects(byKind('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    expect(byKind('HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    const sources = [byKind('ConfigMap'), byKind('Secret')].map((m) => m.metadata.name);
    for (const pod of [deployment.spec.template.spec, byKind('Job').spec.template.spec]) {
      const envFrom = pod.containers[0].envFrom as { configMapRef?: { name: string }; secretRef?: { name: string } }[];
      expect(envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(sources);
    }
    expect(byKind('Job').spec.template.spec.containers[0].command).toEqual(['node', 'dist/src/client.js', 'start']);
  });

  it('the ConfigMap and Secret together are a configuration the worker accepts', () => {
    const env = { ...byKind('ConfigMap').data, ...byKind('Secret').stringData };
    const config = parseConfig(env);
    assertWorkerConfig(config);
    expect([config.chainId, config.finality, config.metricsPort, config.rpcUrls.length]).toEqual([1, 'finalized', 9464, 2]);
  });
});
