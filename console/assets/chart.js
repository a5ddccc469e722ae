// Bar charts drawn as SVG by the console itself: no chart library is fetched at run time (the CSP allows only this
// origin's scripts) and the figures stay readable without the picture: every day is a group with an accessible name
// that says its numbers, and the dashboard prints the same rows as a table.
//
//   barChart({ rows, bars, label, width, height, rowLabel }) → <svg>
//   rows: [{date: "2026-11-23", created: 3, approved: 1, ...}, ...]   (one bar group per row)
//   bars: [{ name: "Created", segments: [{ key: "created", label: "created" }] },
//          { name: "Resolved", segments: [{ key: "approved", label: "approved" }, ...] }]   (a bar stacks its segments)
// Colours come from views.css (`.series-<key>`): SVG presentation attributes only, no inline styles.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

/** A round axis maximum (1, 2, 5 × 10^n) at or above `value`, so that the gridlines fall on readable numbers. */
export function niceMaximum(value) {
  if (!(value > 0)) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) {
      return step * power;
    }
  }
  return 10 * power;
}

/** "2026-11-23" → "23 Nov" (UTC: the API's days are UTC days). */
export function shortDate(date) {
  const at = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(at.getTime())) {
    return String(date);
  }
  return at.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}

function total(row, bar) {
  return bar.segments.reduce((sum, segment) => sum + (Number(row[segment.key]) || 0), 0);
}

/** The accessible name of one day: "23 Nov 2026: 3 created; 2 resolved (1 approved, 1 rejected, 0 expired, ...)". */
function describeRow(row, bars, rowLabel) {
  const parts = bars.map((bar) => {
    if (bar.segments.length === 1) {
      return `${Number(row[bar.segments[0].key]) || 0} ${bar.segments[0].label}`;
    }
    const detail = bar.segments.map((segment) => `${Number(row[segment.key]) || 0} ${segment.label}`).join(", ");
    return `${total(row, bar)} ${bar.name.toLowerCase()} (${detail})`;
  });
  return `${rowLabel(row)}: ${parts.join("; ")}`;
}

/**
 * Draws grouped (one bar per `bars` entry) and stacked (one segment per key) bars, one group per row, in a
 * `width` × `height` box (CSS pixels: the caller passes its container's width so text keeps its size at 390 px).
 */
export function barChart({ rows, bars, label, width = 720, height = 240, rowLabel = (row) => row.date }) {
  const margin = { top: 12, right: 8, bottom: 28, left: 36 };
  const plotWidth = Math.max(40, width - margin.left - margin.right);
  const plotHeight = Math.max(40, height - margin.top - margin.bottom);
  const maximum = niceMaximum(Math.max(0, ...rows.flatMap((row) => bars.map((bar) => total(row, bar)))));
  const scale = (value) => (value / maximum) * plotHeight;
  const slot = plotWidth / Math.max(1, rows.length);
  const gap = slot >= 8 ? Math.min(slot * 0.2, 8) : 0.5;
  const barWidth = Math.max(0.5, (slot - gap) / bars.length);

  const chart = svg("svg", {
    class: "bar-chart", role: "group", "aria-label": label, viewBox: `0 0 ${width} ${height}`,
    width, height, preserveAspectRatio: "xMinYMin meet",
  });

  // Gridlines at 0, ½ and the maximum, labelled on the left.
  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (const fraction of [0, 0.5, 1]) {
    const value = maximum * fraction;
    if (!Number.isInteger(value)) {
      continue; // counts are whole: no gridline at 0.5
    }
    const y = margin.top + plotHeight - fraction * plotHeight;
    grid.appendChild(svg("line", { x1: margin.left, x2: margin.left + plotWidth, y1: y, y2: y }));
    grid.appendChild(svg("text", { x: margin.left - 6, y: y + 4, "text-anchor": "end", class: "chart-tick" }, String(value)));
  }
  chart.appendChild(grid);

  const groups = svg("g", { class: "chart-bars" });
  rows.forEach((row, index) => {
    const name = describeRow(row, bars, rowLabel);
    const x0 = margin.left + index * slot + gap / 2;
    const group = svg("g", { class: "bar-group", role: "img", "aria-label": name, "data-date": row.date },
      svg("title", {}, name));
    bars.forEach((bar, barIndex) => {
      let y = margin.top + plotHeight;
      for (const segment of bar.segments) {
        const value = Number(row[segment.key]) || 0;
        if (value <= 0) {
          continue;
        }
        const h = scale(value);
        y -= h;
        group.appendChild(svg("rect", {
          class: `bar series-${segment.key}`, x: (x0 + barIndex * barWidth).toFixed(2), y: y.toFixed(2),
          width: Math.max(0.5, barWidth - (bars.length > 1 && barWidth > 3 ? 1 : 0)).toFixed(2), height: h.toFixed(2),
        }));
      }
    });
    // A transparent full-height target, so a hover anywhere over the day shows its title.
    group.appendChild(svg("rect", {
      class: "bar-hit", x: x0.toFixed(2), y: margin.top, width: Math.max(1, slot - gap).toFixed(2), height: plotHeight,
    }));
    groups.appendChild(group);
  });
  chart.appendChild(groups);

  // Date labels: as many as fit (about one per 56 px), always the first and the last day.
  const axis = svg("g", { class: "chart-axis", "aria-hidden": "true" });
  const every = Math.max(1, Math.ceil(rows.length / Math.max(1, Math.floor(plotWidth / 56))));
  const labelled = [];
  for (let index = 0; index < rows.length; index += every) {
    labelled.push(index);
  }
  const last = rows.length - 1;
  if (last > 0 && labelled[labelled.length - 1] !== last) {
    if (labelled.length > 1 && (last - labelled[labelled.length - 1]) * slot < 56) {
      labelled.pop();
    }
    labelled.push(last);
  }
  for (const index of labelled) {
    const centre = margin.left + index * slot + slot / 2;
    const x = Math.min(Math.max(centre, margin.left + 22), width - margin.right - 22);
    axis.appendChild(svg("text", { x: x.toFixed(2), y: height - 8, "text-anchor": "middle", class: "chart-tick" },
      shortDate(rows[index].date)));
  }
  chart.appendChild(axis);
  return chart;
}

/** The legend of a chart: one swatch per segment, as a list (the swatch colours come from the same classes). */
export function legend(bars) {
  const list = document.createElement("ul");
  list.className = "chart-legend";
  for (const bar of bars) {
    for (const segment of bar.segments) {
      const item = document.createElement("li");
      const swatch = svg("svg", { class: "legend-swatch", width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" },
        svg("rect", { class: `series-${segment.key}`, width: 12, height: 12, rx: 2 }));
      item.appendChild(swatch);
      const text = bar.segments.length > 1 ? `${segment.label} (${bar.name.toLowerCase()})` : segment.label;
      item.appendChild(document.createTextNode(text));
      list.appendChild(item);
    }
  }
  return list;
}
