"""The PyTorch peer of comptoir's NeuralSessionRecommender: the same architecture and training
protocol (/work/notes/neural_arch.md, issue 16), written the way a competent PyTorch user would, so
that the benchmark compares implementations and not models.

    python benchmarks/neural_peer.py [--data ../shared/data] [--quick]

Architecture: NISER-normalised item vectors plus reverse-position embeddings, the SR-GNN soft
attention readout combined with the last item, a normalised session vector scaled by tau against
the normalised item vectors. Training: every prefix of every session predicts its next item,
sampled softmax over unique(batch targets U negatives drawn from count^0.75) with the logQ
correction, lazy Adam (SparseAdam) for the item embeddings and Adam for the rest, early stopping on
validation MRR@20. Evaluation: rank = number of items scoring >= the target (ties count against).

--quick trains one epoch on the last 20% of the training sessions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class _SessionEncoder(nn.Module):
    def __init__(self, num_items: int, dim: int, max_session_length: int):
        super().__init__()
        # One extra all-zero row is the padding index: PyTorch drops it from the sparse gradient,
        # so padding never touches a real item's lazy Adam state.
        self.pad = num_items
        self.items = nn.Embedding(num_items + 1, dim, padding_idx=num_items, sparse=True)
        self.positions = nn.Parameter(torch.empty(max_session_length, dim))  # by reverse position
        self.w1 = nn.Parameter(torch.empty(dim, dim))
        self.w2 = nn.Parameter(torch.empty(dim, dim))
        self.b = nn.Parameter(torch.zeros(dim))
        self.q = nn.Parameter(torch.empty(dim))
        self.w3 = nn.Parameter(torch.empty(dim, 2 * dim))
        bound = 1.0 / np.sqrt(dim)
        with torch.no_grad():
            for p in (self.items.weight, self.positions, self.w1, self.w2, self.q):
                p.uniform_(-bound, bound)
            self.items.weight[num_items].zero_()
            self.w3.uniform_(-1.0 / np.sqrt(2 * dim), 1.0 / np.sqrt(2 * dim))

    def dense_parameters(self):
        return [self.positions, self.w1, self.w2, self.b, self.q, self.w3]

    def item_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.items(ids), dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, T) item ids right-aligned (the last item in column T-1), padded with self.pad on
        the left; mask: (B, T) float, 1 where x is an item. Returns the (B, d) unit session vectors."""
        width = x.shape[1]
        # Column j holds reverse position width-1-j, the same for every row thanks to right alignment.
        h = (self.item_vectors(x) + self.positions[:width].flip(0)) * mask.unsqueeze(-1)
        last = h[:, -1]
        z = torch.sigmoid(torch.addmm(self.b, last, self.w1.T).unsqueeze(1) + h @ self.w2.T)
        # alpha needs no mask: h is zero at the padding, so padded terms add nothing to the readout.
        readout = torch.bmm((z @ self.q).unsqueeze(1), h).squeeze(1)
        return F.normalize(torch.cat([readout, last], dim=1) @ self.w3.T, dim=-1)


class _Prefixes:
    """Every prefix of every session as (stream start, stream end) into a flat item stream, with the
    next item as its target. Items unknown to the model are dropped from the inputs (their vectors
    were never trained) but still count as targets, which then miss."""

    def __init__(self, sessions, known: np.ndarray | None = None):
        offsets, items = (np.asarray(a) for a in sessions)
        items = items.astype(np.int64)
        lengths = np.diff(offsets)
        session_of = np.repeat(np.arange(len(lengths)), lengths)
        position = np.arange(len(items)) - offsets[session_of]
        target_at = np.flatnonzero(position >= 1)
        self.targets = items[target_at]
        keep = np.ones(len(items), dtype=bool) if known is None else known[items]
        before = np.r_[0, np.cumsum(keep)]  # stream index of each original position
        self.stream = items[keep]
        self.start = before[offsets[session_of[target_at]]]
        self.end = before[target_at]

    def __len__(self) -> int:
        return len(self.targets)


def _padded(stream: torch.Tensor, start: torch.Tensor, end: torch.Tensor, max_len: int, pad: int):
    """The last max_len items of each prefix, right-aligned to the batch's longest one."""
    n = torch.clamp(end - start, max=max_len)
    width = max(int(n.max()), 1)
    cols = end.unsqueeze(1) - width + torch.arange(width)
    mask = cols >= (end - n).unsqueeze(1)
    x = torch.where(mask, stream[cols.clamp(min=0)], pad)
    return x, mask.to(torch.float32)


