"""Training samplers whose order depends only on (seed, epoch), so that a resumed run sees the same batches.

``EpochRandomSampler`` is the single-process order; under DDP ``torch.utils.data.DistributedSampler`` (seeded the
same way) splits it over the processes. ``SkippingSampler`` wraps either and drops the indices already trained when a
run resumes inside an epoch. ``ShardSampler`` splits the val set over the processes, each image exactly once.
"""
import torch
import torch.utils.data as tud


class EpochRandomSampler(tud.Sampler):
    """A random permutation that depends only on (seed, epoch): resuming reproduces the same order."""

    def __init__(self, n, seed):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self):
        return self.n


class SkippingSampler(tud.Sampler):
    """Wraps an epoch-seeded sampler; ``skip`` drops the first indices of the epoch (resuming inside an epoch: the
    order and the augmentation depend only on (seed, epoch, index), so the remaining batches are the same)."""

    def __init__(self, base):
        self.base, self.skip = base, 0

    def set_epoch(self, epoch):
        self.base.set_epoch(epoch)

    def __iter__(self):
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        return it

    def __len__(self):
        return max(0, len(self.base) - self.skip)


def train_sampler(n, seed, dist_info):
    """The training sampler of a data set of ``n`` items: this process's share of the (seed, epoch) order."""
    if dist_info["distributed"]:
        base = tud.distributed.DistributedSampler(range(n), num_replicas=dist_info["world"],
                                                  rank=dist_info["rank"], shuffle=True, seed=seed, drop_last=True)
    else:
        base = EpochRandomSampler(n, seed)
    return SkippingSampler(base)


class ShardSampler(tud.Sampler):
    """Indices ``rank, rank + world, ...`` of ``range(n)``: every item exactly once over the ``world`` processes, so
    a sum over all of them counts each once (``DistributedSampler`` pads the shards to one length with repeated
    items, which would count twice in the val loss whenever ``n`` is not a multiple of ``world``)."""

    def __init__(self, n, rank, world):
        self.n, self.rank, self.world = n, rank, world

    def __iter__(self):
        return iter(range(self.rank, self.n, self.world))

    def __len__(self):
        return len(range(self.rank, self.n, self.world))


def val_sampler(n, dist_info):
    """Val images in order, split over the processes under DDP without repeats (the val loss sums all of them)."""
    if dist_info["distributed"]:
        return ShardSampler(n, dist_info["rank"], dist_info["world"])
    return None
