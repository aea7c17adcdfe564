"""Time and memory of one I-FGSM attack step through ldm-sr-x4-t20's whole sampling chain (issue 16).

    python benchmarks/gpu_session/ldm_step.py --weights FOLDER --data-root DIR --device cuda --out OUT

FOLDER is a diffusers model folder, here the real architecture with random weights
(``python -m model_zoo.ldm_sr.random_weights FOLDER --size real``, about 680 MB, written on the
machine that runs this). The model is loaded as ``srbench run`` loads it (``load_model``, the
card of ``--model``), on one Set5 image (``--image``, default baby: LR 128x128, the largest;
results/perf/diffusion_cost.md counts its cost). One attack step is one seed-averaged I-FGSM
gradient, all seeds in one batch (``seed_averaged_grad``, what the attacks call each step).

For each configuration (per-step checkpointing on/off x seeds): a warm-up step, then
``--repeats`` timed steps (synchronised; median), and the peak memory of a step above the
level before it (CUDA: ``torch.cuda.max_memory_allocated``, i.e. tensors, plus the reserved
peak; CPU: the tensor counter of model_zoo/ldm_sr/cost.py). A configuration that runs out
of memory is recorded as such. OUT.json and OUT.md are rewritten after every configuration,
so a run stopped by a timeout keeps what it measured. Strict float32 (no TF32), as srbench runs.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from model_zoo.ldm_sr.cost import tensor_peak  # noqa: E402
from model_zoo.ldm_sr.random_weights import REAL  # noqa: E402
from srbench.attacks import seed_averaged_grad  # noqa: E402
from srbench.bench.speed import set_tf32  # noqa: E402
from srbench.data import load_dataset  # noqa: E402
from srbench.models import load_model  # noqa: E402

MiB = 2 ** 20
COUNTED = REPO / "results" / "perf" / "diffusion_cost.json"  # the meta-device counts of the real architecture


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_real(model) -> bool:
    """Whether the folder holds the real architecture (model_zoo/ldm_sr/random_weights.REAL), whose cost was counted."""
    return all(tuple(getattr(part.config, "block_out_channels", ())) == tuple(REAL[key]["block_out_channels"])
               for key, part in (("unet", model.unet), ("vqvae", model.vqvae)))


def counted(image: str, t: int) -> dict:
    """FLOPs and tensor bytes of one attack step per seed, as benchmarks/diffusion_cost.py counted them
    (linear in T from its T = 1 and 2 counts; 4 chain forwards checkpointed, 3 plain). {} if not counted."""
    try:
        row = json.loads(COUNTED.read_text())["architectures"]["ldm-sr-x4"]["images"][image]
    except (OSError, KeyError, ValueError):
        return {}
    chain = t * row["unet_flops"] + row["decoder_flops"]
    out = {}
    for mode, fwd in (("checkpointing", 4), ("plain", 3)):
        b1, b2 = row[f"bytes_T1_{mode}"], row[f"bytes_T2_{mode}"]
        out[mode] = {"flops_per_seed": fwd * chain, "tensor_bytes_per_seed": b1 + (t - 1) * (b2 - b1)}
    return out


def measure(model, y, hr, seeds: int, repeats: int, device: torch.device, count_tensors: bool) -> dict:
    z = model.sample_z(y, seeds, torch.Generator().manual_seed(0))
    seed_averaged_grad(model, y, hr, z)  # warm-up: lazy initialisation, cuDNN/cuBLAS handles, autotuning
    sync(device)
    times, peaks, reserved = [], [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base, base_reserved = torch.cuda.memory_allocated(device), torch.cuda.memory_reserved(device)
        t0 = time.perf_counter()
        grad, _ = seed_averaged_grad(model, y, hr, z)
        sync(device)
        times.append(time.perf_counter() - t0)
        if not torch.isfinite(grad).all():
            raise RuntimeError("non-finite gradient")
        del grad
        if device.type == "cuda":
            peaks.append(torch.cuda.max_memory_allocated(device) - base)
            reserved.append(torch.cuda.max_memory_reserved(device) - base_reserved)
    out = {"seconds": statistics.median(times), "seconds_all": times}
    if peaks:
        out.update(peak_allocated_bytes=max(peaks), peak_reserved_bytes=max(reserved))
    if count_tensors:  # what autograd keeps, counted op by op (comparable with the meta-device count)
        out["tensor_peak_bytes"] = tensor_peak(model, y, hr, z)
    return out


def markdown(res: dict) -> str:
    e = res["environment"]
    lines = [f"# One attack step through {res['model']} (T = {res['T']}): time and memory", "",
             f"Command: `{res['command']}`", "",
             f"{e['device_name']}; torch {e['torch']}, CUDA {e['cuda']}, Python {e['python']}; strict float32. "
             + ("Random weights of the real architecture (model_zoo/ldm_sr/random_weights.py --size real); "
                if res["real_architecture"] else "NOT the real architecture (no counted comparison); ") +
             f"Set5 `{res['image']}`, LR {res['lr'][0]}x{res['lr'][1]}; one step = one seed-averaged I-FGSM "
             f"gradient with all seeds in one batch; median of {res['repeats']} timed steps after a warm-up.", "",
             "| checkpointing | seeds | s / step | s / step / seed | peak allocated (MiB) | peak reserved (MiB) "
             "| tensors counted here (MiB) | counted on meta (MiB) | TFLOP/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        c = res["counted"].get("checkpointing" if r["checkpointing"] else "plain", {})
        mib = lambda v: "" if v is None else f"{v / MiB:,.0f}"  # noqa: E731
        if "error" in r:
            lines.append(f"| {r['checkpointing']} | {r['seeds']} | {r['error']} | | | | | "
                         f"{mib(c.get('tensor_bytes_per_seed', 0) * r['seeds'] or None)} | |")
            continue
        flops = c.get("flops_per_seed", 0) * r["seeds"]
        rate = f"{flops / r['seconds'] / 1e12:.1f}" if flops else ""
        lines.append(f"| {r['checkpointing']} | {r['seeds']} | {r['seconds']:.3f} | {r['seconds'] / r['seeds']:.3f} "
                     f"| {mib(r.get('peak_allocated_bytes'))} | {mib(r.get('peak_reserved_bytes'))} "
                     f"| {mib(r.get('tensor_peak_bytes'))} | {mib(c.get('tensor_bytes_per_seed', 0) * r['seeds'] or None)} "
                     f"| {rate} |")
    lines += ["", "Peak allocated/reserved: above the level before the step (weights, inputs and z not included). "
              "Counted on meta: benchmarks/diffusion_cost.py's tensor bytes for this image (CPU attention, which "
              "keeps the full attention matrix), times the seeds. TFLOP/s: its FLOP count of the step (4 chain "
              "forwards checkpointed, 3 plain) over the measured time.",
              f"Wall time of the whole script: {res['wall_s']:.0f} s (model folder loading included)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True, help="diffusers model folder (unet/, vqvae/, scheduler/)")
    p.add_argument("--model", default="ldm-sr-x4-t20", help="registered card (its step count is T)")
    p.add_argument("--data-root", required=True, help="folder with Set5/x4/{HR,LR}")
    p.add_argument("--image", default="baby", help="Set5 image name")
    p.add_argument("--device", default="cuda")
    p.add_argument("--seeds", default="1,10", help="seeds per step, comma-separated (10 = the benchmark's n_eot)")
    p.add_argument("--plain-seeds", default="1", help="seed counts also run without checkpointing ('' = none)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", required=True, help="write OUT.json and OUT.md")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    device = torch.device(args.device)
    set_tf32(False)
    env = {"device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(),
           "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.machine()}"}
    model = load_model(args.model, weights=args.weights, device=device, scale=4)
    pair = next(p for p in load_dataset("set5", 4, root=args.data_root) if p.name == args.image)
    y, hr = pair.lr[None].to(device), pair.hr[None].to(device)
    t = model.steps
    res = {"command": "python benchmarks/gpu_session/ldm_step.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "environment": env, "model": args.model, "T": t, "image": args.image, "lr": list(y.shape[-2:]),
           "repeats": args.repeats, "weights_sha256": model.weights_sha256, "real_architecture": is_real(model),
           "rows": []}
    res["counted"] = counted(args.image, t) if res["real_architecture"] else {}
    plain = {int(s) for s in args.plain_seeds.split(",") if s.strip()}
    configs = []  # cheapest first: each seed count checkpointed, then plain where asked
    for n in (int(s) for s in args.seeds.split(",") if s.strip()):
        configs += [(True, n)] + ([(False, n)] if n in plain else [])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for ckpt, seeds in configs:
        model.checkpointing = ckpt
        row = {"checkpointing": ckpt, "seeds": seeds}
        print(f"checkpointing={ckpt} seeds={seeds} ...", flush=True)
        try:
            row.update(measure(model, y, hr, seeds, args.repeats if seeds == 1 else max(1, args.repeats - 1),
                               device, count_tensors=seeds == 1))
        except torch.OutOfMemoryError as exc:
            row["error"] = f"out of memory ({str(exc).splitlines()[0][:120]})"
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(f"  {row}", flush=True)
        res["rows"].append(row)
        res["wall_s"] = time.perf_counter() - t_start
        out.with_suffix(".json").write_text(json.dumps(res, indent=1))
        out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
