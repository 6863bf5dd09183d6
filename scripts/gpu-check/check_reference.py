"""Checks yolov5_gpu.py's model and loss against the project's reference vectors (Ultralytics YOLOv5
at a fixed commit, /work/shared/reference or --ref): parameter counts, and ComputeLoss's box,
objectness and class terms on the reference predictions and targets. Runs on a CPU; prints one
JSON line and exits 1 on a mismatch. test/deploy/gpu-check.test.ts runs it where torch imports.

  python3 scripts/gpu-check/check_reference.py [--ref DIR]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yolov5_gpu as y  # noqa: E402


def load(ref, entry):
    raw = open(os.path.join(ref, entry['file']), 'rb').read()
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(entry['shape']).clone()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ref', default='/work/shared/reference')
    a = ap.parse_args()
    v = json.load(open(os.path.join(a.ref, 'vectors.json')))
    fwd = v['forward']
    nc = fwd['model']['nc']
    problems, out = [], {}
    model = y.YOLOv5('yolov5n', nc)
    out['params_yolov5n_nc%d' % nc] = sum(p.numel() for p in model.parameters())
    if out['params_yolov5n_nc%d' % nc] != fwd['model']['param_count']:
        problems.append(f"yolov5n nc={nc}: {out['params_yolov5n_nc%d' % nc]} parameters, reference {fwd['model']['param_count']}")
    anchors = torch.tensor(fwd['model']['anchors_grid_units'], dtype=torch.float32)
    if not torch.allclose(model.detect.anchors, anchors):
        problems.append('anchors in grid units differ from the reference')
    by_file = {e['file']: e for e in fwd['train']['raw']}
    hyp = v['loss']['hyp']
    for case in v['loss']['cases']:
        preds = [load(a.ref, by_file[p] if isinstance(p, str) else p) for p in case['predictions']]
        targets = load(a.ref, case['targets'])
        loss = y.YoloLoss(model, hyp['imgsz'], box=0.05, obj=1.0, cls=0.5, anchor_t=hyp['anchor_t'])
        if abs(loss.box - hyp['box']) > 1e-9 or abs(loss.obj - hyp['obj']) > 1e-9 or abs(loss.cls - hyp['cls']) > 1e-9:
            problems.append(f"gains {loss.box}, {loss.obj}, {loss.cls} differ from the reference {hyp['box']}, {hyp['obj']}, {hyp['cls']}")
        loss(preds, targets)
        got = {k: float(t) for k, t in zip(('lbox', 'lobj', 'lcls'), loss.items)}
        exp = case['expected']
        for k, g in got.items():
            if abs(g - exp[k]) > 1e-5 * max(1.0, abs(exp[k])):
                problems.append(f"{case['name']}: {k} {g:.8g}, reference {exp[k]:.8g}")
        out[case['name']] = got
    print(json.dumps({'ok': not problems, 'problems': problems, **out}))
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
