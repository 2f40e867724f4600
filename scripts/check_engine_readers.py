#!/usr/bin/env python3
"""Runs the engines' own readers on kvmix's exports: vLLM's command-line parser and cache config on
vllm_flags.txt, and ModelOpt's and vLLM's readers of hf_quant_config.json on the ModelOpt export.

    python3 scripts/check_engine_readers.py EXPORT_DIR [EXPORT_DIR...]

Each EXPORT_DIR is what `kvmix export CONFIG --to all -o EXPORT_DIR` wrote. vLLM and ModelOpt are
large (vLLM pins a torch of its own): results/engines.md says how the throwaway environment that
ran this was made. Prints one JSON object per export folder; exits 1 when a reader refuses a file
that kvmix says the engine accepts.
"""
import json
import os
import shlex
import sys


def check_vllm_flags(path):
    # vLLM picks its platform at import; with no GPU here, its CPU platform (what a CPU build of
    # vLLM selects) lets the parser and config validators run. Nothing is loaded or served.
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    from vllm.config.cache import CacheConfig
    from vllm.engine.arg_utils import EngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    with open(path, encoding="utf-8") as f:
        line = f.readline().strip()
    flags = shlex.split(line)  # parsed as a shell would hand them to `vllm serve`, never run
    parser = EngineArgs.add_cli_args(FlexibleArgumentParser())
    args = parser.parse_args(["--model", "kvmix-check", *flags])
    engine = EngineArgs.from_cli_args(args)
    # CacheConfig's validators check the dtype against vLLM's list of KV cache dtypes.
    cache = CacheConfig(cache_dtype=engine.kv_cache_dtype,
                        kv_cache_dtype_skip_layers=engine.kv_cache_dtype_skip_layers)
    # Negative control: the same validators refuse a dtype vLLM does not have.
    try:
        CacheConfig(cache_dtype="int3")
        control = "accepted int3: the validators check nothing"
    except ValueError:
        control = "refused int3"
    return {"flags": line, "accepted": True, "kv_cache_dtype": cache.cache_dtype,
            "kv_cache_dtype_skip_layers": list(cache.kv_cache_dtype_skip_layers),
            "negative_control": control}


def check_modelopt_layout(doc):
    """ModelOpt's side: the KV format is one ModelOpt writes, every key is one a reader reads, and
    ModelOpt's converter maps it. Raises ValueError otherwise. Used by the ModelOpt ctest too."""
    from modelopt.torch.export import model_config as mc
    from modelopt.torch.export.convert_hf_config import convert_hf_quant_config_format

    algo = doc["quantization"].get("kv_cache_quant_algo")
    out = {"kv_cache_quant_algo": algo}
    # The KV cache formats ModelOpt itself writes; vLLM accepts any string here and would carry
    # an unknown one along unread, so membership is checked against ModelOpt's own list.
    known = {mc.KV_CACHE_FP8, mc.KV_CACHE_INT8, mc.KV_CACHE_NVFP4, mc.KV_CACHE_NVFP4_AFFINE, None}
    if algo not in known:
        raise ValueError(f"kv_cache_quant_algo {algo!r} is not one of ModelOpt's KV cache formats "
                         f"{sorted(k for k in known if k)}")
    read = {"quant_algo", "kv_cache_quant_algo", "group_size", "exclude_modules"}
    out["keys_no_reader_reads"] = sorted(set(doc["quantization"]) - read)
    if out["keys_no_reader_reads"]:
        raise ValueError(f"quantization holds {out['keys_no_reader_reads']}, which neither "
                         "ModelOpt's converter nor vLLM reads")
    # ModelOpt's converter to the compressed-tensors layout vLLM and others load.
    converted = convert_hf_quant_config_format(doc)
    out["modelopt_converted_kv_cache_scheme"] = converted.get("kv_cache_scheme")
    return out


def check_modelopt_config(path):
    from vllm.model_executor.layers.quantization.modelopt import ModelOptFp8Config

    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    out = check_modelopt_layout(doc)
    # vLLM reads the file only with the weights' quant_algo; test it alone and merged into an FP8
    # weight checkpoint's file, as the export's loss line tells users to do.
    try:
        ModelOptFp8Config.from_config(doc)
        out["vllm_alone"] = "accepted"
    except ValueError as e:
        out["vllm_alone"] = f"refused: {e}"
    merged = json.loads(json.dumps(doc))
    merged["quantization"]["quant_algo"] = "FP8"
    config = ModelOptFp8Config.from_config(merged)
    out["vllm_merged_into_fp8_checkpoint"] = "accepted"
    out["vllm_kv_cache_quant_method"] = getattr(config, "kv_cache_quant_method", None)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    import modelopt
    import vllm
    failed = False
    for folder in sys.argv[1:]:
        report = {"export": os.path.basename(os.path.normpath(folder)),
                  "vllm": vllm.__version__, "modelopt": modelopt.__version__}
        for name, check in [("vllm_flags.txt", check_vllm_flags),
                            ("hf_quant_config.json", check_modelopt_config)]:
            try:
                report[name] = check(os.path.join(folder, name))
            except Exception as e:  # a refusal is the finding: record it and go on
                report[name] = {"accepted": False, "error": f"{type(e).__name__}: {e}"}
                failed = True
        print(json.dumps(report))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
