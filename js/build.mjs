// Bundle each view and its CSS into llmops_nb/static/ (ES modules, minified) for anywidget.
// `npm run build` once, `npm run watch` while editing (with ANYWIDGET_HMR=1 in the kernel).
// A view is a folder, js/<view>/widget.js + style.css, mirrored by llmops_nb/widgets/<view>/; its
// bundles are llmops_nb/static/<view>.js and .css (pyproject.toml's ensured-targets lists them).

import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const VIEWS = ["explorer", "trace_list", "eval_table", "prompt_diff"];

const options = {
  entryPoints: VIEWS.flatMap((v) => [
    { in: `${v}/widget.js`, out: v },
    { in: `${v}/style.css`, out: v },
  ]),
  absWorkingDir: fileURLToPath(new URL(".", import.meta.url)),
  outdir: "../llmops_nb/static",
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "none",
  logLevel: "info",
  metafile: true,
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  const result = await esbuild.build(options);
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    console.log(`${file}: ${out.bytes} bytes`);
  }
}
