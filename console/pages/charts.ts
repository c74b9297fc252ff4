import { html, type SafeHtml } from '../html.ts';

/** Chart.js's UMD build, served from the project's node_modules (console/server.ts), never a CDN. */
export const CHART_SCRIPT = '/assets/vendor/chart.umd.min.js';

/**
 * The canvas a chart is drawn on by assets/console.js: `kind` picks the drawing, `source` the
 * `jsonData` block it reads (the kind's own id when absent), `label` is what a screen reader says.
 */
export function chartCanvas(chart: { kind: string; label: string; source?: string; id?: string }): SafeHtml {
  return html`<div class="chart">
    <canvas
      ${chart.id === undefined ? '' : html`id="${chart.id}"`}
      data-chart="${chart.kind}"
      ${chart.source === undefined ? '' : html`data-source="${chart.source}"`}
      role="img"
      aria-label="${chart.label}"
    ></canvas>
  </div>`;
}
