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


class StepTimer:
    def __init__(self, config: dict):
        from ..train.config import TrainConfig

        cfg = TrainConfig.from_dict(config)
        self.config = {**cfg.to_dict(), "eval_every": 0, "early_stopping": 0,
                       "mc_samples": 0}
        self.data = None

    def time(self, loops: int) -> float:
        """pyperf's time function: seconds for `loops` training steps."""
        from ..train.data import load_mnist1d
        from ..train.trainer import train

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
    import pyperf

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
