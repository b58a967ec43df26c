"""Fault tolerance on a simulated two-node Ray cluster: an embedding actor killed mid-run (SIGKILL, as when a node
runs out of memory) is replaced, its batches are retried, and every id is written exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_ray_encode import corpus, read_output, write_jsonl

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

ROWS = 30_000
OVERALL_TIMEOUT_S = 300


def _start_cluster(attempts: int = 3) -> Any:
    """Two nodes of one CPU each on this machine. Under load a node can miss Ray's registration timeout: retry."""
    from ray.cluster_utils import Cluster

    last: Exception | None = None
    for _ in range(attempts):
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 150 * 2**20},
        )
        try:
            cluster.add_node(num_cpus=1, object_store_memory=150 * 2**20)
            cluster.wait_for_nodes(timeout=90)
            return cluster
        except Exception as e:  # a node that failed to register: tear everything down and start again
            last = e
            cluster.shutdown()
    raise RuntimeError(f"could not start a two-node Ray cluster in {attempts} attempts: {last}")


def _embedding_actors() -> list[Any]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "MapWorker" in cmdline and "_Embedder" in cmdline:
            found.append(proc)
    return found


def test_killed_actor_mid_run_every_id_exactly_once(model_dir: Path, model: Any, tmp_path: Path) -> None:
    from sentvec.distributed import encode_dataset

    rows = corpus(ROWS, seed=5)
    data = write_jsonl(tmp_path / "corpus.jsonl", rows)
    if ray.is_initialized():
        ray.shutdown()
    cluster = _start_cluster()
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            outcome["report"] = encode_dataset(
                str(model_dir),
                data,
                tmp_path / "out",
                field="body",
                id_field="doc",
                actors=2,
                batch_size=100,
                address=cluster.address,
                show_progress=False,
            )
        except BaseException as e:
            outcome["error"] = e

    try:
        runner = threading.Thread(target=job, daemon=True)
        runner.start()
        deadline = time.monotonic() + OVERALL_TIMEOUT_S
        victims: list[Any] = []
        while runner.is_alive() and time.monotonic() < deadline:
            actors = _embedding_actors()
            if len(actors) == 2 and all(time.time() - a.create_time() > 4 for a in actors):
                victims = actors[:1]  # both loaded and working for a while: kill one mid-run
                break
            time.sleep(0.2)
        assert victims, "the job ended (or stalled) before two embedding actors were up"
        assert runner.is_alive()
        before = {a.pid for a in actors}
        os.kill(victims[0].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        replacements: set[int] = set()
        while runner.is_alive() and time.monotonic() < deadline:
            replacements |= {a.pid for a in _embedding_actors()} - before
            runner.join(timeout=0.2)
        assert not runner.is_alive(), f"the job did not finish within {OVERALL_TIMEOUT_S} s"
        finished_after_kill = time.monotonic() - killed_at
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()

    assert "error" not in outcome, outcome.get("error")
    assert finished_after_kill > 0.5  # the kill landed while rows were still being embedded
    assert replacements, "Ray did not start a replacement for the killed actor"
    ids, emb, _ = read_output(tmp_path / "out")
    assert len(ids) == ROWS
    assert sorted(ids.tolist()) == [i for i, _ in rows]  # every id exactly once
    picks = np.random.default_rng(0).choice(ROWS, size=300, replace=False)
    by_id = {int(i): k for k, i in enumerate(ids)}
    expected = model.encode([rows[p][1] for p in picks])
    np.testing.assert_allclose(emb[[by_id[rows[p][0]] for p in picks]], expected, atol=1e-5, rtol=0)
    # batches of the killed actor may run twice; a retried batch's truncation counts replace its first try's
    info = model.tokenize([t for _, t in rows]).info
    report = outcome["report"]
    assert (report.rows, report.truncated, report.tokens) == (ROWS, info.n_truncated, info.total_tokens)
