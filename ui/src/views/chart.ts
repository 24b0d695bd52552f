// Charts, drawn by Chart.js on `<canvas data-chart>` elements. Views put the series in the
// attribute (as JSON); after each render `syncCharts` creates a chart for a new canvas and
// updates one whose series changed, so lit-html re-rendering the page never redraws for nothing.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

/** Bars over labelled buckets, and lines over the same buckets. */
export interface ChartSeries {
  labels: string[];
  /** `color`: a CSS custom property (`--cat-energy`), so that the palette lives in the styles.
   *  `draw`: a bar (what the chart counts) or a line (a part of it that may overlap another,
   *  drawn over the bars rather than stacked, since overlapping parts do not add up). */
  datasets: { label: string; data: number[]; color: string; draw: "bar" | "line" }[];
  /** What the y axis counts ("messages"). */
  unit: string;
}

/** `#rrggbb` at `opacity`, so that lines over a bar stay visible; any other colour as it is. */
function faded(color: string, opacity: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  return m ? `rgb(${m.slice(1).map((h) => parseInt(h, 16)).join(" ")} / ${opacity})` : color;
}

const drawn = new WeakMap<HTMLCanvasElement, { chart: Chart<"bar" | "line">; json: string }>();

export function chartAttribute(series: ChartSeries): string {
  return JSON.stringify(series);
}

export function syncCharts(root: ParentNode): void {
  for (const canvas of root.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    const json = canvas.dataset.chart ?? "";
    const known = drawn.get(canvas);
    if (known?.json === json) continue;
    const series = JSON.parse(json) as ChartSeries;
    const style = getComputedStyle(canvas);
    const color = (property: string) => style.getPropertyValue(property).trim() || "#888888";
    const data = {
      labels: series.labels,
      // Lines first in the list so that they are drawn over the bars.
      datasets: series.datasets.map((d) =>
        d.draw === "line"
          ? { type: "line" as const, label: d.label, data: d.data, borderColor: color(d.color), backgroundColor: color(d.color), borderWidth: 2, pointRadius: 2, order: 0 }
          : { type: "bar" as const, label: d.label, data: d.data, backgroundColor: faded(color(d.color), 0.45), borderWidth: 0, order: 1 },
      ),
    };
    if (known) {
      known.chart.data = data;
      known.chart.update("none");
      drawn.set(canvas, { chart: known.chart, json });
      continue;
    }
    const chart = new Chart<"bar" | "line">(canvas, {
      type: "bar",
      data,
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          y: { beginAtZero: true, title: { display: true, text: series.unit }, ticks: { precision: 0 } },
        },
        // The legend in the series' order (bars first), not the drawing order.
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12, sort: (a, b) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0) } } },
      },
    });
    drawn.set(canvas, { chart, json });
  }
}
