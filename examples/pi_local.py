"""Monte-Carlo estimate of π on the local backend: 8 sampling jobs fan out, a merge fans in.

Run it twice: the second run reuses every finished job (nothing is recomputed).
"""

import glob
import json
import random

import jobledger as jl

SAMPLES = 200_000


def estimate(i: int) -> int:
    """Count random points of the unit square inside the quarter circle."""
    rng = random.Random(i)
    hits = sum(1 for _ in range(SAMPLES) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    with open(f"pi-{i}.json", "w") as fh:
        json.dump({"index": i, "hits": hits, "samples": SAMPLES}, fh)
    print(f"block {i}: {hits} of {SAMPLES} inside")
    return hits


def merge() -> float:
    """Combine every block into one estimate."""
    blocks = []
    for name in sorted(glob.glob("pi-*.json")):
        with open(name) as fh:
            blocks.append(json.load(fh))
    pi = 4 * sum(b["hits"] for b in blocks) / sum(b["samples"] for b in blocks)
    print(f"pi ~= {pi:.5f} from {len(blocks)} blocks")
    return pi


sampling = jl.Job(name="estimate", tasks=[jl.Task(estimate, pass_index=True)], array=8, cpus=1)
combine = jl.Job(name="merge", command=merge, after=[sampling])

results = jl.run(jl.Workflow([combine], name="pi"), wait=True)
print(f"estimate of pi: {results['merge'].value:.5f}")
