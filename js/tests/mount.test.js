import { describe, expect, it } from "vitest";
import { viewRoot } from "../lib/mount.js";

describe("viewRoot", () => {
  it("marks the root and whatever gets focus inside it as keeping the notebook's shortcuts out", () => {
    const button = document.createElement("button");
    const root = viewRoot("lnb-test", [button]);
    document.body.append(root);
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    // Lumino matches `… :focus` selectors on the focused element before it looks for the attribute above it
    button.focus();
    expect(button.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    root.remove();
  });
});
