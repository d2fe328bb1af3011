// Small inline SVG bar charts, drawn with the DOM (no third-party script; the CSP's
// `style-src 'self'` holds because every colour and size comes from styles.css classes).
// A chart is a picture of a table that stays on the page: the table carries the exact
// figures for screen readers, so the picture is hidden from them.

const SVG = "http://www.w3.org/2000/svg";

// The drawing's own coordinates; the SVG scales to its box (viewBox), so it fits a phone.
const WIDTH = 400;
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 26, left: 58 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A round top for the axis: 1, 2, 2.5 or 5 times a power of ten, at least `value`. */
export function niceCeiling(value) {
  if (value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * A grouped bar chart: one group per category (a month), one bar per series in it.
 * `values[i][j]` is category i's figure for series j; `format(value)` writes a figure
 * as the table next to it does (each bar's tooltip says it); `short(value)` labels the axis.
 * Each bar carries `data-category`, `data-series` and `data-value` for the tests.
 */
export function barChart({ label, categories, categoryLabel, series, values, format, short }) {
  const flat = values.flat();
  const top = niceCeiling(Math.max(0, ...flat));
  const bottom = -niceCeiling(Math.max(0, ...flat.map((v) => -v)));
  const span = top - bottom || 1;
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (value) => PAD.top + ((top - value) / span) * plotHeight;

  const grid = s("g", { class: "chart-grid" });
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const value = bottom + (span * i) / ticks;
    const at = y(value);
    grid.append(
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: at, y2: at, class: value === 0 ? "chart-zero" : "chart-line" }),
      s("text", { x: PAD.left - 6, y: at, class: "chart-tick", "text-anchor": "end", "dominant-baseline": "middle" }, short(value)),
    );
  }

  const groupWidth = plotWidth / Math.max(1, categories.length);
  const barWidth = (groupWidth * 0.78) / series.length;
  // Label every month while they fit; past about ten, every other (or third...) one.
  const every = Math.max(1, Math.ceil(categories.length / 10));
  const bars = s("g", { class: "chart-bars" });
  const labels = s("g", { class: "chart-labels" });
  categories.forEach((category, i) => {
    const left = PAD.left + i * groupWidth + groupWidth * 0.11;
    series.forEach((item, j) => {
      const value = values[i][j];
      const from = y(Math.max(0, value));
      const height = Math.abs(y(value) - y(0));
      bars.append(
        s(
          "rect",
          {
            x: (left + j * barWidth).toFixed(2),
            y: from.toFixed(2),
            width: Math.max(1, barWidth - 1).toFixed(2),
            height: height.toFixed(2),
            class: `chart-bar series-${j + 1}`,
            "data-category": category,
            "data-series": item.key,
            "data-value": value,
          },
          s("title", {}, `${categoryLabel(category)} · ${item.label}: ${format(value)}`),
        ),
      );
    });
    if (i % every === 0) {
      labels.append(s("text", { x: (PAD.left + (i + 0.5) * groupWidth).toFixed(2), y: HEIGHT - 8, class: "chart-tick", "text-anchor": "middle" }, categoryLabel(category)));
    }
  });

  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart-svg", "aria-hidden": "true", focusable: "false" }, grid, bars, labels);
  const legend = document.createElement("ul");
  legend.className = "chart-legend";
  series.forEach((item, j) => {
    const entry = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch series-${j + 1}`;
    entry.append(swatch, item.label);
    legend.append(entry);
  });
  const figure = document.createElement("figure");
  figure.className = "chart";
  // The table below has the same figures, exactly: screen readers read that instead.
  figure.setAttribute("aria-hidden", "true");
  figure.dataset.chart = label;
  figure.append(svg, legend);
  return figure;
}
