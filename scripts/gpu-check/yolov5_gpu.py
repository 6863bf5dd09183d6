"""PyTorch YOLOv5 training throughput on one GPU, beside Flotilla's bench:train (scripts/gpu-check/run.sh).

Self-contained: no Ultralytics code and no network on the GPU machine, so the model is written here
(its blocks imported from bench/reference/yolov5_torch.py, which prepare.mjs carries too)
from the YOLOv5 v6+ architecture (the yolov5n/s/m/l/x yaml rows as Python data: Conv+BN+SiLU,
C3, SPPF, nearest upsample, Concat, Detect with the usual bias init) and the loss from
ComputeLoss's definition (anchor matching with anchor_t 4 and the two neighbour cells, CIoU box
loss, BCE objectness with the IoU as target, BCE classes, level balance 4/1/0.4, gains of
hyp.scratch-low scaled by 3/nl, nc/80 and (img/640)^2). One iteration is what train.py runs per
batch: forward, loss, backward (GradScaler under AMP), unscale, clip the gradient norm at 10,
SGD-Nesterov (momentum 0.937, weight decay 5e-4 on conv weights only), and the EMA update.
Data loading is not timed: batches are made on the GPU beforehand (uniform noise, 1-6 random
boxes an image), as bench:train does on its side.

  python3 scripts/gpu-check/yolov5_gpu.py --out torch.json [--configs yolov5n:16:320,yolov5s:64:640] [--precisions fp32,amp]
  python3 scripts/gpu-check/yolov5_gpu.py --device cpu --configs yolov5n:2:64 --steps 1 --warmup 1   # a check on a CPU
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# the building blocks (Conv, C3, SPPF, Detect's layout) are the repository's one PyTorch YOLOv5
# definition; prepare.mjs carries that file to the GPU machine at the same path
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'bench', 'reference'))
import yolov5_torch as ref  # noqa: E402
from yolov5_torch import C3, SPPF, Conv, make_divisible  # noqa: E402

# ---- architecture (YOLOv5 v6+): [from, number, module, args]
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
BACKBONE = [
    [-1, 1, 'Conv', [64, 6, 2, 2]], [-1, 1, 'Conv', [128, 3, 2]], [-1, 3, 'C3', [128]],
    [-1, 1, 'Conv', [256, 3, 2]], [-1, 6, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 2]],
    [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [1024, 3, 2]], [-1, 3, 'C3', [1024]], [-1, 1, 'SPPF', [1024, 5]],
]
HEAD = [
    [-1, 1, 'Conv', [512, 1, 1]], [-1, 1, 'Upsample', []], [[-1, 6], 1, 'Concat', []], [-1, 3, 'C3', [512, False]],
    [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, 'Upsample', []], [[-1, 4], 1, 'Concat', []], [-1, 3, 'C3', [256, False]],
    [-1, 1, 'Conv', [256, 3, 2]], [[-1, 14], 1, 'Concat', []], [-1, 3, 'C3', [512, False]],
    [-1, 1, 'Conv', [512, 3, 2]], [[-1, 10], 1, 'Concat', []], [-1, 3, 'C3', [1024, False]],
    [[17, 20, 23], 1, 'Detect', []],
]
SCALES = {'yolov5n': (0.33, 0.25), 'yolov5s': (0.33, 0.50), 'yolov5m': (0.67, 0.75), 'yolov5l': (1.0, 1.0), 'yolov5x': (1.33, 1.25)}
STRIDES = (8.0, 16.0, 32.0)


class Detect(ref.Detect):
    """The reference's Detect with what training needs: nc, nl, anchors, the usual bias init."""

    def __init__(self, nc, chs):
        super().__init__(nc, len(ANCHORS[0]) // 2, chs)
        self.nc, self.nl = nc, len(ANCHORS)
        # anchors in grid units of their level
        a = torch.tensor(ANCHORS, dtype=torch.float32).view(self.nl, self.na, 2)
        self.register_buffer('anchors', a / torch.tensor(STRIDES).view(-1, 1, 1))
        for mi, s in zip(self.m, STRIDES):  # the usual prior: ~8 objects per 640 image, 0.6 class probability
            b = mi.bias.view(self.na, -1).detach().clone()
            b[:, 4] += math.log(8 / (640 / s) ** 2)
            b[:, 5:] += math.log(0.6 / (nc - 0.99999))
            mi.bias = nn.Parameter(b.view(-1), requires_grad=True)


class YOLOv5(nn.Module):
    def __init__(self, name='yolov5n', nc=80):
        super().__init__()
        gd, gw = SCALES[name]
        layers, chs, self.froms, self.kinds = [], [3], [], []
        for i, (f, n, m, args) in enumerate(BACKBONE + HEAD):
            n = max(round(n * gd), 1) if n > 1 else n
            if m in ('Conv', 'C3', 'SPPF'):
                c1, c2 = chs[f], make_divisible(args[0] * gw)
                mod = Conv(c1, c2, *args[1:]) if m == 'Conv' else C3(c1, c2, n, *args[1:]) if m == 'C3' else SPPF(c1, c2, *args[1:])
            elif m == 'Upsample':
                mod, c2 = nn.Upsample(scale_factor=2, mode='nearest'), chs[f]
            elif m == 'Concat':
                mod, c2 = nn.Identity(), sum(chs[x] for x in f)
            else:
                mod, c2 = Detect(nc, [chs[x] for x in f]), 0
            layers.append(mod)
            self.froms.append(f)
            self.kinds.append(m)
            chs = [c2] if i == 0 else chs + [c2]
        self.model = nn.ModuleList(layers)
        self.nc = nc

    @property
    def detect(self):
        return self.model[-1]

    def forward(self, x):
        ys = []
        for f, m, kind in zip(self.froms, self.model, self.kinds):
            if kind == 'Concat':
                x = torch.cat([x if j == -1 else ys[j] for j in f], 1)
            elif kind == 'Detect':
                x = m([ys[j] for j in f])
            else:
                x = m(x if f == -1 else ys[f])
            ys.append(x)
        return x


# ---- loss (ComputeLoss of YOLOv5, from its definition)
def bbox_ciou(b1, b2, eps=1e-7):
    """CIoU of boxes (x, y, w, h), row by row."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = b1.chunk(4, -1), b2.chunk(4, -1)
    b1x1, b1x2, b1y1, b1y2 = x1 - w1 / 2, x1 + w1 / 2, y1 - h1 / 2, y1 + h1 / 2
    b2x1, b2x2, b2y1, b2y2 = x2 - w2 / 2, x2 + w2 / 2, y2 - h2 / 2, y2 + h2 / 2
    inter = (torch.min(b1x2, b2x2) - torch.max(b1x1, b2x1)).clamp(0) * (torch.min(b1y2, b2y2) - torch.max(b1y1, b2y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1x2, b2x2) - torch.min(b1x1, b2x1)
    ch = torch.max(b1y2, b2y2) - torch.min(b1y1, b2y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) ** 2 + (b2y1 + b2y2 - b1y1 - b1y2) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps))).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return (iou - (rho2 / c2 + v * alpha)).squeeze(-1)


class YoloLoss:
    def __init__(self, model, img, box=0.05, obj=1.0, cls=0.5, anchor_t=4.0):
        det = model.detect
        self.na, self.nc, self.nl, self.anchors = det.na, det.nc, det.nl, det.anchors
        self.box = box * 3 / self.nl
        self.cls = cls * self.nc / 80 * 3 / self.nl
        self.obj = obj * (img / 640) ** 2 * 3 / self.nl
        self.balance = [4.0, 1.0, 0.4]
        self.anchor_t = anchor_t
        self.bce = nn.BCEWithLogitsLoss()

    def __call__(self, p, targets):
        dev = targets.device
        lcls, lbox, lobj = torch.zeros(1, device=dev), torch.zeros(1, device=dev), torch.zeros(1, device=dev)
        tcls, tbox, indices, anch = self.build_targets(p, targets)
        for i, pi in enumerate(p):
            b, a, gj, gi = indices[i]
            tobj = torch.zeros(pi.shape[:4], dtype=pi.dtype, device=dev)
            if b.shape[0]:
                pxy, pwh, _, pcls = pi[b, a, gj, gi].split((2, 2, 1, self.nc), 1)
                pxy = pxy.sigmoid() * 2 - 0.5
                pwh = (pwh.sigmoid() * 2) ** 2 * anch[i]
                iou = bbox_ciou(torch.cat((pxy, pwh), 1), tbox[i])
                lbox += (1.0 - iou).mean()
                tobj[b, a, gj, gi] = iou.detach().clamp(0).type(tobj.dtype)
                if self.nc > 1:
                    t = torch.zeros_like(pcls)
                    t[range(b.shape[0]), tcls[i]] = 1.0
                    lcls += self.bce(pcls, t)
            lobj += self.bce(pi[..., 4], tobj) * self.balance[i]
        bs = p[0].shape[0]
        self.items = (lbox * self.box, lobj * self.obj, lcls * self.cls)  # what train.py logs
        return (lbox * self.box + lobj * self.obj + lcls * self.cls) * bs

    def build_targets(self, p, targets):
        na, nt = self.na, targets.shape[0]
        dev = targets.device
        tcls, tbox, indices, anch = [], [], [], []
        gain = torch.ones(7, device=dev)
        ai = torch.arange(na, device=dev).float().view(na, 1).repeat(1, nt)
        targets = torch.cat((targets.repeat(na, 1, 1), ai[..., None]), 2)  # (na, nt, 7): image, class, x, y, w, h, anchor
        g = 0.5
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], device=dev).float() * g
        for i in range(self.nl):
            anchors, shape = self.anchors[i], p[i].shape
            gain[2:6] = torch.tensor(shape)[[3, 2, 3, 2]]
            t = targets * gain
            if nt:
                r = t[..., 4:6] / anchors[:, None]
                j = torch.max(r, 1 / r).max(2)[0] < self.anchor_t
                t = t[j]
                gxy = t[:, 2:4]
                gxi = gain[[2, 3]] - gxy
                j, k = ((gxy % 1 < g) & (gxy > 1)).T
                l, m = ((gxi % 1 < g) & (gxi > 1)).T
                j = torch.stack((torch.ones_like(j), j, k, l, m))
                t = t.repeat((5, 1, 1))[j]
                offsets = (torch.zeros_like(gxy)[None] + off[:, None])[j]
            else:
                t = targets[0]
                offsets = 0
            bc, gxy, gwh, a = t.chunk(4, 1) if t.shape[1] == 8 else (t[:, 0:2], t[:, 2:4], t[:, 4:6], t[:, 6:7])
            a, (b, c) = a.long().view(-1), bc.long().T
            gij = (gxy - offsets).long()
            gi, gj = gij.T
            gj, gi = gj.clamp_(0, shape[2] - 1), gi.clamp_(0, shape[3] - 1)
            indices.append((b, a, gj, gi))
            tbox.append(torch.cat((gxy - torch.stack((gi, gj), 1), gwh), 1))
            anch.append(anchors[a])
            tcls.append(c)
        return tcls, tbox, indices, anch


# ---- the optimizer and EMA of train.py
def sgd(model, lr=0.01, momentum=0.937, decay=5e-4):
    g_bn, g_w, g_b = [], [], []
    for mod in model.modules():
        for name, prm in mod.named_parameters(recurse=False):
            if name == 'bias':
                g_b.append(prm)
            elif isinstance(mod, nn.BatchNorm2d):
                g_bn.append(prm)
            else:
                g_w.append(prm)
    opt = torch.optim.SGD(g_b, lr=lr, momentum=momentum, nesterov=True)
    opt.add_param_group({'params': g_w, 'weight_decay': decay})
    opt.add_param_group({'params': g_bn, 'weight_decay': 0.0})
    return opt


class EMA:
    def __init__(self, model, decay=0.9999, tau=2000):
        import copy
        self.ema = copy.deepcopy(model).eval()
        for prm in self.ema.parameters():
            prm.requires_grad_(False)
        self.updates, self.decay, self.tau = 0, decay, tau

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v *= d
                v += (1 - d) * msd[k].detach()


def grad_scaler(enabled):
    if hasattr(torch, 'amp') and hasattr(torch.amp, 'GradScaler'):
        return torch.amp.GradScaler('cuda', enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def synthetic_batch(batch, img, nc, device, gen):
    images = torch.rand(batch, 3, img, img, device=device, generator=gen)
    rows = []
    for i in range(batch):
        n = 1 + int(torch.randint(0, 6, (1,), generator=gen))
        for _ in range(n):
            w, h = 0.05 + 0.4 * float(torch.rand(1, generator=gen)), 0.05 + 0.4 * float(torch.rand(1, generator=gen))
            x, y = w / 2 + float(torch.rand(1, generator=gen)) * (1 - w), h / 2 + float(torch.rand(1, generator=gen)) * (1 - h)
            rows.append([i, int(torch.randint(0, nc, (1,), generator=gen)), x, y, w, h])
    return images, torch.tensor(rows, dtype=torch.float32, device=device)


def run_config(name, batch, img, precision, device, steps, warmup, nc=80):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = YOLOv5(name, nc).to(device).train()
    params = sum(prm.numel() for prm in model.parameters())
    loss_fn = YoloLoss(model, img)
    opt = sgd(model)
    ema = EMA(model)
    amp = precision == 'amp'
    if precision == 'fp32':  # strict FP32, as Flotilla's cuda backend runs by default
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    else:  # PyTorch's defaults: TF32 convolutions (cuDNN), FP32 matmul
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = True
    scaler = grad_scaler(amp and device.type == 'cuda')
    batches = [synthetic_batch(batch, img, nc, device, gen) for _ in range(2)]
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times, losses = [], []
    for it in range(warmup + steps):
        images, targets = batches[it % 2]
        sync()
        t0 = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.float16 if device.type == 'cuda' else torch.bfloat16, enabled=amp):
            pred = model(images)
            loss = loss_fn([p.float() for p in pred] if amp else pred, targets)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        ema.update(model)
        sync()
        if it >= warmup:
            times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    mean = sum(times) / len(times)
    out = {
        'model': name, 'batch': batch, 'img': img, 'precision': precision, 'parameters': params,
        'images_per_s': batch / mean, 'step_ms': [t * 1000 for t in times], 'loss_first': losses[0], 'loss_last': losses[-1],
        'finite': all(math.isfinite(x) for x in losses),
    }
    if device.type == 'cuda':
        out['peak_mem_mib'] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--configs', default='yolov5n:16:320,yolov5s:16:320,yolov5n:64:640,yolov5s:64:640', help='MODEL:BATCH:IMG,...')
    ap.add_argument('--precisions', default='fp32,amp', help='fp32 (TF32 off), tf32 (PyTorch default convs), amp')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--out', default=None, help='JSON file (default: stdout only)')
    a = ap.parse_args()
    device = torch.device(a.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('yolov5_gpu.py: torch.cuda.is_available() is False')
        torch.backends.cudnn.benchmark = True
    info = {
        'torch': torch.__version__, 'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version() if device.type == 'cuda' else None,
        'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu', 'steps': a.steps, 'warmup': a.warmup,
        'note': 'self-contained YOLOv5 (v6+ architecture, ComputeLoss, SGD-Nesterov, grad clip 10, EMA), synthetic batches made beforehand',
    }
    results = []
    for cfg in a.configs.split(','):
        name, batch, img = cfg.split(':')
        for precision in a.precisions.split(','):
            try:
                r = run_config(name, int(batch), int(img), precision, device, a.steps, a.warmup)
            except Exception as e:  # an OOM or a missing kernel ends this config, not the run
                r = {'model': name, 'batch': int(batch), 'img': int(img), 'precision': precision, 'error': f'{type(e).__name__}: {e}'[:500]}
                if device.type == 'cuda':
                    torch.cuda.empty_cache()
            print(json.dumps({k: v for k, v in r.items() if k != 'step_ms'}), flush=True)
            results.append(r)
    doc = {'pytorch': info, 'results': results}
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(doc, f, indent=1)


if __name__ == '__main__':
    main()
