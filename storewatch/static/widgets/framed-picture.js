// A picture of a frame, cropped to a view box, with changed boxes outlined in the frame's own
// normalized coordinates. The crop is CSS only: a box of fixed shape hides what falls
// outside, and the whole frame inside it is scaled and shifted so the view box fills it.

import {h, s} from "../dom.js";

export const CARD_ASPECT = 4 / 3;
const GUESSED_FRAME_ASPECT = 4 / 3;  // until the picture has loaded and says its own
const MAX_ZOOM = 6;  // past this a crop shows JPEG blocks, not the shelf
const MIN_SIDE = 0.02;

function centred(centre, shown) {
  return shown >= 1 ? 0.5 : Math.min(Math.max(centre, shown / 2), 1 - shown / 2);
}

/**
 * Where the whole frame sits inside a crop box of shape `boxAspect` (width / height) so that
 * `view` ([x0, y0, x1, y1], normalized) is shown whole and centred, staying inside the frame
 * where it can. Percentages of the crop box: {left, top, width, height}.
 */
export function cropLayout(view, frameAspect, boxAspect) {
  const [x0, y0, x1, y1] = view || [0, 0, 1, 1];
  const viewWidth = Math.max(x1 - x0, MIN_SIDE);
  const viewHeight = Math.max(y1 - y0, MIN_SIDE);
  // In crop-box widths: the box is 1 wide and 1 / boxAspect high; the frame `zoom` wide.
  const zoom = Math.min(MAX_ZOOM, 1 / viewWidth, (frameAspect / boxAspect) / viewHeight);
  const shownWidth = 1 / zoom;
  const shownHeight = frameAspect / (boxAspect * zoom);
  const left = (shownWidth / 2 - centred((x0 + x1) / 2, shownWidth)) * zoom;
  const top = (shownHeight / 2 - centred((y0 + y1) / 2, shownHeight)) * zoom / frameAspect * boxAspect;
  return {left: left * 100, top: top * 100, width: zoom * 100, height: zoom / frameAspect * boxAspect * 100};
}

function place(frame, layout) {
  for (const side of ["left", "top", "width", "height"]) frame.style[side] = `${layout[side].toFixed(3)}%`;
}

function outlineLayer(outlines) {
  return s("svg", {class: "box-layer", viewBox: "0 0 1 1", preserveAspectRatio: "none", "aria-hidden": "true"},
    outlines.map(({box, verdict, roiId, name}) => s("rect", {
      class: ["changed-box", `verdict-${verdict || "none"}`], x: box[0], y: box[1], width: box[2] - box[0],
      height: box[3] - box[1], "vector-effect": "non-scaling-stroke", dataset: {roi: String(roiId), name}})));
}

/** Place a picture of part of the frame (a server thumbnail of `region`) where that part lies. */
function placeRegion(img, region) {
  const [x0, y0, x1, y1] = region;
  Object.assign(img.style, {position: "absolute", left: `${x0 * 100}%`, top: `${y0 * 100}%`,
                            width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%`});
}

/**
 * The picture at `src` inside a crop box. `view` null shows the whole frame; `fit: "frame"`
 * gives the box the frame's own shape (the full-size viewer) instead of the card's. `region`:
 * the picture shows only that part of the frame (a thumbnail the server cropped), placed there.
 */
export function framedPicture({src, alt, view = null, outlines = [], kind, fit = "card", region = null}) {
  const img = h("img", {src, alt, dataset: region ? {kind, thumbnail: "true"} : {kind}, loading: fit === "card" ? "lazy" : null,
                        decoding: "async"});
  if (region) placeRegion(img, region);
  const frame = h("div", {class: "crop-frame"}, img, outlineLayer(outlines));
  const box = h("div", {class: ["crop", fit === "frame" && "crop-whole"], dataset: {kind}}, frame);
  const lay = (frameAspect) => {
    const boxAspect = fit === "frame" ? frameAspect : CARD_ASPECT;
    if (fit === "frame") {  // as large as the dialog allows, and never taller than the screen
      box.style.aspectRatio = String(frameAspect);
      box.style.maxWidth = `calc(72vh * ${frameAspect.toFixed(4)})`;
    }
    place(frame, cropLayout(view, frameAspect, boxAspect));
  };
  lay(GUESSED_FRAME_ASPECT);
  img.addEventListener("load", () => {
    if (!img.naturalWidth || !img.naturalHeight) return;
    const aspect = img.naturalWidth / img.naturalHeight;  // of the region, for a thumbnail: scale to the frame's
    lay(region ? aspect * (region[3] - region[1]) / Math.max(region[2] - region[0], MIN_SIDE) : aspect);
  });
  return box;
}
