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
run exactly the same inputs. kvmix runs one sequence per batch (no left padding to fill, so it
groups the same tokens as this cache); here samples of equal lengths share a batch, which has no
padding either and changes nothing but the speed.
"""
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, DynamicCache

from kvmix_hf import KvmixCache


def load_model(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model.eval(), Tokenizer.from_file(f"{folder}/tokenizer.json")


def _step(model, ids, cache):
    """Logits of the last position [batch, vocab], fp32; ids [batch, tokens]."""
    out = model(input_ids=torch.tensor(ids, dtype=torch.long), past_key_values=cache,
                use_cache=True, logits_to_keep=1)
    return out.logits[:, -1].float()


def _batches(lengths):
    """Sample indices grouped by equal lengths: a batch with no padding at all, so each sequence
    is computed (and its cache grouped) exactly as it would be alone, only faster."""
    groups = {}
    for i, key in enumerate(lengths):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def teacher_forced_logprobs(model, prompts, continuations, make_cache):
    """Per sample [len(continuation), vocab] log-probabilities: kvmix's teacher-forced pass."""
    out = [None] * len(prompts)
    for idx in _batches([(len(prompts[i]), len(continuations[i])) for i in range(len(prompts))]):
        cache = make_cache()
        rows = [torch.log_softmax(_step(model, [prompts[i] for i in idx], cache), -1)]
        for s in range(len(continuations[idx[0]]) - 1):
            rows.append(torch.log_softmax(_step(model, [[continuations[i][s]] for i in idx], cache), -1))
        lp = torch.stack(rows, 1)  # [batch, positions, vocab]
        for b, i in enumerate(idx):
            out[i] = lp[b]
    return out


def kl_per_sample(ref, lp):
    """Mean over positions of KL(ref || lp) (kvmix's kl_per_position, then the sample mean)."""
    return float((ref.exp() * (ref - lp)).sum(-1).clamp_min(0.0).mean())


def generate(model, tok, prompts, max_new_tokens, eos_ids, make_cache):
    """Greedy decoding with kvmix's stop rules (models/generate.cpp); the decoded continuations."""
    texts = [None] * len(prompts)
    for idx in _batches([len(p) for p in prompts]):
        cache = make_cache()
        logits = _step(model, [prompts[i] for i in idx], cache)
        out = [[] for _ in idx]
        done = [False] * len(idx)
        for t in range(max_new_tokens):
            nxt = torch.argmax(logits, -1).tolist()
            for b, token in enumerate(nxt):
                if done[b]:
                    continue
                out[b].append(token)
                if token in eos_ids or "\n" in tok.decode(out[b], skip_special_tokens=True):
                    done[b] = True
            if all(done) or t + 1 == max_new_tokens:
                break
            # a finished sequence keeps stepping (as in kvmix); it cannot affect the others
            logits = _step(model, [[token] for token in nxt], cache)
        for b, i in enumerate(idx):
            texts[i] = tok.decode(out[b], skip_special_tokens=True)
    return texts


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
    lps = teacher_forced_logprobs(model, task["prompts"], task["continuations"], make_cache)
    kl = [None if reference is None else kl_per_sample(reference[i], lp) for i, lp in enumerate(lps)]
    generated, correct = [], []
    if task["generative"]:
        generated = generate(model, tok, task["prompts"], task["max_new_tokens"], eos_ids, make_cache)
        correct = [answer_correct(g, a, task["scoring"]) for g, a in zip(generated, task["answers"])]
    return {"logprobs": lps, "kl": kl, "generated": generated, "correct": correct}
