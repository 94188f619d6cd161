"""A resumable, worker-independent training data stream.

The stream is a sequence of positions 0, 1, 2, ...; position ``p`` is mapped to a
dataset index by a seeded infinite shuffle (as detectron2's TrainingSampler) and the
mapper (augmentation) runs with python/numpy/torch RNGs seeded from ``(seed, p)``.
So the batches depend only on the seed and the position -- not on the number of
workers or on the process RNG -- and a resumed run starts at ``start_iter * batch``
and sees exactly what the uninterrupted run would have seen (exact without aspect
ratio grouping, or when all images fall in one aspect-ratio group).

With repeat-factor sampling (LVIS; ``dataloader.train.repeat_threshold``) the shuffle
is :class:`RepeatFactorResumableSampler`'s, seeded the same way, so resuming stays exact.
"""
from __future__ import annotations

import itertools
import logging
import random
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.utils.data as torchdata
from detectron2.utils import comm

__all__ = ["ResumableTrainingSampler", "RepeatFactorResumableSampler", "PositionSeededDataset",
           "build_resumable_train_loader"]

logger = logging.getLogger(__name__)


class ResumableTrainingSampler(torchdata.Sampler):
    """Infinite shuffled indices, sharded by rank, yielding ``(position, index)`` pairs."""

    def __init__(self, size: int, seed: int, start: int = 0, shuffle: bool = True,
                 rank: Optional[int] = None, world_size: Optional[int] = None):
        assert size > 0
        self._size, self._seed, self._start, self._shuffle = size, int(seed), int(start), shuffle
        self._rank = comm.get_rank() if rank is None else rank
        self._world = comm.get_world_size() if world_size is None else world_size

    def _infinite(self):
        g = torch.Generator()
        g.manual_seed(self._seed)
        while True:
            if self._shuffle:
                yield from torch.randperm(self._size, generator=g).tolist()
            else:
                yield from range(self._size)

    def __iter__(self):
        global_stream = itertools.islice(self._infinite(), self._rank, None, self._world)
        for pos, idx in enumerate(global_stream):
            if pos >= self._start:
                yield (pos, idx)


class RepeatFactorResumableSampler(ResumableTrainingSampler):
    """:class:`ResumableTrainingSampler` with repeat-factor sampling (LVIS paper, Sec. 4.2).

    Each pass over the data draws image ``i`` ``floor(r_i)`` times plus once more with
    probability ``r_i - floor(r_i)`` (stochastic rounding, as detectron2's
    ``RepeatFactorTrainingSampler``), then shuffles the pass; one generator seeded by
    ``seed`` draws both, so the stream depends only on the seed and the factors and a
    resumed run (``start``) continues it exactly.
    """

    def __init__(self, repeat_factors, seed: int, start: int = 0, rank: Optional[int] = None,
                 world_size: Optional[int] = None):
        factors = torch.as_tensor(repeat_factors, dtype=torch.float32)
        if factors.ndim != 1 or len(factors) == 0 or not bool(torch.all(factors >= 1)):
            raise ValueError("repeat factors must be one value >= 1 per image; got "
                             f"{len(factors)} values, min {float(factors.min()) if len(factors) else None}.")
        super().__init__(len(factors), seed, start=start, rank=rank, world_size=world_size)
        self._factors = factors

    def _infinite(self):
        g = torch.Generator()
        g.manual_seed(self._seed)
        whole = torch.floor(self._factors)
        frac = self._factors - whole
        while True:
            reps = whole + (torch.rand(len(frac), generator=g) < frac).float()
            indices = torch.repeat_interleave(torch.arange(len(frac)), reps.long())
            yield from indices[torch.randperm(len(indices), generator=g)].tolist()


class PositionSeededDataset(torchdata.Dataset):
    """``dataset[(pos, idx)]`` = mapper(dicts[idx]) with RNGs seeded by (seed, rank, pos)."""

    def __init__(self, dicts: Sequence[dict], mapper: Callable, seed: int, rank: int = 0,
                 max_retries: int = 20):
        self._dicts, self._mapper, self._seed, self._rank = dicts, mapper, int(seed), rank
        self._max_retries = max_retries

    def __len__(self):
        return len(self._dicts)

    def _seed_all(self, pos: int, attempt: int) -> random.Random:
        s = (self._seed * 1_000_003 + self._rank * 7_919 + pos * 31 + attempt) % (2 ** 31)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        return random.Random(s + 1)

    def __getitem__(self, key: Tuple[int, int]) -> Any:
        pos, idx = key
        for attempt in range(self._max_retries + 1):
            rng = self._seed_all(pos, attempt)
            import copy

            out = self._mapper(copy.deepcopy(self._dicts[idx]))
            if out is not None:
                out["_stream_position"] = pos
                return out
            idx = rng.randrange(len(self._dicts))
        raise RuntimeError(f"mapper returned None for {self._max_retries + 1} images in a row "
                           f"(stream position {pos})")


def build_resumable_train_loader(dataset: List[dict], mapper: Callable, total_batch_size: int,
                                 *, seed: int, start_iter: int = 0, num_workers: int = 0,
                                 aspect_ratio_grouping: bool = True, loader_workers=None,
                                 repeat_threshold: Optional[float] = None, **unused):
    """Like ``build_detection_train_loader`` but deterministic and resumable.

    ``repeat_threshold``: repeat-factor sampling at that threshold (LVIS's 0.001; the
    factors of :func:`vitdet_bench.data.lvis.repeat_factors`); None: a plain shuffle.
    ``num_workers`` is fitted to the CPUs available (``loader_workers``: exactly that many);
    see :mod:`vitdet_bench.utils.cpu`."""
    from detectron2.data.build import build_batch_data_loader

    from vitdet_bench.utils.cpu import loader_workers_for

    num_workers = loader_workers_for(num_workers, comm.get_local_size(), exact=loader_workers)
    world = comm.get_world_size()
    per_rank = total_batch_size // world
    if repeat_threshold is None:
        sampler = ResumableTrainingSampler(len(dataset), seed, start=start_iter * per_rank)
    else:
        from vitdet_bench.data.lvis import repeat_factors

        factors = repeat_factors(dataset, float(repeat_threshold))
        logger.info("Repeat-factor sampling at threshold %g: %.2f draws per image on average "
                    "(max %.2f)", repeat_threshold, float(factors.mean()), float(factors.max()))
        sampler = RepeatFactorResumableSampler(factors, seed, start=start_iter * per_rank)
    ds = PositionSeededDataset(dataset, mapper, seed, rank=comm.get_rank())
    return build_batch_data_loader(ds, sampler, total_batch_size,
                                   aspect_ratio_grouping=aspect_ratio_grouping,
                                   num_workers=num_workers)
