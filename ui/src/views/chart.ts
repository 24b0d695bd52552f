// Charts, drawn by Chart.js on `<canvas data-chart>` elements. Views put the series in the
// attribute (as JSON); after each render `syncCharts` creates a chart for a new canvas and
// updates one whose series changed, so lit-html re-rendering the page never redraws for nothing.

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** A bar chart: one bar per label, one part (stacked) or one bar side by side per dataset. */
export interface StackedBars {
  labels: string[];
  /** `color`: a CSS custom property (`--cat-energy`), so that the palette lives in the styles. */
  datasets: { label: string; data: number[]; color: string }[];
  /** What the y axis counts ("messages"). */
  unit: string;
  /** Stack the datasets: only when they add up (a message counted once), never for counts
   *  that overlap (a message carrying two kinds of data is under both). */
  stacked: boolean;
}

const drawn = new WeakMap<HTMLCanvasElement, { chart: Chart<"bar">; json: string }>();

export function chartAttribute(series: StackedBars): string {
  return JSON.stringify(series);
}

export function syncCharts(root: ParentNode): void {
  for (const canvas of root.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    const json = canvas.dataset.chart ?? "";
    const known = drawn.get(canvas);
    if (known?.json === json) continue;
    const series = JSON.parse(json) as StackedBars;
    const style = getComputedStyle(canvas);
    const data = {
      labels: series.labels,
      datasets: series.datasets.map((d) => ({
        label: d.label,
        data: d.data,
        backgroundColor: style.getPropertyValue(d.color).trim() || "#888888",
        borderWidth: 0,
      })),
    };
    if (known) {
      known.chart.data = data;
      known.chart.update("none");
      drawn.set(canvas, { chart: known.chart, json });
      continue;
    }
    const chart = new Chart(canvas, {
      type: "bar",
      data,
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: series.stacked, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          y: { stacked: series.stacked, beginAtZero: true, title: { display: true, text: series.unit }, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
    drawn.set(canvas, { chart, json });
  }
}
