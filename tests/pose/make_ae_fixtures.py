#!/usr/bin/python3
"""Golden fixtures for hrnet's associative-embedding loss (ops::ae_loss).

Runs HigherHRNet's official AELoss (lib/core/loss.py, copied below with only the
changes noted there) on small random inputs and writes, per fixture,
tests/fixtures/data/ae_loss_<name>.safetensors holding

    tags   F32 (N, K, H, W)   the tag maps (PyTorch NCHW order)
    joints I64 (N, M, J, 2)   the official joints target: (k*H*W + y*W + x, visible)
    push, pull   F64 (N)      AELoss.forward's per-image outputs
    gpush, gpull F64 (N)      upstream gradients
    gtags  F64 (N, K, H, W)   d sum(push * gpush + pull * gpull) / d tags

The loss runs in float64 on the float32 tags (so the references are exact to ~1e-15);
a float32 run of the same code is checked against it here (1e-5).
metadata: loss_type ('exp' or 'max'), seed.

Run from the repository root with Debian's torch:  /usr/bin/python3 tests/pose/make_ae_fixtures.py
Deterministic: a second run writes byte-identical files.
"""

import os
import sys

import torch
import torch.nn as nn
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_writer  # noqa: E402  (the shared fixture writer)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "data")
torch.set_num_threads(1)



def write_safetensors(filename, tensors, metadata=None):
    safetensors_writer.write_safetensors(os.path.normpath(os.path.join(OUT_DIR, filename)), tensors, metadata)

# --------------------------------------------------------------------------
# Official AELoss (HigherHRNet lib/core/loss.py @ aa23881). Changes:
#  * make_input(torch.zeros(1).float()) -> torch.zeros((), dtype=pred_tag.dtype): upstream returns
#    a (1,)-shaped zero for images with 0 people (and push of 1-person images) but 0-d tensors
#    otherwise; torch.stack of the mix fails, so every per-image value is made 0-d here.
#  * the loss is computed in the dtype of the tags (float64 for the references).
# --------------------------------------------------------------------------

class AELoss(nn.Module):
    def __init__(self, loss_type):
        super().__init__()
        self.loss_type = loss_type

    def singleTagLoss(self, pred_tag, joints):
        """
        associative embedding loss for one image
        """
        tags = []
        pull = 0
        for joints_per_person in joints:
            tmp = []
            for joint in joints_per_person:
                if joint[1] > 0:
                    tmp.append(pred_tag[joint[0]])
            if len(tmp) == 0:
                continue
            tmp = torch.stack(tmp)
            tags.append(torch.mean(tmp, dim=0))
            pull = pull + torch.mean((tmp - tags[-1].expand_as(tmp))**2)

        num_tags = len(tags)
        zero = torch.zeros((), dtype=pred_tag.dtype)
        if num_tags == 0:
            return zero, zero
        elif num_tags == 1:
            return zero, pull / (num_tags)

        tags = torch.stack(tags)

        size = (num_tags, num_tags)
        A = tags.expand(*size)
        B = A.permute(1, 0)

        diff = A - B

        if self.loss_type == 'exp':
            diff = torch.pow(diff, 2)
            push = torch.exp(-diff)
            push = torch.sum(push) - num_tags
        elif self.loss_type == 'max':
            diff = 1 - torch.abs(diff)
            push = torch.clamp(diff, min=0).sum() - num_tags
        else:
            raise ValueError('Unkown ae loss type')

        return push / ((num_tags - 1) * num_tags) * 0.5, \
            pull / (num_tags)

    def forward(self, tags, joints):
        """
        accumulate the tag loss for each image in the batch
        """
        pushes, pulls = [], []
        joints = joints.cpu().data.numpy()
        batch_size = tags.size(0)
        for i in range(batch_size):
            push, pull = self.singleTagLoss(tags[i], joints[i])
            pushes.append(push)
            pulls.append(pull)
        return torch.stack(pushes), torch.stack(pulls)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def person(K, H, W, joints_visible, slots):
    """One person's row as JointsGenerator writes it: visible joints packed into slots 0, 1, ...
    as (k*H*W + y*W + x, 1); the remaining slots (0, 0). joints_visible: list of (k, y, x)."""
    row = torch.zeros(slots, 2, dtype=torch.int64)
    for s, (k, y, x) in enumerate(joints_visible):
        row[s, 0] = k * H * W + y * W + x
        row[s, 1] = 1
    return row


