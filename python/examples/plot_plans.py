#!/usr/bin/env python3
"""What a notebook user draws with splitsim: where the time of each plan goes, and the Pareto front
of a search (iteration time against memory per GPU).

Usage: plot_plans.py [OUT.png]   (run from the repository root, with the module on PYTHONPATH:
PYTHONPATH=build/python python3 python/examples/plot_plans.py breakdown.png)
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files, no display
import matplotlib.pyplot as plt

import splitsim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "gpt3-175b.json")
CLUSTER = os.path.join(ROOT, "topologies", "dgx-a100-superpod.json")
PLANS = os.path.join(ROOT, "plans", "gpt3-175b-compare.json")


def main(out):
    compared = splitsim.compare(MODEL, CLUSTER, PLANS, nodes=128)
    found = splitsim.search(MODEL, CLUSTER, 1536, nodes=128, top=500, rerank=20)

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))

    # Time breakdown: one stacked bar per plan, the parts of the critical stage's iteration.
    parts = sorted({k for p in compared["plans"] for k in p["time_breakdown"]})
    names = [p["name"] for p in compared["plans"]]
    bottom = [0.0] * len(names)
    for part in parts:
        values = [p["time_breakdown"].get(part, 0.0) for p in compared["plans"]]
        left.barh(names, values, left=bottom, label=part.removesuffix("_s").replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values)]
    left.invert_yaxis()
    left.set_xlabel("seconds per iteration")
    left.set_title("GPT-3 175B on 1,024 A100: where the time goes")
    left.legend(fontsize=8)

    # Pareto front: every listed plan that fits, the front (time, memory, GPUs) highlighted.
    table = splitsim.table(found)
    memory_gib = table["peak_memory_bytes"] / 2**30
    right.scatter(memory_gib, table["iteration_time_s"], s=8, color="0.7", label="plans that fit")
    front = table[table["pareto"]].sort_values("peak_memory_bytes")
    right.plot(front["peak_memory_bytes"] / 2**30, front["iteration_time_s"], "o-", color="C3", label="Pareto front")
    right.set_xlabel("peak memory per GPU (GiB)")
    right.set_ylabel("iteration time (s)")
    right.set_title(f"search: {found['fit']} of {found['enumerated']} splits fit, best {len(table)} shown")
    right.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"{out}: {len(names)} plans, {len(front)} plans on the Pareto front")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "splitsim-plans.png")
