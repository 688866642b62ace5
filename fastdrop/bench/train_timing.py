"""pyperf script: the time of one training step of a config (T2, T6).

    python -m fastdrop.bench.train_timing --config '{"model": "mlp", ...}' \\
        --name "train step mlp p=0.3 inverted" -o step.json

What is timed is the trainer's own loop: `train(config with steps = loops, no evaluation)`
and its `train_time_s`, the loop alone (mini-batch gather, forward, loss, backward,
penalties, optimizer step, max-norm). Building the model and the trainer's warm-up (every
kernel run once, so no JIT or cache load is timed) happen before its clock starts; the data
is loaded once per worker process. pyperf picks `loops` so that a value lasts --min-time.
One benchmark per process tree: `fastdrop bench` starts this script once per timing task.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
import pyperf

from ..kernels import cpu
from ..kernels.plan import make_plan
from ..nn import Dropout, build_model
from ..results.stats import summary
from ..train.config import TrainConfig
from ..train.data import load_mnist1d
from ..train.trainer import _Run, train


class StepTimer:
    def __init__(self, config: dict):
        cfg = TrainConfig.from_dict(config)
        self.config = {**cfg.to_dict(), "eval_every": 0, "early_stopping": 0,
                       "mc_samples": 0}
        self.data = None

    def time(self, loops: int) -> float:
        """pyperf's time function: seconds for `loops` training steps."""
        c = self.config
        if self.data is None:
            val = c["val_size"] or 0
            self.data = load_mnist1d(c["train_size"], val, seed=c["data_seed"],
                                     cache=c["cache_dir"], dtype=c["dtype"])
        r = train({**c, "steps": int(loops)}, dataset=self.data)
        if r["status"] not in ("completed", "early_stopped"):
            raise RuntimeError(f"timing run {r['status']}: {r.get('message')}")
        return r["train_time_s"]

    def metadata(self) -> dict:
        c = self.config
        return {"fastdrop_model": c["model"], "fastdrop_p": float(c["dropout"]),
                "fastdrop_variant": c["variant"], "fastdrop_batch": c["batch_size"],
                "fastdrop_threads": c["threads"] or 0, "fastdrop_dtype": c["dtype"],
                "fastdrop_optimizer": c["optimizer"]}


def main() -> None:
    def forward_args(cmd, args):
        cmd.extend(["--config", args.config, "--name", args.name])

    runner = pyperf.Runner(add_cmdline_args=forward_args,
                           program_args=("-m", "fastdrop.bench.train_timing"))
    runner.argparser.add_argument("--config", required=True, help="TrainConfig as JSON")
    runner.argparser.add_argument("--name", required=True, help="the benchmark's name")
    args = runner.parse_args()
    timer = StepTimer(json.loads(args.config))
    runner.bench_time_func(args.name, timer.time, metadata=timer.metadata())


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------
# T2: the cost of dropout as a ratio, arms interleaved in one warm process
# ---------------------------------------------------------------------------------------


class TrainArm:
    """Blocks of the trainer's own loop for one config, in this process: `block(k)` runs k
    steps and returns (wall seconds, CPU seconds of this thread). Built and warmed up once
    (the trainer's warm-up runs every kernel before the first block).

    Every block starts from the same state (parameters, optimizer moments, batch order;
    offsets restart at 0), so two arms compare the same k steps of training. Left to run
    on, a step's cost drifts with the state: without dropout the MLP's step went from 146
    to 310 us over its first 2000 steps (CPU time, measured) as its gradients shrink
    toward float32's subnormal range, where arithmetic is slow, while at p = 0.3 it went
    to ~285 us; a ratio over long runs then measures the two trajectories, not dropout.
    """

    def __init__(self, config: dict, dataset):
        self.cfg = TrainConfig.from_dict({**config, "eval_every": 0, "early_stopping": 0,
                                          "mc_samples": 0, "steps": 1})
        self.run = _Run(self.cfg, dataset, None)
        self._start = self._state()

    def _state(self):
        run = self.run
        opt = {k: (v.copy() if isinstance(v, np.ndarray) else v)
               for k, v in vars(run.opt).items() if k not in ("params", "grads")}
        b = run.batches
        return (run.model.params.copy(), opt, b.order.copy(), b.pos,
                b.rng.bit_generator.state)

    def _restore(self):
        run, (params, opt, order, pos, rng) = self.run, self._start
        run.model.params[...] = params
        for k, v in opt.items():
            if isinstance(v, np.ndarray):
                getattr(run.opt, k)[...] = v
            else:
                setattr(run.opt, k, v)
        run.batches.order, run.batches.pos = order.copy(), pos
        run.batches.rng.bit_generator.state = rng

    def block(self, k: int) -> tuple[float, float]:
        self._restore()
        self.cfg.steps = k
        c = time.thread_time()
        self.run.loop()
        return self.run.wall, time.thread_time() - c