def random_person(K, H, W, slots, p_visible):
    vis = []
    for k in range(K):
        if torch.rand(()) < p_visible:
            vis.append((k, int(torch.randint(H, ())), int(torch.randint(W, ()))))
    return person(K, H, W, vis[:slots], slots)


def small_case():
    """N=5 images, K=4 tag maps 5x6, M=6 people, J=4 slots, covering the special cases."""
    N, K, H, W, M, J = 5, 4, 5, 6, 6, 4
    tags = (torch.randn(N, K, H, W) * 0.7).float()
    joints = torch.zeros(N, M, J, 2, dtype=torch.int64)
    # image 0: 4 people with random visibility; person 2 has no visible joint (skipped)
    for m in (0, 1, 3, 4):
        joints[0, m] = random_person(K, H, W, J, 0.7)
    joints[0, 0] = person(K, H, W, [(0, 1, 2), (2, 4, 5), (3, 0, 0)], J)  # at least one visible
    # invisible entries carry garbage (even out-of-range) indices: they must be ignored
    joints[0, 2, 0] = torch.tensor([10**6, 0])
    joints[0, 2, 1] = torch.tensor([-5, 0])
    # image 1: zero people
    joints[1, 3, 2] = torch.tensor([17, 0])
    # image 2: one person (push = 0)
    joints[2, 4] = person(K, H, W, [(0, 2, 2), (1, 3, 1), (3, 4, 5)], J)
    # image 3: all 6 people; a duplicated index inside person 1, two people sharing a pixel
    for m in range(M):
        joints[3, m] = random_person(K, H, W, J, 0.6)
        if joints[3, m, 0, 1] == 0:
            joints[3, m, 0] = torch.tensor([m * 3 + 1, 1])
    joints[3, 1] = person(K, H, W, [(1, 2, 3), (1, 2, 3), (2, 0, 4)], J)
    joints[3, 2] = person(K, H, W, [(1, 2, 3), (3, 1, 1)], J)
    # image 4: two people, one with a single visible joint (its pull term is 0)
    joints[4, 0] = person(K, H, W, [(2, 3, 3)], J)
    joints[4, 5] = person(K, H, W, [(0, 0, 1), (1, 4, 0), (2, 1, 5), (3, 2, 2)], J)
    return tags, joints


def coco_case():
    """COCO-like sizes: N=2, K=17 tag maps 9x11, M=30 people, J=17 slots."""
    N, K, H, W, M, J = 2, 17, 9, 11, 30, 17
    tags = torch.randn(N, K, H, W).float()
    joints = torch.zeros(N, M, J, 2, dtype=torch.int64)
    for m in range(7):
        joints[0, m] = random_person(K, H, W, J, 0.5)
    for m in range(30):
        joints[1, m] = random_person(K, H, W, J, 0.3)
    return tags, joints


def run(tags, joints, loss_type, gpush, gpull, dtype):
    t = tags.to(dtype).detach().requires_grad_(True)
    flat = t.contiguous().view(t.size(0), -1, 1)  # MultiLossFactory: tags_pred.view(B, -1, 1)
    push, pull = AELoss(loss_type)(flat, joints)
    (push * gpush.to(dtype)).sum().add((pull * gpull.to(dtype)).sum()).backward()
    return push.detach(), pull.detach(), t.grad.detach()


FIXTURES = [
    ("ae_loss_exp", "exp", small_case),
    ("ae_loss_max", "max", small_case),
    ("ae_loss_exp_coco", "exp", coco_case),
]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for seed, (name, loss_type, make) in enumerate(FIXTURES):
        torch.manual_seed(100 + (0 if make is small_case else seed))  # exp and max share inputs
        tags, joints = make()
        N = tags.size(0)
        gpush = torch.randn(N, dtype=torch.float64)
        gpull = torch.randn(N, dtype=torch.float64)
        push, pull, gtags = run(tags, joints, loss_type, gpush, gpull, torch.float64)
        p32, l32, g32 = run(tags, joints, loss_type, gpush, gpull, torch.float32)
        for a, b, what in ((push, p32, "push"), (pull, l32, "pull"), (gtags, g32, "gtags")):
            err = (a - b.double()).abs().max().item()
            assert err < 1e-5, f"{name}: float32 vs float64 {what} differ by {err}"
        print(f"{name}: push {push.tolist()}\n{' ' * len(name)}  pull {pull.tolist()}")
        write_safetensors(f"{name}.safetensors",
                          {"tags": tags, "joints": joints, "push": push, "pull": pull,
                           "gpush": gpush, "gpull": gpull, "gtags": gtags},
                          {"loss_type": loss_type, "seed": 100 + (0 if make is small_case else seed)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
