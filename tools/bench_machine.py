"""Steps per second of the refinement harness with every check on, per block size."""

from __future__ import annotations

import random
import sys
import time

from properties.configs import parse_config
from properties.harness import Harness
from tools.find import random_calls


def main() -> int:
    seed = 0
    print(f"seed {seed}; every property checked after every step")
    runs = [("small16", 3000), ("small32", 3000), ("small64", 3000), ("real4096", 600)]
    runs += [("numa4", 1500), ("km4", 1500), ("smp64", 600), ("numa64", 600)]  # per-CPU memory on every CPU
    for name, steps in runs:
        h = Harness(parse_config(name))
        t = time.perf_counter()
        random_calls(h, random.Random(seed), steps)
        dt = time.perf_counter() - t
        print(f"  {name:<9} {h.step:6d} steps in {dt:6.2f} s = {h.step / dt:7.0f} steps/s"
              f"  ({len(h.cfg.possible_cpus)} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
