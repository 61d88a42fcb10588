/**
 * deploy/grafana/evm-indexer.json, statically: a dashboard Grafana's file provisioning loads
 * (uid, title, schemaVersion, unique panel ids inside the 24-column grid), every query on the
 * `$datasource` variable, and only metrics of this project, the Temporal SDK or Node's process
 * metrics. That each queried metric is exported by a running worker is checked by
 * test/integration/metrics.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metricNamesInPromQL } from '../../support/prometheus.js';

type Panel = { id: number; type: string; title: string; datasource: { uid: string }; gridPos: { x: number; y: number; w: number; h: number }; targets: { refId: string; expr: string; datasource: { uid: string } }[] };
const dashboard = JSON.parse(readFileSync(new URL('../../../deploy/grafana/evm-indexer.json', import.meta.url), 'utf8')) as {
  uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: { name: string; type: string }[] };
};

describe('deploy/grafana/evm-indexer.json', () => {
  it('is a provisionable dashboard: uid, title, schema version, unique panel ids within the grid', () => {
    expect([dashboard.uid, dashboard.title, dashboard.schemaVersion]).toEqual(['evm-indexer', 'EVM indexer', 39]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.panels.filter((p) => p.gridPos.x < 0 || p.gridPos.x + p.gridPos.w > 24 || p.gridPos.h < 1).map((p) => p.title)).toEqual([]);
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([['datasource', 'datasource'], ['job', 'query'], ['chain_id', 'query']]);
  });

  it('queries through the $datasource variable, with unique refIds per panel', () => {
    for (const panel of dashboard.panels) {
      expect([panel.title, panel.datasource.uid]).toEqual([panel.title, '${datasource}']);
      expect(panel.targets.map((t) => t.datasource.uid)).toEqual(panel.targets.map(() => '${datasource}'));
      expect(new Set(panel.targets.map((t) => t.refId)).size).toBe(panel.targets.length);
    }
  });

  it('uses only evm_indexer_, temporal_ and process_ metrics', () => {
    const names = [...new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNamesInPromQL(t.expr))))];
    expect(names.filter((n) => !/^(evm_indexer_|temporal_|process_)/.test(n))).toEqual([]);
    expect(names.filter((n) => n.startsWith('evm_indexer_')).length).toBeGreaterThanOrEqual(20);
  });
});
