"""kvmix's ModelOpt export read by NVIDIA ModelOpt's own code (nvidia-modelopt, pinned in the
cross-check venv): for configs covering each lowering branch (all layers at most 4 bits: NVFP4;
an 8-bit side: FP8; an fp16 layer: unquantized), `kvmix export --to modelopt` must write a
kv_cache_quant_algo from ModelOpt's own list of KV cache formats, only keys ModelOpt's converter
or vLLM read, and ModelOpt's converter must map it to the scheme kvmix intended. Negative control:
a file in the layout kvmix wrote before (a per-layer map under MIXED_PRECISION) is refused.
vLLM's reader is checked by scripts/check_engine_readers.py (results/engines.md): vLLM pins a
torch of its own, too large for this venv.
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_util  # noqa: E402

sys.path.insert(0, os.path.join(check_util.SOURCE_DIR, "scripts"))


def uniform(bits_k, bits_v, axis_k="per-channel", fp16_layers=()):
    def fmt(bits, axis):
        if bits == 16:
            return {"family": "fp16", "bits": 16}
        return {"family": "uniform", "bits": bits, "axis": axis, "group": 32, "residual": 32,
                "scale_dtype": "fp16", "symmetric": False}
    return {"k": fmt(bits_k, axis_k), "v": fmt(bits_v, "per-token"), "fp16": fmt(16, ""),
            "fp16_layers": set(fp16_layers)}


CASES = [  # name, formats, the kv_cache_quant_algo kvmix must write, ModelOpt's converted scheme
    ("kivi-K4V2", uniform(4, 2), "NVFP4", "NVFP4"),
    ("kivi-K8V4", uniform(8, 4), "FP8", {"dynamic": False, "num_bits": 8, "type": "float"}),
    ("per-token-KV8", uniform(8, 8, "per-token"), "FP8",
     {"dynamic": False, "num_bits": 8, "type": "float"}),
    ("kivi-KV4-fp16-layer-0", uniform(4, 4, fp16_layers=[0]), None, None),
]


def main():
    args = check_util.parse_args(__doc__.splitlines()[0])
    try:
        import modelopt  # noqa: F401
        from check_engine_readers import check_modelopt_layout
    except ImportError as e:
        check_util.skip(f"nvidia-modelopt is not installed in this Python ({e})")
    template = check_util.read_json(
        os.path.join(check_util.SOURCE_DIR, "results", "tune-builtin", "config.json"))
    failures = []
    for name, f, want_algo, want_scheme in CASES:
        c = copy.deepcopy(template)
        c.pop("provenance", None)
        c["formats"] = {"k": f["k"], "v": f["v"], "fp16": f["fp16"]}
        c["layers"] = [{"layer": l["layer"], "k": "fp16" if l["layer"] in f["fp16_layers"] else "k",
                        "v": "fp16" if l["layer"] in f["fp16_layers"] else "v"}
                       for l in template["layers"]]
        config = os.path.join(args.work, name + ".json")
        with open(config, "w", encoding="utf-8") as out:
            json.dump(c, out)
        folder = os.path.join(args.work, name)
        check_util.run_kvmix(args.kvmix, "export", config, "--to", "modelopt", "-o", folder, "-q")
        doc = check_util.read_json(os.path.join(folder, "hf_quant_config.json"))
        try:
            got = check_modelopt_layout(doc)
        except ValueError as e:
            failures.append(f"{name}: {e}")
            continue
        print(f"{name}: kv_cache_quant_algo {got['kv_cache_quant_algo']}, ModelOpt's converter: "
              f"{got['modelopt_converted_kv_cache_scheme']}")
        if got["kv_cache_quant_algo"] != want_algo:
            failures.append(f"{name}: kv_cache_quant_algo {got['kv_cache_quant_algo']}, expected {want_algo}")
        if got["modelopt_converted_kv_cache_scheme"] != want_scheme:
            failures.append(f"{name}: ModelOpt converted it to {got['modelopt_converted_kv_cache_scheme']}")
    old = {"producer": {"name": "kvmix", "version": "0.1.0"},
           "quantization": {"quant_algo": None, "kv_cache_quant_algo": "MIXED_PRECISION",
                            "kv_cache_schema_version": 1,
                            "kv_cache_quantized_layers": {
                                "model.layers.0.self_attn": {"quant_algo": "FP8_K_NVFP4_V"}}}}
    try:
        check_modelopt_layout(old)
        failures.append("negative control: the old per-layer layout passed the check")
    except ValueError as e:
        print(f"negative control refused: {e}")
    if failures:
        check_util.fail("; ".join(failures))
    print("ModelOpt reads every export as kvmix intends")


if __name__ == "__main__":
    main()
