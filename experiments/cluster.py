"""Sweeps on an HPC cluster through Dask's job-queue integration (SLURM).

On the cluster's login node, in the project's virtual environment::

    from improvesim.experiments.cluster import slurm_cluster
    from improvesim.experiments.spec import load_experiment
    from improvesim.experiments.sweep import run_sweep

    cluster = slurm_cluster(jobs=8, cores=32, memory="64GB", walltime="04:00:00",
                            queue="normal", account="myproject")
    run_sweep(load_experiment("experiments/sobol_full.toml"), "/scratch/me/sobol_full",
              scheduler=cluster.scheduler_address, shared_store=True)

Each SLURM job starts ``cores`` single-threaded Dask workers.  With
``shared_store=True`` (``--shared-store``) the store is on a file system every
worker sees at the same path (the cluster's scratch), and each worker writes
the parts of the chunks it computes; without it the workers send results back
and the login node writes them (the store then needs only be on a file system
the login node can write).  If the allocation ends part-way, run the same call
with ``resume=True`` (or ``improvesim sweep ... --resume --scheduler ADDRESS
[--shared-store]``).
"""

from __future__ import annotations

import signal
import sys
import threading


def slurm_cluster(
    jobs: int,
    cores: int,
    memory: str,
    walltime: str,
    queue: str | None = None,
    account: str | None = None,
    python: str | None = None,
    start: bool = True,
):
    """A ``dask_jobqueue.SLURMCluster`` of ``jobs`` jobs with ``cores`` one-thread workers each.

    With ``start=False`` no jobs are submitted (``cluster.job_script()``
    shows what would be).
    """
    SLURMCluster = _slurm_cluster_class()
    extra = [f"--account={account}"] if account else []
    cluster = SLURMCluster(
        cores=cores,
        processes=cores,  # one single-threaded worker per core: the model is single-threaded
        memory=memory,
        walltime=walltime,
        queue=queue,
        job_extra_directives=extra,
        python=python or sys.executable,
        scheduler_options={"dashboard_address": None},
    )
    if start:
        cluster.scale(jobs=jobs)
    return cluster


def _slurm_cluster_class():
    """``dask_jobqueue.SLURMCluster``, imported without the Ctrl-C handler that importing dask-jobqueue sets.

    dask-jobqueue's ``runner`` module (imported with the package) sets, for its own command-line
    runners, a SIGINT handler that calls ``sys.exit()``, in whatever process imports it: in the
    documented ``slurm_cluster`` then ``run_sweep`` session, Ctrl-C then raised ``SystemExit``,
    not ``KeyboardInterrupt``, so ``run_sweep`` did not stop as interrupted (no manifest, no
    ``SweepInterrupted`` saying what was saved).  The handler that was there before comes back.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT)
    try:
        from dask_jobqueue import SLURMCluster
    finally:
        # (None: a handler not set from Python, which cannot be put back; outside the main thread
        # no handler can be set, and dask-jobqueue's import itself fails there)
        if in_main_thread and previous is not None and signal.getsignal(signal.SIGINT) is not previous:
            signal.signal(signal.SIGINT, previous)
    return SLURMCluster
