"""The per-layer Hugging Face cache (python/kvmix_hf) means what kvmix means.

Four checks, against kvmix itself as the independent oracle wherever it can be:
  1. codec: kvmix_hf's quantizer gives the codes, scales, zeros and dequantized values of kvmix's
     own ops (torch.ops.kvmix from libkvmix_kernels, beside the kvmix binary), bit for bit, for
     every format family on awkward shapes; run in a child process so that a library built
     against another torch cannot take this one down (that part is then skipped, said so);
  2. cache rules: full-precision windows and flushes follow kvmix's residual rule, and packed
     and dequantized storage return the same tensors;
  3. config reading: kvmix's tuned config and its Hugging Face export (`kvmix export --to hf`)
     give the same per-layer formats, and bad files are refused naming the file and the problem;
  4. agreement: on the built-in model and the same held-out samples (kvmix's --samples-out),
     transformers + KvmixCache and `kvmix eval` (one sequence per batch, decode chunk 1) agree
     for the tuned config, KV4 kivi and KV2 kivi: the mean per-sample next-token KL against full
     precision within KL_REL_TOL relative, and exact-match counts within EM_TOL samples.

The ctest runs a few samples per task (--samples, --text-samples); results/hf_cache.md records
the 64-sample run and its command.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import check_util as cu

# The bars. KL: both sides compute the same quantity from forward passes that agree to
# ~1e-5 in the logits (the transformers logits comparison); what can move the mean is a key that
# lands on the other side of a rounding boundary and takes another code, rare and averaged out.
KL_REL_TOL = 0.05
EM_TOL = 2  # samples, of each task's exact-match count
MODEL = os.path.join(cu.SOURCE_DIR, "models", "builtin")
TUNED = os.path.join(cu.SOURCE_DIR, "results", "tune-builtin", "config.json")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kvmix", required=True, help="the kvmix binary")
    p.add_argument("--work", required=True, help="a folder this check may empty and fill")
    p.add_argument("--samples", type=int, default=4, help="arith and recall samples")
    p.add_argument("--text-samples", type=int, default=2, help="text windows (512 tokens each)")
    p.add_argument("--report", help="write the per-config, per-task figures here (JSON)")
    p.add_argument("--codec-check", metavar="LIB", help=argparse.SUPPRESS)  # the child process
    a = p.parse_args()
    if a.codec_check is None:
        shutil.rmtree(a.work, ignore_errors=True)
        os.makedirs(a.work)
    return a


# ---- 1. codec, in a child process ---------------------------------------------------------------

def codec_formats():
    from kvmix_hf import QuantFormat
    out = []
    for bits in (1, 2, 3, 4, 8):
        for sym in (False, True):
            for sd in ("fp16", "fp32"):
                out += [QuantFormat("uniform", bits, "per-channel", 32, sym, sd),
                        QuantFormat("uniform", bits, "per-channel", 7, sym, sd),
                        QuantFormat("uniform", bits, "per-token", 0, sym, sd),
                        QuantFormat("uniform", bits, "per-token", 16, sym, sd)]
    for sd in ("fp16", "fp32"):
        out += [QuantFormat("ternary", 2, "per-token", 32, True, sd),
                QuantFormat("ternary", 2, "per-channel", 20, True, sd)]
    out += [QuantFormat("fp8_e4m3", 8, scale_dtype="fp32", fp8_scale="per-head"),
            QuantFormat("fp8_e4m3", 8, scale_dtype="fp32", fp8_scale="per-tensor")]
    return out


def encode_format(f):
    """kernels/ops_args.h: {kind, bits, axis, group, symmetric, scale_dtype, residual, fp8_scope}."""
    kind = {"fp16": 0, "uniform": 1, "ternary": 2, "fp8_e4m3": 3}[f.kind]
    return [kind, f.bits, 0 if f.axis == "per-channel" else 1, f.group, int(f.symmetric),
            0 if f.scale_dtype == "fp16" else 1, f.residual, 0 if f.fp8_scale == "per-head" else 1]


def codec_child(lib):
    import torch
    from kvmix_hf import Packed, quantize_pack, unpack_dequantize
    try:
        torch.ops.load_library(lib)
    except Exception as e:  # another torch's build: not this test's failure
        print(f"cannot load {lib}: {e}")
        sys.exit(cu.SKIP)
    gen = torch.Generator().manual_seed(0)
    checked, bad = 0, []
    # tokens 1 (one partial token group), 33 (whole groups and a partial one of 1), 64 (whole);
    # the 16-bit input dtypes on one length (they change the loads and stores, not the groups)
    cases = [(t, torch.float32) for t in (1, 33, 64)] + [(33, torch.bfloat16), (33, torch.float16)]
    for f in codec_formats():
        for tokens, dtype in cases:
            # channels of very different ranges, a constant group and an all-zero token
            x = torch.randn(2, 3, tokens, 32, generator=gen) * torch.rand(2, 3, 1, 32, generator=gen) * 4
            x[0, 0, :, 5] = 1.25
            x[1, 2, 0, :] = 0.0
            x = x.to(dtype)
            codes, scales, zeros = torch.ops.kvmix.quantize_pack(x, encode_format(f))
            mine = quantize_pack(x, f)
            same = (torch.equal(codes, mine.codes) and torch.equal(scales, mine.scales) and
                    ((zeros is None) == (mine.zeros is None)) and
                    (zeros is None or torch.equal(zeros, mine.zeros)))
            # dequantizing kvmix's packed tensor, and kvmix's fused fake-quant
            theirs = Packed(codes, scales, zeros, tokens, 32)
            deq = unpack_dequantize(theirs, f, dtype)
            ref = torch.ops.kvmix.fake_quant(x, encode_format(f))
            same = same and torch.equal(deq.view(torch.uint8), ref.view(torch.uint8))
            checked += 1
            if not same:
                bad.append(f"{f.name()} tokens {tokens} {dtype}")
    # the non-finite policy: both refuse an fp16 scale that overflows
    from kvmix_hf import QuantFormat
    big = torch.tensor([[[-70000.0, 70000.0]]])
    f = QuantFormat("uniform", 4, "per-token", 0)
    try:
        quantize_pack(big, f)
        bad.append("an fp16 scale beyond 65504 was accepted")
    except ValueError:
        pass
    try:
        torch.ops.kvmix.quantize_pack(big, encode_format(f))
        bad.append("kvmix accepted an fp16 scale beyond 65504 (the policy changed?)")
    except RuntimeError:
        pass
    if bad:
        print(f"{len(bad)} of {checked} cases differ from kvmix's ops:\n  " + "\n  ".join(bad[:20]))
        sys.exit(1)
    print(f"codec: {checked} cases (format x tokens x dtype) bit for bit equal to kvmix's ops")


def check_codec(kvmix):
    lib = os.path.join(os.path.dirname(os.path.realpath(kvmix)), "libkvmix_kernels.so")
    if not os.path.exists(lib):
        print(f"codec check skipped: no {os.path.basename(lib)} beside the kvmix binary")
        return "skipped (no kernel library)"
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--kvmix", kvmix, "--work", ".",
                        "--codec-check", lib], capture_output=True, text=True)
    print(r.stdout.strip())
    if r.returncode == cu.SKIP:
        return "skipped (library not loadable here)"
    if r.returncode != 0:
        cu.fail(f"codec check: exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")
    return "bit for bit"


# ---- 2. the cache's rules ---------------------------------------------------------------------

def check_layer_rules():
    """KvmixLayer against kvmix's residual rule (kernels/quant_format.h, residual_tokens): after
    each step, exactly the newest residual_tokens(f, T) tokens are still the inputs, bit for bit,
    and the older ones are quantized; a step's own tokens come back unquantized; packed and
    dequantized storage return the same tensors."""
    import torch
    from kvmix_hf import KvmixLayer, QuantFormat, fake_quant, residual_tokens
    gen = torch.Generator().manual_seed(1)
    kf = QuantFormat("uniform", 2, "per-channel", 32, residual=32)
    vf = QuantFormat("uniform", 3, "per-token", 16, residual=20)
    layers = [KvmixLayer(kf, vf, storage) for storage in ("packed", "dequantized")]
    seen_k = seen_v = None
    for step in [45] + [1] * 40 + [7] + [1] * 30:  # a prefill, decode steps, a chunk, decode steps
        k = torch.randn(1, 2, step, 32, generator=gen)
        v = torch.randn(1, 2, step, 32, generator=gen)
        seen_k = k if seen_k is None else torch.cat([seen_k, k], -2)
        seen_v = v if seen_v is None else torch.cat([seen_v, v], -2)
        (k1, v1), (k2, v2) = (layer.update(k, v) for layer in layers)
        if not (torch.equal(k1, k2) and torch.equal(v1, v2)):
            cu.fail(f"packed and dequantized storage differ after {seen_k.shape[-2]} tokens")
        t = seen_k.shape[-2]
        # attended: everything before this step as stored, then this step's tokens as given
        before = t - step
        for name, got, seen, f in (("keys", k1, seen_k, kf), ("values", v1, seen_v, vf)):
            window = max(residual_tokens(f, before), 0) + step
            if not torch.equal(got[..., before:, :], seen[..., before:, :]):
                cu.fail(f"{name}: this step's tokens did not come back unquantized (T = {t})")
            if not torch.equal(got[..., t - window:, :], seen[..., t - window:, :]):
                cu.fail(f"{name}: the window of the newest {window} tokens is not full precision")
            if t - window > 0 and torch.equal(got[..., : t - window, :], seen[..., : t - window, :]):
                cu.fail(f"{name}: tokens older than the window were not quantized (T = {t})")
        # values are quantized token by token: each old value is its own fake-quant
        q = before - residual_tokens(vf, before)
        if q > 0 and not torch.equal(v1[..., :q, :], fake_quant(seen_v[..., :q, :].contiguous(), vf)):
            cu.fail(f"values: the quantized tokens are not kvmix's per-token fake-quant (T = {t})")
    print("cache rules: windows, flushes and both storages as kvmix's residual rule says")


# ---- 3. config reading ----------------------------------------------------------------------

def check_configs(kvmix, work):
    from kvmix_hf import KvConfigError, load_kv_config
    from transformers import AutoConfig
    model_config = AutoConfig.from_pretrained(MODEL)
    tuned = load_kv_config(TUNED)
    tuned.check_model(model_config)
    out = os.path.join(work, "export")
    cu.run_kvmix(kvmix, "export", TUNED, "--to", "hf", "-o", out)
    exported = load_kv_config(os.path.join(out, "hf_quantized_cache.json"), num_layers=8)
    if exported.layers != tuned.layers:
        cu.fail("the Hugging Face export reads back as other formats than the config:\n"
                + "\n".join(f"layer {i}: {a} vs {b}" for i, (a, b) in
                            enumerate(zip(exported.layers, tuned.layers)) if a != b))

    base = cu.read_json(TUNED)

    def variant(name, edit):
        j = json.loads(json.dumps(base))
        edit(j)
        path = os.path.join(work, name + ".json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(j, fh)
        return path

    fmt0 = next(iter(base["formats"]))
    cases = [  # (file, words the error must contain)
        (variant("bits5", lambda j: j["formats"][fmt0].update(bits=5)), "1, 2, 3, 4 or 8 bits"),
        (variant("group24", lambda j: j["formats"]["u2-asym-tok-g32-f16-r32"].update(group=24)),
         "does not divide head_dim"),
        (variant("chgroup0", lambda j: j["formats"]["u2-asym-ch-g32-f16-r32"].update(group=0)),
         "group size"),
        (variant("sevenlayers", lambda j: j["layers"].pop()), "7 layer entries"),
        (variant("twice", lambda j: j["layers"][1].update(layer=0)), "appears twice"),
        (variant("unknown", lambda j: j["layers"][2].update(k="u3-nowhere")), "not in formats"),
        (variant("schema", lambda j: j.update(schema="something.else")), "schema"),
        (variant("extra", lambda j: j.update(colour="blue")), "unknown field"),
        (variant("headdim", lambda j: j["model"].update(head_dim=64)), "head_dim"),
        (variant("residual", lambda j: j["formats"][fmt0].update(residual=-1)), "residual"),
    ]
    hf = cu.read_json(os.path.join(out, "hf_quantized_cache.json"))
    bad_hf = json.loads(json.dumps(hf))
    bad_hf["cache_config"]["per_layer_config"][3]["nbits_key"] = 5
    short_hf = json.loads(json.dumps(hf))
    short_hf["cache_config"]["per_layer_config"].pop()
    for name, j, words in (("hf_bits5", bad_hf, "5 bits"), ("hf_short", short_hf, "7 entries")):
        path = os.path.join(work, name + ".json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(j, fh)
        cases.append((path, words))
    notjson = os.path.join(work, "notjson.json")
    with open(notjson, "w", encoding="utf-8") as fh:
        fh.write("{\"schema\": \"kvmix.kv_config\",\n")
    cases.append((notjson, "not valid JSON"))
    cases.append((os.path.join(work, "missing.json"), "cannot read"))
    for path, words in cases:
        try:
            c = load_kv_config(path, num_layers=8)
            c.check_model(model_config)
        except KvConfigError as e:
            if path not in str(e) or words not in str(e):
                cu.fail(f"{path}: the error should name the file and say '{words}': {e}")
            continue
        cu.fail(f"{path}: accepted, but it should be refused ('{words}')")
    print(f"configs: tuned config and its HF export agree on every layer; {len(cases)} bad "
          "files refused with the file and the problem named")


# ---- 4. agreement with kvmix eval -------------------------------------------------------------

def run_kvmix_eval(kvmix, work, name, config_args, samples):
    out = os.path.join(work, f"samples-{name}.json")
    cu.run_kvmix(kvmix, "eval", "-m", MODEL, "--tasks", "arith,recall,text", "-n", samples,
                 "--batch", 1, "--decode-chunk", 1, "--threads", 1, *config_args,
                 "--samples-out", out, "-o", os.path.join(work, f"eval-{name}.json"))
    return cu.read_json(out)


def check_agreement(kvmix, work, samples, text_samples):
    import torch
    import hf_cache_eval as he
    from kvmix_hf import load_kv_config, uniform_config
    torch.set_num_threads(1)
    n = max(samples, text_samples)
    t0 = time.time()
    kv_tuned = run_kvmix_eval(kvmix, work, "tuned", ["--config", TUNED], n)
    kv_uniform = run_kvmix_eval(kvmix, work, "uniform", ["--pairs", "KV4,KV2", "--schemes", "kivi"], n)
    print(f"kvmix eval: {time.time() - t0:.0f} s")
    rows = {(r["config"], r["task"]): r for r in kv_tuned["results"] + kv_uniform["results"]}
    configs = [("tuned", os.path.basename(TUNED), load_kv_config(TUNED)),
               ("KV4 kivi", "KV4 kivi", uniform_config("kivi", 4, 4, 8)),
               ("KV2 kivi", "KV2 kivi", uniform_config("kivi", 2, 2, 8))]
    model, tok = he.load_model(MODEL)
    report = []
    failures = []
    with torch.inference_mode():
        for task in kv_tuned["tasks"]:
            k = text_samples if task["name"] == "text" else samples
            task = {**task, **{key: task[key][:k] for key in ("prompts", "continuations", "answers")}}
            t0 = time.time()
            full = he.evaluate(model, tok, task, he.full_cache(model))
            fp_kvmix = rows[("fp16", task["name"])]
            entry_fp = {"config": "fp16", "task": task["name"], "samples": k}
            if task["generative"]:
                entry_fp.update(hf_correct=sum(full["correct"]), kvmix_correct=sum(fp_kvmix["correct"][:k]),
                                same_answers=sum(a == b for a, b in zip(full["generated"], fp_kvmix["generated"])))
            report.append(entry_fp)
            for label, kv_name, cfg in configs:
                hf = he.evaluate(model, tok, task, he.kvmix_cache(model, cfg), reference=full["logprobs"])
                kv = rows[(kv_name, task["name"])]
                hf_kl = sum(hf["kl"]) / k
                kv_kl = sum(kv["kl"][:k]) / k
                rel = abs(hf_kl - kv_kl) / kv_kl if kv_kl > 0 else (0.0 if hf_kl == 0 else float("inf"))
                e = {"config": label, "task": task["name"], "samples": k, "hf_kl": hf_kl,
                     "kvmix_kl": kv_kl, "kl_rel_diff": rel}
                if rel > KL_REL_TOL:
                    failures.append(f"{label} / {task['name']}: mean KL {hf_kl:.6g} (transformers) "
                                    f"vs {kv_kl:.6g} (kvmix), {rel:.1%} apart (> {KL_REL_TOL:.0%})")
                if task["generative"]:
                    hc, kc = sum(hf["correct"]), sum(kv["correct"][:k])
                    e.update(hf_correct=hc, kvmix_correct=kc,
                             same_answers=sum(a == b for a, b in zip(hf["generated"], kv["generated"])))
                    if abs(hc - kc) > EM_TOL:
                        failures.append(f"{label} / {task['name']}: exact match {hc} (transformers) vs "
                                        f"{kc} (kvmix) of {k}, more than {EM_TOL} apart")
                report.append(e)
            print(f"{task['name']}: {k} samples, {time.time() - t0:.0f} s")
    return report, failures


def table(report):
    lines = ["| config | task | samples | KL transformers | KL kvmix | relative diff | "
             "EM transformers | EM kvmix | same answers |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in report:
        kl = (f"{e['hf_kl']:.6f} | {e['kvmix_kl']:.6f} | {e['kl_rel_diff']:.2%}" if "hf_kl" in e
              else "(reference) | (reference) | ")
        em = (f"{e['hf_correct']} | {e['kvmix_correct']} | {e['same_answers']}" if "hf_correct" in e
              else "| | ")
        lines.append(f"| {e['config']} | {e['task']} | {e['samples']} | {kl} | {em} |")
    return "\n".join(lines)


def main():
    args = parse_args()
    try:
        import torch  # noqa: F401
        import transformers
        import kvmix_hf  # noqa: F401
    except ImportError as e:
        cu.skip(f"needs torch, transformers and python/ on PYTHONPATH: {e}")
    if args.codec_check:
        codec_child(args.codec_check)
        return
    if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
        cu.skip(f"no built-in checkpoint at {MODEL}")
    codec = check_codec(args.kvmix)
    check_layer_rules()
    check_configs(args.kvmix, args.work)
    report, failures = check_agreement(args.kvmix, args.work, args.samples, args.text_samples)
    print(table(report))
    if args.report:
        import torch
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump({"schema": "kvmix.hf_cache_agreement", "version": 1, "codec": codec,
                       "torch": torch.__version__, "transformers": transformers.__version__,
                       "samples": args.samples, "text_samples": args.text_samples,
                       "kl_rel_tol": KL_REL_TOL, "em_tol": EM_TOL, "results": report}, fh, indent=1)
    if failures:
        cu.fail("transformers + KvmixCache and kvmix eval disagree:\n  " + "\n  ".join(failures))
    print("PASSED")


if __name__ == "__main__":
    main()
