// Bundle each view and its CSS into llmops_nb/static/ (ES modules, minified) for anywidget.
// `npm run build` once, `npm run watch` while editing (with ANYWIDGET_HMR=1 in the kernel).
// A view is a folder, js/<view>/widget.js + style.css, mirrored by llmops_nb/widgets/<view>/; its
// bundles are llmops_nb/static/<view>.js and .css (pyproject.toml's ensured-targets lists them).

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const VIEWS = ["explorer", "trace_list", "eval_table", "prompt_diff", "dashboard", "sessions", "graph"];

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
  buildLabextension();
}

// The JupyterLab / Notebook 7 extension (js/labextension/, built into llmops_nb/labextension/ and
// installed by the wheel into share/jupyter/labextensions/): webpack module federation through
// JupyterLab's own builder, which needs the installed jupyterlab's core metadata (its "staging"
// package.json: which packages the host shares). pyproject.toml lists jupyterlab in the build
// requirements for that; PYTHON picks the interpreter when the first python3 on PATH lacks it.
function buildLabextension() {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const corePath = jupyterlabCorePath();
  const builder = `${here}node_modules/@jupyterlab/builder/lib/build-labextension.js`;
  execFileSync(process.execPath, [builder, "--core-path", corePath, `${here}labextension`], { stdio: "inherit" });
  console.log("labextension: ../llmops_nb/labextension");
}

function jupyterlabCorePath() {
  const code = "import os, jupyterlab; print(os.path.join(os.path.dirname(jupyterlab.__file__), 'staging'))";
  const tried = [];
  for (const python of [process.env.PYTHON, "python3", "python"].filter(Boolean)) {
    try {
      return execFileSync(python, ["-c", code], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      tried.push(python);
    }
  }
  throw new Error(
    `Building the JupyterLab extension needs the jupyterlab Python package; none of ${tried.join(", ")} ` +
      "can import it. pip install 'jupyterlab>=4.2,<5' (or set PYTHON to an interpreter that has it).",
  );
}
