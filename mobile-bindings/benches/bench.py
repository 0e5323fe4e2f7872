"""Time of one assessment through the Python bindings (mobile-bindings/bench.sh)."""
import os
import sys
import timeit

sys.path.insert(0, os.path.join(os.environ["BINDINGS_DIR"], "python"))
import whereabouts_mobile as wm  # noqa: E402

snapshot_json = open(sys.argv[1], encoding="utf-8").read()
draft = wm.draft_from_json(open(sys.argv[2], encoding="utf-8").read())
now = sys.argv[3]
snapshot = wm.PolicySnapshot.from_json(snapshot_json)
n = 20_000
per_call = min(timeit.repeat(lambda: snapshot.assess(draft, now, wm.Lang.ZH_CN), number=n, repeat=3)) / n
parse = min(timeit.repeat(lambda: wm.PolicySnapshot.from_json(snapshot_json), number=2_000, repeat=3)) / 2_000
print(f"python: assess {per_call * 1e6:.2f} µs per call, from_json {parse * 1e6:.2f} µs")
