"""A numpy port of HigherHRNet's lib/core/group.py (HeatmapParser) for one image, used to make the
grouping fixtures. It follows the official code step by step; torch is replaced by numpy:

- NMS: 2-D max pool (kernel k, stride 1, padding p, -inf padding, NaN propagates) and equality;
- top-k: a stable sort on -value, so equal values come out lowest flat index first (torch.topk
  leaves that order unspecified; the C++ parser uses the same rule);
- matching uses python `munkres` 1.1.4 (pinned: munkres >= 2 is a different algorithm and breaks
  ties differently; 1.0.x scans for zeros differently too).

Inputs: det (J, H, W) float32, tag (J, H, W, T) float32. Output: (persons (P, J, 3 + T) float32,
scores list of float32), exactly what `HeatmapParser.parse` returns for batch element 0.
"""
import numpy as np
from munkres import Munkres, __version__ as _munkres_version

COCO_JOINT_ORDER = [i - 1 for i in [1, 2, 3, 4, 5, 6, 7, 12, 13, 8, 9, 10, 11, 14, 15, 16, 17]]

if not _munkres_version.startswith("1.1."):
    raise ImportError(f"reference_group.py needs munkres 1.1.x (pip install munkres==1.1.4), found {_munkres_version}")


class Params:
    def __init__(self, num_joints=17, max_num_people=30, detection_threshold=0.1, tag_threshold=1.0,
                 use_detection_val=True, ignore_too_much=False, joint_order=None, nms_kernel=5, nms_padding=2):
        self.num_joints = num_joints
        self.max_num_people = max_num_people
        self.detection_threshold = detection_threshold
        self.tag_threshold = tag_threshold
        self.use_detection_val = use_detection_val
        self.ignore_too_much = ignore_too_much
        self.joint_order = list(joint_order) if joint_order is not None else (
            COCO_JOINT_ORDER if num_joints == 17 else list(range(num_joints)))
        self.nms_kernel = nms_kernel
        self.nms_padding = nms_padding


def max_pool_same(det, k, p):
    J, H, W = det.shape
    padded = np.full((J, H + 2 * p, W + 2 * p), -np.inf, dtype=det.dtype)
    padded[:, p:p + H, p:p + W] = det
    out = np.full((J, H + 2 * p - k + 1, W + 2 * p - k + 1), -np.inf, dtype=det.dtype)
    for dy in range(k):
        for dx in range(k):
            out = np.maximum(out, padded[:, dy:dy + out.shape[1], dx:dx + out.shape[2]])
    return out


