// The ROI editor's geometry, with no DOM: normalized 0..1 points and polygons, stored to four
// decimals; the layer's scale to pixels; and the shapes a drag or a click makes.

const ROUND = 1e4;
export const MIN_RECT = 0.01;  // a rectangle thinner than this (normalized) is a slip, not a shape
export const NUDGE = 0.005;    // an arrow key's step; Shift takes four

export const clamp01 = (v) => Math.min(1, Math.max(0, v));
export const round = (v) => Math.round(clamp01(v) * ROUND) / ROUND;
export const roundPolygon = (polygon) => polygon.map(([x, y]) => [round(x), round(y)]);

/** Label position: the top-left-most corner. */
export function anchor(polygon) {
  return polygon.reduce((best, p) => (p[1] + p[0] * 0.3 < best[1] + best[0] * 0.3 ? p : best), polygon[0]);
}

export function midpoint(p, q) {
  return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
}

/**
 * The layer's size in pixels: `px(p)` places a normalized point, `distancePx(a, b)` measures
 * between two, and `near` is how close (px) a click must come to a corner to hit it.
 */
export function scale(width, height, near) {
  return {
    w: width,
    h: height,
    near,
    px: ([x, y]) => [x * width, y * height],
    distancePx: (a, b) => Math.hypot((a[0] - b[0]) * width, (a[1] - b[1]) * height),
  };
}

/** The rectangle dragged from `start` to `end`, clockwise from its top-left corner; null when too thin. */
export function rectangle(start, end) {
  const [x0, y0] = start;
  const [x1, y1] = end;
  if (Math.abs(x1 - x0) < MIN_RECT || Math.abs(y1 - y0) < MIN_RECT) return null;
  const [l, r, t, b] = [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)];
  return roundPolygon([[l, t], [r, t], [r, b], [l, b]]);
}

/**
 * The polygon clicked corner by corner: a double click's second corner (within 3 px) and a
 * last corner back on the first one are dropped; null when fewer than three corners are left.
 */
export function closedPolygon(draft, view) {
  const points = draft.filter((p, i, all) => i === 0 || view.distancePx(p, all[i - 1]) > 3);
  if (points.length > 3 && view.distancePx(points[0], points[points.length - 1]) < view.near) points.pop();
  return points.length < 3 ? null : roundPolygon(points);
}

/** Does a click at `p` close the draft (on its first corner, once it has three)? */
export function closesDraft(draft, p, view) {
  return draft.length >= 3 && view.distancePx(p, draft[0]) < view.near;
}

/** `original` moved by (dx, dy) as far as the frame allows: {polygon, dx, dy}. */
export function shifted(original, dx, dy) {
  for (const [x, y] of original) {
    dx = Math.min(1 - x, Math.max(-x, dx));
    dy = Math.min(1 - y, Math.max(-y, dy));
  }
  return {polygon: original.map(([x, y]) => [x + dx, y + dy]), dx, dy};
}

/** `polygon` with `p` put in as corner `index`. */
export function withCorner(polygon, index, p) {
  return [...polygon.slice(0, index), p, ...polygon.slice(index)];
}

/** `polygon` without corner `index`; null when that would leave fewer than three. */
export function withoutCorner(polygon, index) {
  return polygon.length <= 3 ? null : polygon.filter((_, i) => i !== index);
}

const ARROWS = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};

/** Point `p` nudged by arrow key `key` (a bigger step with Shift), kept inside the frame. */
export function nudged([x, y], key, bigStep = false) {
  const step = bigStep ? NUDGE * 4 : NUDGE;
  const [dx, dy] = ARROWS[key];
  return [clamp01(x + dx * step), clamp01(y + dy * step)];
}
