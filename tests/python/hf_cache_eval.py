"""`kvmix eval`'s procedure, redone with Hugging Face transformers and kvmix_hf.KvmixCache.

kvmix's procedure (search/task_eval.cpp, models/generate.cpp), per sample:
  - teacher-forced pass: the prompt in one forward (prefill), then the continuation one token per
    step (decode chunk 1); the prefill's last logits and each step's logits predict continuation
    positions 0..n-1. KL(full precision || config) = sum_v p (log p - log q) per position, clamped
    at 0, averaged over the sample's positions;
  - generation pass (arith, recall): greedy decoding through a fresh cache, stopping at an EOS id,
    once the decoded continuation holds a newline, or after max_new_tokens; scored by the task's
    rule (the last number for arith, the first line for recall).
The samples themselves (token ids, answers) come from kvmix's --samples-out file, so both sides
run exactly the same inputs. One sequence per batch: kvmix then groups the same tokens as this
cache (it has no left padding to fill).
"""
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, DynamicCache

from kvmix_hf import KvmixCache


def load_model(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model.eval(), Tokenizer.from_file(f"{folder}/tokenizer.json")


def _step(model, ids, cache):
    """Logits of the last position [vocab], fp32."""
    out = model(input_ids=torch.tensor([ids], dtype=torch.long), past_key_values=cache,
                use_cache=True, logits_to_keep=1)
    return out.logits[0, -1].float()


def teacher_forced_logprobs(model, prompt, continuation, make_cache):
    """[len(continuation), vocab] log-probabilities, kvmix's teacher-forced pass."""
    cache = make_cache()
    rows = [torch.log_softmax(_step(model, prompt, cache), -1)]
    for tok in continuation[:-1]:
        rows.append(torch.log_softmax(_step(model, [tok], cache), -1))
    return torch.stack(rows)


def kl_per_sample(ref, lp):
    """Mean over positions of KL(ref || lp) (kvmix's kl_per_position, then the sample mean)."""
    return float((ref.exp() * (ref - lp)).sum(-1).clamp_min(0.0).mean())


def generate(model, tok, prompt, max_new_tokens, eos_ids, make_cache):
    """Greedy decoding with kvmix's stop rules; returns the decoded continuation."""
    cache = make_cache()
    logits = _step(model, prompt, cache)
    out = []
    for t in range(max_new_tokens):
        nxt = int(torch.argmax(logits))
        out.append(nxt)
        if nxt in eos_ids or "\n" in tok.decode(out, skip_special_tokens=True):
            break
        if t + 1 == max_new_tokens:
            break
        logits = _step(model, [nxt], cache)
    return tok.decode(out, skip_special_tokens=True)


def extract_final_number(g):
    """kvmix's extract_final_number (lib/tasks/arith.cpp): the number after '####', else the last
    number (GSM8K's convention)."""
    mark = g.rfind("####")
    if mark >= 0:
        i = mark + 4
        while i < len(g) and g[i] == " ":
            i += 1
        j = i + 1 if i < len(g) and g[i] == "-" else i
        while j < len(g) and g[j].isdigit():
            j += 1
        return g[i:j] if j > i and g[j - 1].isdigit() else ""
    end = len(g)
    while end > 0 and not g[end - 1].isdigit():
        end -= 1
    if end == 0:
        return ""
    begin = end
    while begin > 0 and g[begin - 1].isdigit():
        begin -= 1
    if begin > 0 and g[begin - 1] == "-":
        begin -= 1
    return g[begin:end]


def answer_correct(generated, answer, scoring):
    """kvmix's answer_correct (search/task_data.cpp)."""
    ws = " \t\r\n"
    if scoring == "last_number":
        return extract_final_number(generated).replace(",", "") == answer.strip(ws).replace(",", "")
    return generated.split("\n", 1)[0].strip(ws) == answer.strip(ws)


def full_cache(model):
    return lambda: DynamicCache(config=model.config)


def kvmix_cache(model, config, storage="dequantized"):
    return lambda: KvmixCache(config, model.config, storage=storage)


def evaluate(model, tok, task, make_cache, reference=None, eos_ids=(257,)):
    """One config on one task (a task entry of kvmix's --samples-out file). Returns per-sample
    log-probs, KL (None without a reference), generated texts and correctness."""
    lps, kl, generated, correct = [], [], [], []
    for i, (prompt, cont) in enumerate(zip(task["prompts"], task["continuations"])):
        lp = teacher_forced_logprobs(model, prompt, cont, make_cache)
        lps.append(lp)
        kl.append(None if reference is None else kl_per_sample(reference[i], lp))
        if task["generative"]:
            g = generate(model, tok, prompt, task["max_new_tokens"], eos_ids, make_cache)
            generated.append(g)
            correct.append(answer_correct(g, task["answers"][i], task["scoring"]))
    return {"logprobs": lps, "kl": kl, "generated": generated, "correct": correct}
