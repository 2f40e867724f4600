// kvmix's logits against Hugging Face transformers' on the checkpoints and reference logits that
// scripts/transformers_reference.py saved (on any machine with torch and transformers): runs
// `kvmix logits` on each saved checkpoint with the same token ids and writes the largest
// differences to <results prefix>.json.
//
// Usage: node scripts/compare_transformers.mjs <kvmix binary> <reference folder> <results prefix>
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

const [kvmixBin, refDir, resultsPrefix] = process.argv.slice(2);
if (!resultsPrefix) {
  console.error("usage: node compare_transformers.mjs <kvmix> <reference folder> <results prefix>");
  process.exit(2);
}
const versionsFile = path.join(refDir, "versions.json");
if (!fs.existsSync(versionsFile)) {
  console.error(`compare_transformers: ${versionsFile} is missing: run scripts/transformers_reference.py first`);
  process.exit(1);
}
const versions = JSON.parse(fs.readFileSync(versionsFile, "utf8"));
const cases = fs.readdirSync(refDir).filter((f) => f.endsWith(".reference.json")).sort();
if (!cases.length) {
  console.error(`compare_transformers: no *.reference.json in ${refDir}`);
  process.exit(1);
}
const results = [];
for (const file of cases) {
  const ref = JSON.parse(fs.readFileSync(path.join(refDir, file), "utf8"));
  const out = path.join(refDir, ref.case + ".kvmix.json");
  execFileSync(kvmixBin, ["logits", "-m", path.join(refDir, ref.case), "--tokens", ref.tokens.join(","),
                          "-o", out, "-q"], { stdio: "inherit" });
  const ours = JSON.parse(fs.readFileSync(out, "utf8")).logits;
  let maxAbs = 0, maxRel = 0, argmaxAgree = 0;
  ref.logits.forEach((row, t) => {
    const lo = Math.min(...row), hi = Math.max(...row);
    let a = 0, b = 0;
    row.forEach((x, v) => {
      const d = Math.abs(ours[t][v] - x);
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / (hi - lo));
      if (x > row[a]) a = v;
      if (ours[t][v] > ours[t][b]) b = v;
    });
    if (a === b) ++argmaxAgree;
  });
  results.push({ case: ref.case, positions: ref.tokens.length, max_abs_diff: maxAbs,
                 max_diff_over_spread: maxRel, argmax_agree: argmaxAgree });
  console.log(`${ref.case}: max |kvmix - transformers| ${maxAbs.toExponential(3)}, ` +
              `argmax agrees at ${argmaxAgree}/${ref.tokens.length}`);
}
const report = { schema: "kvmix.compare.transformers", version: 1, ...versions,
                 command: "python3 scripts/transformers_reference.py REF; node scripts/compare_transformers.mjs build/kvmix REF PREFIX",
                 cases: results };
fs.mkdirSync(path.dirname(resultsPrefix), { recursive: true });
fs.writeFileSync(resultsPrefix + ".json.tmp", JSON.stringify(report, null, 1) + "\n");
fs.renameSync(resultsPrefix + ".json.tmp", resultsPrefix + ".json");
console.log("wrote " + resultsPrefix + ".json");
