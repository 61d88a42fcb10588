/**
 * docker-compose.yml against the Compose Specification JSON schema (vendored in
 * test/fixtures/compose-spec, see its SOURCE.md) with ajv, plus what the schema cannot see: every
 * dependency and bind-mounted file exists, and the stack has what the README promises. No Docker
 * engine needed. Also checks the Dockerfile runs the worker as PID 1 and the Prometheus and Grafana
 * files the monitoring profile mounts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { COMPILED_WORKER } from '../../../bench/phases/product.js';
import { IMAGE_ENV } from '../../../bench/phases/image-env.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(`${REPO}/${path}`, 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
};
type Compose = { services: Record<string, Service> };

/** The vendored schema (JSON Schema draft 2020-12) compiled by ajv; formats (durations, …) are not checked. */
let compiled: ReturnType<Ajv2020['compile']> | undefined;
function compileComposeSchema() {
  if (compiled) return compiled;
  const schema = JSON.parse(read('test/fixtures/compose-spec/compose-spec.json')) as Record<string, unknown>;
  expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  compiled = new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
  return compiled;
}

function loadCompose(): Compose {
  return parse(read('docker-compose.yml'), { merge: true }) as Compose;
}

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    const validate = compileComposeSchema();
    const valid = validate(loadCompose());
    expect(valid ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)).toEqual([]);
  });

  it('the schema check rejects a misspelt service key (the validator is live)', () => {
    const validate = compileComposeSchema();
    const broken = loadCompose();
    (broken.services.worker as Record<string, unknown>).restart_policy = 'always';
    expect(validate(broken)).toBe(false);
  });

  it('runs Postgres, Temporal with Postgres persistence, the UI, several workers, a starter, and Prometheus + Grafana in the monitoring profile', () => {
    const { services } = loadCompose();
    expect(Object.keys(services).sort()).toEqual([
      'grafana', 'postgres', 'prometheus', 'starter', 'temporal', 'temporal-admin-tools', 'temporal-create-namespace', 'temporal-ui', 'worker',
    ]);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(services.worker!.deploy!.replicas).toBeGreaterThanOrEqual(2);
    expect(services.worker!.environment).toMatchObject({ METRICS_PORT: '9464', TEMPORAL_ADDRESS: 'temporal:7233', DATABASE_URL: 'postgres://indexer:indexer@postgres:5432/indexer' });
    expect(services.worker!.healthcheck!.test.join(' ')).toContain('/readyz');
    expect(services.worker!.stop_grace_period).toBe('45s'); // above the worker's 30 s shutdown grace
    expect([services.starter!.entrypoint, services.starter!.command]).toEqual([['node', 'dist/src/client.js'], ['start']]);
    expect(services.starter!.environment).toEqual(services.worker!.environment);
    expect([services.prometheus!.profiles, services.grafana!.profiles]).toEqual([['monitoring'], ['monitoring']]);
    for (const name of ['postgres', 'temporal', 'temporal-ui', 'worker', 'starter']) expect(services[name]!.profiles).toBeUndefined();
  });

  it('depends only on services it defines, and bind-mounts only files of this repository', () => {
    const { services } = loadCompose();
    const missingDeps = Object.entries(services).flatMap(([name, s]) => Object.keys(s.depends_on ?? {}).filter((d) => !(d in services)).map((d) => `${name} → ${d}`));
    expect(missingDeps).toEqual([]);
    const binds = Object.values(services).flatMap((s) => (s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':')[0]!));
    expect(binds.length).toBe(4);
    expect(binds.filter((path) => !existsSync(`${REPO}/${path}`))).toEqual([]);
  });

  it('mounts a Prometheus config that scrapes the workers and Grafana provisioning for the dashboard', () => {
    const prometheus = parse(read('deploy/compose/prometheus.yml')) as { scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[] };
    expect(prometheus.scrape_configs.map((c) => [c.job_name, c.dns_sd_configs[0]!.names, c.dns_sd_configs[0]!.port])).toEqual([['evm-indexer', ['worker'], 9464]]);
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; url: string }[] };
    expect(datasources.datasources.map((d) => [d.uid, d.url])).toEqual([['prometheus', 'http://prometheus:9090']]);
    const dashboards = parse(read('deploy/grafana/provisioning/dashboards/evm-indexer.yml')) as { providers: { options: { path: string } }[] };
    const grafanaMounts = loadCompose().services.grafana!.volumes!;
    expect(grafanaMounts).toContain(`./deploy/grafana/evm-indexer.json:${dashboards.providers[0]!.options.path}/evm-indexer.json:ro`);
    const dashboard = JSON.parse(read('deploy/grafana/evm-indexer.json')) as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('evm-indexer');
  });
});

describe('Dockerfile', () => {
  it('compiles in a build stage, installs the runtime without dev dependencies and runs the compiled worker as PID 1 (exec form)', () => {
    const lines = read('Dockerfile').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines.filter((l) => l.startsWith('FROM '))).toEqual(['FROM rust:1-slim-bookworm AS native', 'FROM node:20-slim AS build', 'FROM node:20-slim']);
    // The native transcoder, built from native/ with no crates, where src/decode/native.ts looks for it from dist/src/decode/.
    expect(lines).toContain('RUN cargo build --release --locked && mkdir -p build && cp target/release/libevm_indexer_transcode.so build/transcode.node');
    expect(lines).toContain('COPY --from=native /native/build/transcode.node ./native/build/transcode.node');
    expect(lines).toContain('    NATIVE_TRANSCODER=on');
    expect(lines).toContain('RUN npm run build && node --import tsx scripts/build-workflow-bundle.ts /app/dist/workflow-bundle.js');
    expect(lines).toContain('RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force');
    expect(lines).toContain('COPY --from=build /app/dist ./dist');
    // The bench runs its workers as the image does: the same entry and the same extra environment.
    expect(lines.at(-1)).toBe(`CMD ["node", "${COMPILED_WORKER}"]`);
    for (const [name, value] of Object.entries(IMAGE_ENV)) expect(lines).toContain(`    ${name}=${value} \\`);
    expect(lines).toContain('    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \\');
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['prom-client', '@temporalio/worker']));
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
  });
});
