import uPlot from 'uplot';
import { h } from './dom';
import { credits, MICRO } from './format';

/**
 * Bar charts of money (spend per day and per function; earnings per day and per machine), drawn by
 * uPlot, a small canvas charting library. Amounts stay integers of micro-credits: the bars are
 * drawn from them scaled to credits, and the exact amounts are in the chart's accessible name, its
 * `data-values` and the tooltip of each label, so nothing shown is rounded without the exact value.
 */
export function barChart(id: string, title: string, labels: string[], micro: number[], unit = 'credits'): HTMLElement {
  const summary = labels.map((l, i) => `${l}: ${credits(micro[i])} ${unit}`).join('; ');
  const figure = h(
    'figure',
    { class: 'chart', id, 'data-labels': JSON.stringify(labels), 'data-values': JSON.stringify(micro) },
    h('figcaption', {}, title),
  );
  if (labels.length === 0) {
    figure.append(h('p', { class: 'empty' }, 'Nothing to draw yet.'));
    return figure;
  }
  const plot = h('div', { role: 'img', 'aria-label': `${title}: ${summary}` });
  figure.append(plot, h('p', { class: 'hint chart-legend' }, ...labels.map((l, i) => h('span', { title: `${credits(micro[i])} ${unit} exactly` }, `${l}: ${rounded(micro[i] ?? 0)}`, i < labels.length - 1 ? ' · ' : ''))));
  const xs = labels.map((_, i) => i);
  const ys = micro.map((m) => m / MICRO);
  const width = Math.max(280, Math.min(720, (typeof window === 'undefined' ? 720 : window.innerWidth) - 96));
  // uPlot draws at the given size, so the chart can be built before the page is shown.
  {
    new uPlot(
      {
        width,
        height: 200,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (labels[v] ?? '') : '')), splits: () => xs, gap: 4 },
          { label: unit, values: (_u, splits) => splits.map((v) => String(Number(v.toPrecision(3)))) },
        ],
        series: [{}, { label: title, fill: 'rgba(31, 78, 121, 0.55)', stroke: '#1f4e79', paths: uPlot.paths.bars?.({ size: [0.6, 64] }), points: { show: false } }],
      },
      [xs, ys],
      plot,
    );
  }
  return figure;
}

/** An amount for reading: 3 significant figures (the exact one is on hover). */
export function rounded(micro: number): string {
  const c = micro / MICRO;
  if (c === 0) return '0';
  return Math.abs(c) >= 1 ? c.toFixed(2) : String(Number(c.toPrecision(3)));
}
