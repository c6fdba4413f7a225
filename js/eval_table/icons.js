// Thumbs up and down drawn as inline SVG (our own path), so they show in every browser whether or
// not it has an emoji font. Built with createElementNS from constants: no markup is ever parsed.

const SVG = "http://www.w3.org/2000/svg";
// a hand with its cuff on the left, thumb up; thumbs down is the same shape turned over
const THUMB =
  "M1 7h3v8H1zM5.2 7 8 1.6c1.1-.4 2.1.4 1.9 1.6L9.4 6h4.1c1 0 1.7.9 1.5 1.9l-1 5.7c-.2.8-.9 1.4-1.7 1.4H5.2z";

/** An SVG thumb, "up" or "down", sized by CSS (.lnb-ev-icon) and coloured by currentColor. */
export function thumbIcon(direction = "up") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "lnb-ev-icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", THUMB);
  if (direction === "down") path.setAttribute("transform", "rotate(180 8 8)");
  svg.append(path);
  return svg;
}