@dataclass
class TorchPeer:
    encoder: _SessionEncoder
    known: np.ndarray
    max_session_length: int
    scale: float
    epoch_seconds: list = field(default_factory=list)
    history: list = field(default_factory=list)
    _output: tuple | None = None  # the output side, cached once training is over

    def _output_side(self):
        """tau * u_j for every item, and a bias that is -inf for the items never seen in training."""
        with torch.inference_mode():
            items = self.encoder.item_vectors(torch.arange(self.encoder.pad)) * self.scale
        bias = torch.zeros(len(self.known))
        bias[torch.from_numpy(~self.known)] = -torch.inf
        return items, bias

    def _scores(self, x, mask, items, bias) -> torch.Tensor:
        # A prefix with no known item encodes to the zero vector, so every known item ties at 0.
        return torch.addmm(bias, self.encoder(x, mask), items.T)

    def score(self, prefix_items) -> np.ndarray:
        prefix = np.asarray(prefix_items, dtype=np.int64)
        prefix = prefix[(prefix >= 0) & (prefix < len(self.known))]
        prefix = prefix[self.known[prefix]][-self.max_session_length:]
        if self._output is None:
            self._output = self._output_side()
        x = torch.from_numpy(prefix if len(prefix) else np.array([self.encoder.pad])).unsqueeze(0)
        mask = torch.full(x.shape, float(len(prefix) > 0))
        with torch.inference_mode():
            return self._scores(x, mask, *self._output).squeeze(0).numpy()

    def evaluate(self, sessions, k: int = 20, chunk: int = 256) -> dict:
        """HR@k and MRR@k over every prefix, a chunk of prefixes against every item at a time."""
        examples = _Prefixes(sessions, self.known)
        return self._evaluate(examples, k, chunk)

    def _evaluate(self, examples: _Prefixes, k: int, chunk: int) -> dict:
        if len(examples) == 0:
            return {"hit_rate": 0.0, "mrr": 0.0}
        stream = torch.from_numpy(examples.stream)
        start, end = torch.from_numpy(examples.start), torch.from_numpy(examples.end)
        targets = torch.from_numpy(examples.targets)
        output = self._output_side()
        hits = rr = 0.0
        with torch.inference_mode():
            for lo in range(0, len(examples), chunk):
                sl = slice(lo, lo + chunk)
                x, mask = _padded(stream, start[sl], end[sl], self.max_session_length, self.encoder.pad)
                scores = self._scores(x, mask, *output)
                target_scores = scores.gather(1, targets[sl].unsqueeze(1))
                rank = (scores >= target_scores).sum(1).to(torch.float64)
                hit = rank <= k
                hits += float(hit.sum())
                rr += float((1.0 / rank[hit]).sum())
        return {"hit_rate": hits / len(examples), "mrr": rr / len(examples)}


