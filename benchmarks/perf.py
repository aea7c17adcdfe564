"""Performance harness for the attack engine (not a test): how close srbench gets to the model's own speed.

    python benchmarks/perf.py --out results/perf/cpu          # CPU (small sizes)
    python benchmarks/perf.py --device cuda --lr 64 --batch 8 --steps 10 --srflow full --out results/perf/h100

It prints, measured in one run on whatever device is present:

1. attack overhead = time of an I-FGSM attack with T steps / (T x time of a bare
   forward+backward of the same model and batch); goal <= 1.05;
2. speedup over a naive reference loop (one image, one seed, one step at a time,
   a host round trip per gradient, the way the original TensorFlow script
   works) for EDSR, ESRGAN and SRFlow with 10 seeds;
3. seed batching: time per seed of the batched seed-averaged step against the
   per-seed loop, and peak memory with and without --z-chunk;
4. for each speed option (--channels-last, --amp bf16, --tf32, --compile): the
   speedup of the attack and the largest change it causes in adv_output_psnr
   (same-seed PSNR between clean and attacked outputs); an option whose change
   reaches 0.05 dB is marked inexact.

Models have random weights (the official checkpoints are not needed for
timing; SRFlow gets the well-conditioned random weights of tests/test_srflow.py);
images are crops of the bundled demo photographs. Every timing is the median
of --repeats interleaved repeats after a warm-up. Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

SRFLOW_SIZES = {"full": {}, "small": dict(nf=32, nb=4, gc=16, taps=(0, 1, 2, 3), K=4, hidden=32), "tiny": dict(nf=8, nb=2, gc=4, taps=(0, 1), K=2, hidden=8)}
EXACT_DB = 0.05


# ----------------------------------------------------------------------------- setup

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def build(name: str, srflow_size: str = "small"):
    """(restorer with random weights, n_seeds, description)."""
    if name in ("edsr", "esrgan"):
        from model_zoo.basicsr_sr.cards import EDSR_M, ESRGAN

        card = EDSR_M if name == "edsr" else ESRGAN
        torch.manual_seed(0)
        r = card.builder()(**card.arch)
        return r, 1, f"{card.description}; random weights"
    from model_zoo.srflow.random_weights import random_srflow

    r = random_srflow(4, std=0.05 if srflow_size == "tiny" else 0.02, **SRFLOW_SIZES[srflow_size])
    arch = "official 4x architecture" if srflow_size == "full" else f"{srflow_size} SRFlow 4x {SRFLOW_SIZES[srflow_size]}"
    return r, 10, f"SRFlow ({arch}); random well-conditioned weights; 10 seeds"


def prepare(r, device):
    r.name = getattr(r, "name", "model")
    r.weights_sha256 = None
    return r.eval().requires_grad_(False).to(device)


def images(lr: int, batch: int, device):
    """LR crops lr x lr of the demo photos (bicubic-downscaled x4) and the HR crops."""
    from srbench.data import load_dataset

    pairs = load_dataset("demo", 4)
    ys, hrs = [], []
    for k in range(batch):
        p = pairs[k % len(pairs)]
        o = (k // len(pairs)) * 4
        ys.append(p.lr[:, o:o + lr, o:o + lr])
        hrs.append(p.hr[:, 4 * o:4 * (o + lr), 4 * o:4 * (o + lr)])
    return torch.stack(ys).to(device), torch.stack(hrs).to(device)


def draw_z(r, y, n):
    if not r.stochastic:
        return None
    return r.sample_z(y, n, torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------- the measured pieces

def bare_fwd_bwd(r, y, target, z, n):
    """The floor: one forward + backward of the same batch (n seeds x B images), MSE to the target."""
    from srbench.core.restorer import repeat_seeds

    x = repeat_seeds(y, n).detach().requires_grad_(True)
    out = r.restore(x, z)
    loss = (out - repeat_seeds(target, n)).pow(2).mean()
    (g,) = torch.autograd.grad(loss, x)
    return g


def attack(r, y, target, z, n, steps, z_chunk=None):
    from srbench.attacks.ifgsm import IFGSM

    return IFGSM(alpha=8, steps=steps, n_eot=n, z_chunk=z_chunk)(r, y, target=target, z=z)[0]


def naive_attack(r, y, target, z, n, steps):
    """One image, one seed, one step at a time, a host round trip per gradient (TensorFlow feed_dict style)."""
    from srbench.core.restorer import slice_z

    b = y.shape[0]
    eps = 8 / 255
    step = eps / steps
    out = []
    for i in range(b):
        y_i = y[i:i + 1].detach().cpu().numpy()
        t_i = target[i:i + 1]
        d = np.zeros_like(y_i)
        for _ in range(steps):
            v = y_i + d
            g_sum = np.zeros_like(y_i)
            for k in range(n):
                x = torch.from_numpy(np.clip(v, 0, 1)).to(y.device).requires_grad_(True)
                o = r.restore(x, None if z is None else slice_z(z, k * b + i, k * b + i + 1))
                loss = (o - t_i).pow(2).mean()
                (g,) = torch.autograd.grad(loss, x)
                g_sum += g.cpu().numpy()
                _ = loss.item()
            g_sum *= (v >= 0) & (v <= 1)
            d = np.clip(d + step * np.sign(g_sum), -eps, eps)
        out.append(np.clip(y_i + d, 0, 1))
    return np.concatenate(out)


def adv_output_psnr(r, y, y_adv, z, n):
    from srbench.core.metrics import batch_psnr
    from srbench.core.restorer import repeat_seeds

    with torch.no_grad():
        clean = r.restore(repeat_seeds(y, n), z)
        adv = r.restore(repeat_seeds(y_adv, n), z)
    return batch_psnr(clean, adv).view(n, y.shape[0]).mean(0)


def median(xs):
    return statistics.median(xs)


# ----------------------------------------------------------------------------- sections

def lr_of(name, args):
    return args.srflow_lr if name == "srflow" and args.srflow_lr else args.lr


def section_overhead_and_naive(models, args, device, log):
    res = {}
    for name, (r, n, desc) in models.items():
        y, hr = images(lr_of(name, args), args.batch, device)
        z = draw_z(r, y, n)
        T = args.steps
        bare_fwd_bwd(r, y, hr, z, n)  # warm-up
        attack(r, y, hr, z, n, 1)
        fb, att, ratios = [], [], []
        for _ in range(args.repeats):  # interleaved, so load from other processes hits both alike
            t_fb = timed(lambda: [bare_fwd_bwd(r, y, hr, z, n) for _ in range(T)], device) / T
            t_att = timed(lambda: attack(r, y, hr, z, n, T), device)
            fb.append(t_fb)
            att.append(t_att)
            ratios.append(t_att / (T * t_fb))
        entry = {"model": desc, "lr_size": lr_of(name, args), "batch": args.batch, "seeds": n, "steps": T,
                 "fwd_bwd_s": median(fb), "attack_s": median(att), "overhead": median(ratios),
                 "overhead_all": ratios}
        log(f"{name}: fwd+bwd {median(fb):.4f}s, attack {T} steps {median(att):.3f}s, overhead {median(ratios):.3f}")
        if not args.skip_naive:
            naive_attack(r, y[:1], hr[:1], None if z is None else draw_z(r, y[:1], n), n, 1)  # warm-up
            nv = []
            for _ in range(max(1, args.repeats if name != "esrgan" or device.type == "cuda" else 1)):
                nv.append(timed(lambda: naive_attack(r, y, hr, z, n, T), device))
            entry.update({"naive_s": median(nv), "speedup_vs_naive": median(nv) / median(att)})
            log(f"{name}: naive loop {median(nv):.3f}s -> speedup {median(nv) / median(att):.2f}x")
        res[name] = entry
    return res


def section_seed_batching(r, n, args, device, log):
    from srbench.attacks import seed_averaged_grad

    y, hr = images(lr_of("srflow", args), args.batch, device)
    z = draw_z(r, y, n)
    for c in (None, 1):
        seed_averaged_grad(r, y, hr, z, c)  # warm-up
    batched, loop, mid = [], [], []
    k = max(1, n // 2)
    for _ in range(args.repeats):
        batched.append(timed(lambda: seed_averaged_grad(r, y, hr, z, None), device) / n)
        loop.append(timed(lambda: seed_averaged_grad(r, y, hr, z, 1), device) / n)
        mid.append(timed(lambda: seed_averaged_grad(r, y, hr, z, k), device) / n)
    out = {"seeds": n, "batch": args.batch, "lr_size": lr_of("srflow", args),
           "per_seed_s_batched": median(batched), "per_seed_s_loop": median(loop),
           f"per_seed_s_z_chunk_{k}": median(mid), "batching_speedup": median(loop) / median(batched)}
    log(f"seed batching: {median(batched):.4f}s/seed batched vs {median(loop):.4f}s/seed looped "
        f"({median(loop) / median(batched):.2f}x); z-chunk {k}: {median(mid):.4f}s/seed")
    mem = {}
    for c in (None, k, 1):
        mem[f"z_chunk_{c}"] = peak_memory(args, device, c)
        log(f"peak memory of one seed-averaged step, z-chunk {c}: {mem[f'z_chunk_{c}'] / 2**20:.1f} MiB")
    out["peak_memory_bytes"] = mem
    return out


def peak_memory(args, device, z_chunk):
    """Extra memory one seed-averaged gradient step needs (CUDA allocator peak, or RSS peak in a fresh process)."""
    if device.type == "cuda":
        from srbench.attacks import seed_averaged_grad

        r, n, _ = build("srflow", args.srflow)
        r = prepare(r, device)
        y, hr = images(lr_of("srflow", args), args.batch, device)
        z = draw_z(r, y, n)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        seed_averaged_grad(r, y, hr, z, z_chunk)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(device) - base
    cmd = [sys.executable, __file__, "--memprobe", json.dumps({"z_chunk": z_chunk, "lr": lr_of("srflow", args), "batch": args.batch,
                                                              "srflow": args.srflow, "threads": args.threads})]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def memprobe(spec):
    """Child process: RSS high-water mark of one seed-averaged step above the RSS before it."""
    from srbench.attacks import seed_averaged_grad

    torch.set_num_threads(spec["threads"])
    r, n, _ = build("srflow", spec["srflow"])
    r = prepare(r, torch.device("cpu"))
    y, hr = images(spec["lr"], spec["batch"], torch.device("cpu"))
    z = draw_z(r, y, n)

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        raise RuntimeError(field)

    with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS
        fh.write("5")
    base = rss("VmRSS:")
    seed_averaged_grad(r, y, hr, z, spec["z_chunk"])
    print(rss("VmHWM:") - base)


def section_speed_options(models, names, args, device, log):
    from srbench.bench.speed import SpeedOptions, apply_speed, set_tf32

    options = {"channels_last": SpeedOptions(channels_last=True), "amp_bf16": SpeedOptions(amp="bf16"),
               "tf32": SpeedOptions(tf32=True), "compile": SpeedOptions(compile=True)}
    if args.skip_compile:
        options.pop("compile")
    res = {}
    for name in names:
        r, n, desc = models[name]
        y, hr = images(lr_of(name, args), args.batch, device)
        z = draw_z(r, y, n)
        T = args.steps
        set_tf32(False)
        attack(r, y, hr, z, n, 1)
        base_adv = attack(r, y, hr, z, n, T)
        base_psnr = adv_output_psnr(r, y, base_adv, z, n)
        res[name] = {}
        for oname, opt in options.items():
            try:
                fast = apply_speed(copy.deepcopy(r), opt)
                t_compile = timed(lambda: attack(fast, y, hr, z, n, 1), device)  # warm-up (compiles)
                base_t, opt_t = [], []
                for _ in range(args.repeats):
                    set_tf32(False)
                    base_t.append(timed(lambda: attack(r, y, hr, z, n, T), device))
                    set_tf32(opt.tf32)
                    opt_t.append(timed(lambda: attack(fast, y, hr, z, n, T), device))
                adv = attack(fast, y, hr, z, n, T)
                psnr = adv_output_psnr(fast, y, adv, z, n)
                set_tf32(False)
                delta = (psnr - base_psnr).abs().max().item()
                entry = {"speedup": median(base_t) / median(opt_t), "base_attack_s": median(base_t),
                         "attack_s": median(opt_t), "max_abs_delta_adv_output_psnr_db": delta,
                         "exact": delta < EXACT_DB, "first_call_s": t_compile,
                         "max_abs_delta_adv_input": (adv - base_adv).abs().max().item()}
            except Exception as exc:  # e.g. no compiler for torch.compile
                set_tf32(False)
                entry = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
            res[name][oname] = entry
            log(f"{name} {oname}: " + (entry.get("error") or
                f"speedup {entry['speedup']:.2f}x, max |d adv_output_psnr| {entry['max_abs_delta_adv_output_psnr_db']:.4f} dB"))
    return res


# ----------------------------------------------------------------------------- report

def markdown(result) -> str:
    env, lines = result["environment"], []
    lines += [f"# srbench attack-engine performance ({env['device_name']})", "",
              f"Command: `{result['command']}`", "",
              f"torch {env['torch']}, {env['device']}, {env['threads']} thread(s), python {env['python']}, "
              f"{env['time']}. Random weights (official checkpoints not used); demo-photo crops, "
              f"LR {result['args']['lr']}x{result['args']['lr']}, batch {result['args']['batch']}, "
              f"{result['args']['steps']} attack steps, medians of {result['args']['repeats']} interleaved repeats.", "",
              "## Attack overhead and speedup over the naive loop", "",
              "| model | seeds | fwd+bwd (s) | attack T steps (s) | overhead (goal <= 1.05) | naive loop (s) | speedup vs naive |",
              "|---|---|---|---|---|---|---|"]
    for name, e in result["overhead"].items():
        lines.append(f"| {name}: {e['model']}, LR {e['lr_size']} | {e['seeds']} | {e['fwd_bwd_s']:.4f} | {e['attack_s']:.3f} | "
                     f"**{e['overhead']:.3f}** | {e.get('naive_s', float('nan')):.3f} | "
                     f"**{e.get('speedup_vs_naive', float('nan')):.2f}x** |")
    sb = result.get("seed_batching")
    if sb:
        mem = sb["peak_memory_bytes"]
        lines += ["", "## Seed batching (SRFlow)", "",
                  f"{sb['seeds']} seeds x {sb['batch']} images: {sb['per_seed_s_batched']:.4f} s per seed batched, "
                  f"{sb['per_seed_s_loop']:.4f} s per seed in a per-seed loop (z-chunk 1): "
                  f"**{sb['batching_speedup']:.2f}x**.", "",
                  "| z-chunk | peak extra memory of one step (MiB) |", "|---|---|"]
        lines += [f"| {k.removeprefix('z_chunk_').replace('None', 'none (all seeds)')} | {v / 2**20:.1f} |"
                  for k, v in mem.items()]
    lines += ["", "## Speed options", "",
              f"| model | option | speedup | max abs change in adv_output_psnr (dB) | exact (< {EXACT_DB} dB) |",
              "|---|---|---|---|---|"]
    for name, opts in result["speed_options"].items():
        for oname, e in opts.items():
            if "error" in e:
                lines.append(f"| {name} | {oname} | failed: {e['error']} | | |")
            else:
                lines.append(f"| {name} | {oname} | {e['speedup']:.2f}x | {e['max_abs_delta_adv_output_psnr_db']:.4f} | "
                             f"{'yes' if e['exact'] else 'NO (inexact)'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--lr", type=int, default=16, help="LR crop size")
    p.add_argument("--batch", type=int, default=2, help="images per batch")
    p.add_argument("--steps", type=int, default=5, help="attack steps T")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--srflow", choices=list(SRFLOW_SIZES), default="small")
    p.add_argument("--srflow-lr", type=int, help="LR crop size for SRFlow (default: --lr)")
    p.add_argument("--models", default="edsr,esrgan,srflow")
    p.add_argument("--option-models", default="edsr", help="models the speed options are measured on")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-compile", action="store_true")
    p.add_argument("--out", help="write OUT.json and OUT.md")
    p.add_argument("--memprobe", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memprobe:
        memprobe(json.loads(args.memprobe))
        return 0
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    env = {"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
           "python": platform.python_version(), "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
           else f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)"}
    log(f"environment: {env}")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    models = {}
    for name in names:
        r, n, desc = build(name, args.srflow)
        models[name] = (prepare(r, device), n, desc)
    result = {"command": "python benchmarks/perf.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "environment": env, "args": vars(args)}
    t0 = time.perf_counter()
    result["overhead"] = section_overhead_and_naive(models, args, device, log)
    if "srflow" in models:
        result["seed_batching"] = section_seed_batching(models["srflow"][0], models["srflow"][1], args, device, log)
    opt_names = [m.strip() for m in args.option_models.split(",") if m.strip() in models]
    result["speed_options"] = section_speed_options(models, opt_names, args, device, log)
    result["wall_s"] = time.perf_counter() - t0
    text = markdown(result)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
        out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
