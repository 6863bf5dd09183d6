"""PyTorch reference for bench:train: the same YOLOv5 training iteration timed in PyTorch.

Builds the model from the project's own architecture yaml (worker/engine/model/cfg), trains it
on uniform-noise images at batch B and size S with SGD-Nesterov (momentum 0.937, weight decay
5e-4, as hyp.scratch-low), BatchNorm in training mode, and prints one JSON line with images/s.

The loss is a stand-in, not YOLOv5's ComputeLoss: squared error of the sigmoid of every output
against random targets. It touches every output but costs less than the real loss, so this
reference is, if anything, faster than PyTorch training YOLOv5 for real.

The building blocks here (make_divisible, Conv, Bottleneck, C3, SPPF, Detect's output layout) are
the one PyTorch YOLOv5 definition of the repository: scripts/gpu-check/yolov5_gpu.py and
scripts/make-pt-fixture.py import them from this file (yaml is imported only where a yaml is read).

  python3 bench/reference/yolov5_torch.py --cfg yolov5n --batch 16 --img 320 --steps 8 --threads 2
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


def make_divisible(x, d=8):
    return int(math.ceil(x / d) * d)


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1, self.cv2 = Conv(c1, c_, 1), Conv(c_, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1, self.cv2, self.cv3 = Conv(c1, c_), Conv(c1, c_), Conv(2 * c_, c2)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_), Conv(c_ * 4, c2)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Detect(nn.Module):
    def __init__(self, nc, na, chs):
        super().__init__()
        self.no, self.na = nc + 5, na
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * na, 1) for c in chs)

    def forward(self, xs):
        out = []
        for i, x in enumerate(xs):
            b, _, ny, nx = x.shape
            out.append(self.m[i](x).view(b, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        return out


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        import yaml  # here, not at the top: the GPU machine's Python imports the blocks without PyYAML
        d = yaml.safe_load(open(cfg))
        gd, gw, nc = d['depth_multiple'], d['width_multiple'], d['nc']
        na = len(d['anchors'][0]) // 2
        layers, chs, self.froms = [], [3], []
        for f, n, m, args in d['backbone'] + d['head']:
            n = max(round(n * gd), 1) if n > 1 else n
            if m in ('Conv', 'C3', 'SPPF'):
                c1, c2 = chs[f], make_divisible(args[0] * gw)
                if m == 'Conv':
                    mod = Conv(c1, c2, *args[1:])
                elif m == 'C3':
                    mod = C3(c1, c2, n, *args[1:])
                else:
                    mod = SPPF(c1, c2, *args[1:])
            elif m == 'nn.Upsample':
                mod, c2 = nn.Upsample(scale_factor=2, mode='nearest'), chs[f]
            elif m == 'Concat':
                mod, c2 = None, sum(chs[x] for x in f)
            elif m == 'Detect':
                mod, c2 = Detect(nc, na, [chs[x] for x in f]), None
            else:
                raise ValueError(f'unknown module {m}')
            layers.append(mod)
            self.froms.append(f)
            chs = chs + [c2] if len(layers) > 1 else [c2]
        self.layers = nn.ModuleList(m if m is not None else nn.Identity() for m in layers)
        self.kinds = [type(m).__name__ if m is not None else 'Concat' for m in layers]

    def forward(self, x):
        ys = []
        for f, m, kind in zip(self.froms, self.layers, self.kinds):
            if kind == 'Concat':
                x = torch.cat([ys[j] if j != -1 else x for j in f], 1)
            elif kind == 'Detect':
                x = m([ys[j] for j in f])
            else:
                x = m(x if f == -1 else ys[f])
            ys.append(x)
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cfg', default='yolov5n')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--img', type=int, default=320)
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(os.path.join(ROOT, 'worker', 'engine', 'model', 'cfg', f'{a.cfg}.yaml')).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True, weight_decay=5e-4)
    x = torch.rand(a.batch, 3, a.img, a.img)
    with torch.no_grad():
        targets = [torch.rand_like(p) for p in model(x)]
    times = []
    for i in range(a.steps + 1):
        t0 = time.perf_counter()
        out = model(x)
        loss = sum(((p.sigmoid() - t) ** 2).mean() for p, t in zip(out, targets))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i > 0:  # the first iteration is warm-up
            times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    print(json.dumps({
        'images_per_s': a.batch / mean, 'step_ms': [t * 1000 for t in times], 'threads': torch.get_num_threads(),
        'parameters': sum(p.numel() for p in model.parameters()), 'torch': torch.__version__,
        'mkldnn': torch.backends.mkldnn.is_available(), 'batch': a.batch, 'img': a.img,
    }))


if __name__ == '__main__':
    main()