def train_torch_peer(train, validation, num_items, *, dim=96, max_session_length=20, scale=12.0,
                     num_negatives=2048, batch_size=512, learning_rate=1e-3, epochs=10, patience=2,
                     threads=2, seed=0, log=print) -> TorchPeer:
    """Trains the peer on train's prefixes, keeping the epoch with the best validation MRR@20.
    validation may be None (then every epoch is trained and the last one kept)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    train_items = np.asarray(train[1])
    known = np.zeros(num_items, dtype=bool)
    known[train_items] = True
    examples = _Prefixes(train)
    counts = np.bincount(examples.targets, minlength=num_items).astype(np.float64)
    q = counts ** 0.75
    q /= q.sum()
    cdf = np.cumsum(q)
    cdf /= cdf[-1]
    with np.errstate(divide="ignore"):
        log_q = torch.from_numpy(np.log(q).astype(np.float32))

    encoder = _SessionEncoder(num_items, dim, max_session_length)
    model = TorchPeer(encoder, known, max_session_length, scale)
    sparse_opt = torch.optim.SparseAdam(list(encoder.items.parameters()), lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)
    dense_opt = torch.optim.Adam(encoder.dense_parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)

    stream = torch.from_numpy(examples.stream)
    start, end = torch.from_numpy(examples.start), torch.from_numpy(examples.end)
    targets = torch.from_numpy(examples.targets)
    all_items = torch.arange(num_items)
    valid_examples = _Prefixes(validation, known) if validation is not None else None

    best_mrr, best_state, since_best = -1.0, None, 0
    for epoch in range(1, epochs + 1):
        began = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(examples)))
        loss_sum = 0.0
        for lo in range(0, len(order), batch_size):
            batch = order[lo:lo + batch_size]
            x, mask = _padded(stream, start[batch], end[batch], max_session_length, encoder.pad)
            t = targets[batch]
            s = encoder(x, mask)
            if num_negatives > 0:
                negatives = torch.from_numpy(np.searchsorted(cdf, rng.random(num_negatives), side="right"))
                candidates, inverse = torch.unique(torch.cat([t, negatives]), return_inverse=True)
                logits = scale * (s @ encoder.item_vectors(candidates).T) - log_q[candidates]
                loss = F.cross_entropy(logits, inverse[:len(t)])
            else:
                loss = F.cross_entropy(scale * (s @ encoder.item_vectors(all_items).T), t)
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss.backward()
            sparse_opt.step()
            dense_opt.step()
            loss_sum += float(loss.detach()) * len(t)
        seconds = time.perf_counter() - began
        model.epoch_seconds.append(seconds)
        entry = {"epoch": epoch, "loss": loss_sum / len(examples), "seconds": seconds}
        if not np.isfinite(entry["loss"]):
            log(f"epoch {epoch}: loss is not finite, stopping (keeping the best epoch so far)")
            model.history.append(entry)
            break
        if valid_examples is not None:
            metrics = model._evaluate(valid_examples, 20, 256)
            entry.update(validation_hr=metrics["hit_rate"], validation_mrr=metrics["mrr"])
        model.history.append(entry)
        log(f"epoch {epoch}: loss {entry['loss']:.4f}  {seconds:.1f} s"
            + (f"  validation HR@20 {entry['validation_hr']:.4f} MRR@20 {entry['validation_mrr']:.4f}"
               if valid_examples is not None else ""))
        if valid_examples is None:
            continue
        if entry["validation_mrr"] > best_mrr:
            best_mrr, since_best = entry["validation_mrr"], 0
            best_state = copy.deepcopy(encoder.state_dict())
        else:
            since_best += 1
            if since_best >= patience:
                log(f"no validation gain for {patience} epochs: stopping, keeping epoch {epoch - since_best}")
                break
    if best_state is not None:
        encoder.load_state_dict(best_state)
    return model


def main() -> int:
    from common import dataset_folder, parse_args
    from recommenders import dense_metrics, diginetica_split, split_tail

    args = parse_args(__doc__)
    folder = dataset_folder(args, "diginetica")
    if folder is None:
        return 0
    train, test, num_items = diginetica_split(folder)
    if args.quick:
        train = split_tail(train, 0.2)[1]
    fit_part, validation = split_tail(train, 0.1)
    print(f"DIGINETICA: {len(fit_part[0]) - 1:,} training sessions, {len(validation[0]) - 1:,} validation, "
          f"{len(test[0]) - 1:,} test; torch {torch.__version__}, 2 threads")
    model = train_torch_peer(fit_part, validation, num_items, epochs=1 if args.quick else 10)
    print("per-epoch training seconds:", " ".join(f"{s:.1f}" for s in model.epoch_seconds))
    best = max((h for h in model.history if "validation_mrr" in h), key=lambda h: h["validation_mrr"])
    start = time.perf_counter()
    metrics = model.evaluate(test)
    print(f"test (epoch {best['epoch']}): HR@20 {metrics['hit_rate']:.4f}  MRR@20 {metrics['mrr']:.4f}  "
          f"({time.perf_counter() - start:.1f} s to score every test prefix)")

    # The batched evaluation must agree with the one-prefix-at-a-time protocol the other rows use.
    sample = (test[0][:301], test[1][: test[0][300]])
    batched = model.evaluate(sample)
    reference = dense_metrics(model.score, sample, 20, np.bincount(fit_part[1], minlength=num_items))
    print(f"check on 300 test sessions: batched HR@20 {batched['hit_rate']:.4f} MRR@20 {batched['mrr']:.4f}, "
          f"dense_metrics HR@20 {reference['hit_rate']:.4f} MRR@20 {reference['mrr']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
