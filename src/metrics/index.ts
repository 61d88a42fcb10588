/**
 * Metrics and health layer: the worker's Prometheus metrics (prom-client) and its HTTP server
 * for `/metrics`, `/healthz` and `/readyz`. Observes the rpc and activities layers through the
 * narrow observer interfaces they declare; never changes what they do, and never throws into them.
 * Workflows cannot use it (no I/O there): chain gauges are set by the activities.
 */
export { type Metrics, createMetrics, METRIC_PREFIX } from './metrics.js';
export { type MetricsServer, type Readiness, type ReadinessReport, createReadiness, startMetricsServer } from './server.js';
