/** Chart.js's UMD build, served from the project's node_modules (console/server.ts), never a CDN. */
export const CHART_SCRIPT = '/assets/vendor/chart.umd.min.js';