def top_k(det, tag, params):
    maxm = max_pool_same(det, params.nms_kernel, params.nms_padding)
    det_nms = det * (maxm == det).astype(np.float32)
    J, H, W = det.shape
    flat = det_nms.reshape(J, H * W)
    ind = np.argsort(-flat, axis=1, kind="stable")[:, :params.max_num_people]
    val_k = np.take_along_axis(flat, ind, axis=1)
    tagf = tag.reshape(J, H * W, -1)
    tag_k = np.stack([np.take_along_axis(tagf[:, :, i], ind, axis=1) for i in range(tagf.shape[2])], axis=2)
    loc_k = np.stack((ind % W, ind // W), axis=2)
    return tag_k, loc_k, val_k


def match_by_tag(tag_k, loc_k, val_k, params):
    default_ = np.zeros((params.num_joints, 3 + tag_k.shape[2]))
    joint_dict = {}
    tag_dict = {}
    for i in range(params.num_joints):
        idx = params.joint_order[i]
        tags = tag_k[idx]
        joints = np.concatenate((loc_k[idx], val_k[idx, :, None], tags), 1)
        mask = joints[:, 2] > params.detection_threshold
        tags = tags[mask]
        joints = joints[mask]
        if joints.shape[0] == 0:
            continue
        if i == 0 or len(joint_dict) == 0:
            for tag, joint in zip(tags, joints):
                key = tag[0]
                joint_dict.setdefault(key, np.copy(default_))[idx] = joint
                tag_dict[key] = [tag]
        else:
            grouped_keys = list(joint_dict.keys())[:params.max_num_people]
            grouped_tags = [np.mean(tag_dict[i], axis=0) for i in grouped_keys]
            if params.ignore_too_much and len(grouped_keys) == params.max_num_people:
                continue
            diff = joints[:, None, 3:] - np.array(grouped_tags)[None, :, :]
            diff_normed = np.linalg.norm(diff, ord=2, axis=2)
            diff_saved = np.copy(diff_normed)
            if params.use_detection_val:
                diff_normed = np.round(diff_normed) * 100 - joints[:, 2:3]
            num_added = diff.shape[0]
            num_grouped = diff.shape[1]
            if num_added > num_grouped:
                diff_normed = np.concatenate(
                    (diff_normed, np.zeros((num_added, num_added - num_grouped)) + 1e10), axis=1)
            pairs = np.array(Munkres().compute(diff_normed)).astype(np.int32)
            for row, col in pairs:
                if row < num_added and col < num_grouped and diff_saved[row][col] < params.tag_threshold:
                    key = grouped_keys[col]
                    joint_dict[key][idx] = joints[row]
                    tag_dict[key].append(tags[row])
                else:
                    key = tags[row][0]
                    joint_dict.setdefault(key, np.copy(default_))[idx] = joints[row]
                    tag_dict[key] = [tags[row]]
    return np.array([joint_dict[i] for i in joint_dict]).astype(np.float32)


def adjust(people, det):
    for person in people:
        for joint_id, joint in enumerate(person):
            if joint[2] > 0:
                y, x = joint[0:2]  # the official names are swapped: y is the column, x the row
                xx, yy = int(x), int(y)
                tmp = det[joint_id]
                if tmp[xx, min(yy + 1, tmp.shape[1] - 1)] > tmp[xx, max(yy - 1, 0)]:
                    y += 0.25
                else:
                    y -= 0.25
                if tmp[min(xx + 1, tmp.shape[0] - 1), yy] > tmp[max(0, xx - 1), yy]:
                    x += 0.25
                else:
                    x -= 0.25
                person[joint_id, 0:2] = (y + 0.5, x + 0.5)
    return people


def refine(det, tag, keypoints):
    if len(tag.shape) == 3:
        tag = tag[:, :, :, None]
    tags = []
    for i in range(keypoints.shape[0]):
        if keypoints[i, 2] > 0:
            x, y = keypoints[i][:2].astype(np.int32)
            tags.append(tag[i, y, x])
    prev_tag = np.mean(tags, axis=0)
    ans = []
    for i in range(keypoints.shape[0]):
        tmp = det[i, :, :]
        tt = (((tag[i, :, :] - prev_tag[None, None, :]) ** 2).sum(axis=2) ** 0.5)
        tmp2 = tmp - np.round(tt)
        y, x = np.unravel_index(np.argmax(tmp2), tmp.shape)
        xx, yy = x, y
        val = tmp[y, x]
        x = x + 0.5
        y = y + 0.5
        if tmp[yy, min(xx + 1, tmp.shape[1] - 1)] > tmp[yy, max(xx - 1, 0)]:
            x += 0.25
        else:
            x -= 0.25
        if tmp[min(yy + 1, tmp.shape[0] - 1), xx] > tmp[max(0, yy - 1), xx]:
            y += 0.25
        else:
            y -= 0.25
        ans.append((x, y, val))
    ans = np.array(ans)
    for i in range(det.shape[0]):
        if ans[i, 2] > 0 and keypoints[i, 2] == 0:
            keypoints[i, :2] = ans[i, :2]
            keypoints[i, 2] = ans[i, 2]
    return keypoints


def parse(det, tag, params, do_adjust=True, do_refine=True):
    """det (J, H, W) float32, tag (J, H, W, T) float32 -> (persons (P, J, 3+T) float32, scores)."""
    det = np.asarray(det, dtype=np.float32)
    tag = np.asarray(tag, dtype=np.float32)
    tag_k, loc_k, val_k = top_k(det, tag, params)
    people = match_by_tag(tag_k, loc_k, val_k, params)
    if do_adjust:
        people = adjust(people, det)
    scores = [p[:, 2].mean() for p in people]
    if do_refine:
        for i in range(len(people)):
            people[i] = refine(det, tag, people[i])
    if len(people) == 0:
        people = np.zeros((0, det.shape[0], 3 + tag.shape[3]), np.float32)
    return people, scores