class FloorArm:
    """The dropout kernels' own work for one training step of a model: at each dropout site,
    the CPU kernel's forward (Philox, select, packed mask) and its backward from the stored
    mask (mask expansion, select), on arrays of the site's shape. `sites` is a list of
    (shape, p, variant, seed)."""

    def __init__(self, sites, dtype="float32"):
        rng = np.random.default_rng(0)
        self.work = []
        for shape, p, variant, seed in sites:
            plan = make_plan(shape, dtype, p, seed, 0, variant)
            x = rng.standard_normal(plan.n).astype(dtype)  # the kernels take flat arrays
            self.work.append((x, np.empty_like(x), np.empty(plan.nbytes, np.uint8),
                              np.empty_like(x), plan))
        self.block(1)  # compile / load the kernels before any timing

    def block(self, k: int) -> tuple[float, float]:
        fwd, bwd = cpu.forward, cpu.backward
        c, t = time.thread_time(), time.perf_counter()
        for _ in range(k):
            for x, y, mask, dx, plan in self.work:
                fwd(x, y, mask, plan)
                bwd(y, dx, mask, plan)
        return time.perf_counter() - t, time.thread_time() - c


def site_shapes(config: dict, batch: int) -> list[tuple]:
    """(shape, p, variant, seed) of every element dropout site of a config's model, read
    from one training-mode forward pass of its unfused form (the Dropout layers' inputs)."""
    m = build_model(config["model"], dropout=config["dropout"], variant=config["variant"],
                    seed=config.get("seed", 0), dtype=config.get("dtype", "float32"),
                    fused=False)
    seen = []
    for site in m.sites:
        if isinstance(site, Dropout):
            fwd = site.forward

            def rec(x, training=True, offset=0, _site=site, _fwd=fwd):
                seen.append((x.shape, _site.p, _site.variant, _site.seed))
                return _fwd(x, training, offset)

            site.forward = rec
    m.forward(np.zeros((batch, 40), m.dtype), training=True, offset=0)
    return seen


def interleave(arms: dict, pairs: list, *, block_s: float = 0.05, min_rounds: int = 10,
               max_rounds: int = 200, max_s: float = 120.0, halfwidth: float = 0.03,
               floors: dict | None = None) -> dict:
    """Time `arms` (name -> object with block(k) -> (wall, cpu)) in rounds, every arm once
    per round, the order reversed every other round (ABBA: a drift in the machine's load
    falls on both sides of a pair alike). Each arm's block has its own k steps, about
    block_s seconds long (calibrated once).

    pairs: (name, baseline name); each round gives one ratio per pair (wall and CPU), and
    rounds continue until every pair's 95% CI half-width on the CPU-time ratio is <=
    halfwidth (and at least min_rounds ran), or max_rounds / max_s is reached.
    floors: name -> (baseline, floor arm): the time a pair adds per step over the floor's
    time per step, per round, as a multiple of the floor.
    """
    ks = {}
    for name, arm in arms.items():
        arm.block(2)  # warm: first-call effects stay out of the calibration
        wall, _ = arm.block(5)
        ks[name] = max(2, int(round(block_s / max(wall / 5, 1e-6))))
    per_step = {name: {"wall": [], "cpu": []} for name in arms}
    t0 = time.perf_counter()
    rounds = 0
    order = list(arms)
    while rounds < max_rounds:
        for name in (order if rounds % 2 == 0 else order[::-1]):
            wall, cpu = arms[name].block(ks[name])
            per_step[name]["wall"].append(wall / ks[name])
            per_step[name]["cpu"].append(cpu / ks[name])
        rounds += 1
        if rounds >= min_rounds:
            done = all(_ratio(per_step, a, b, "cpu")["ci"] <= halfwidth
                       for a, b in pairs)
            if done or time.perf_counter() - t0 > max_s:
                break
    out = {"rounds": rounds, "block_steps": ks, "seconds": time.perf_counter() - t0,
           "halfwidth_goal": halfwidth, "arms": {}, "ratios": {}, "over_floor": {}}
    for name, v in per_step.items():
        out["arms"][name] = {kind: {"median": statistics.median(xs), "min": min(xs)}
                             for kind, xs in v.items()}
    for a, b in pairs:
        out["ratios"][f"{a} / {b}"] = {"arm": a, "baseline": b,
                                       "wall": _ratio(per_step, a, b, "wall"),
                                       "cpu": _ratio(per_step, a, b, "cpu")}
    for a, (b, floor) in (floors or {}).items():
        out["over_floor"][a] = {
            "baseline": b, "floor": floor,
            **{kind: summary((ta - tb) / tf for ta, tb, tf in zip(
                per_step[a][kind], per_step[b][kind], per_step[floor][kind], strict=True))
               for kind in ("wall", "cpu")}}
    return out


def _ratio(per_step, a, b, kind) -> dict:
    s = summary(x / y for x, y in zip(per_step[a][kind], per_step[b][kind], strict=True))
    if s["ci"] is None:
        s["ci"] = float("inf")
    return s
