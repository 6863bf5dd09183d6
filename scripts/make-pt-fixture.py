#!/usr/bin/python3
"""Writes the PyTorch fixtures of test/engine/weights-pt.test.ts (needs python3-torch, python3-yaml).

A reduced-width YOLOv5n (yolov5n.yaml with width_multiple 0.125, nc 80) is defined here from its
architecture (Conv, Bottleneck, C3, SPPF from bench/reference/yolov5_torch.py; Concat, Detect,
DetectionModel here; named and nested as Ultralytics names them, under the modules models.common and models.yolo so that pickles name the
same classes an Ultralytics checkpoint names), given seeded weights and BatchNorm statistics, and
saved twice:
  yolov5n-w0125.pt     an Ultralytics-style checkpoint: {'model': DetectionModel.half(), 'ema': None, ...}
  yolov5n-w0125-sd.pt  the plain state dict (float32 values of the same half-rounded weights)
plus outputs.bin/fixture.json: the eval-mode forward of the model (its weights rounded to fp16,
computed in float32) on a fixed input, raw per level and decoded.

Run: /usr/bin/python3 scripts/make-pt-fixture.py [OUT_DIR]   (default test/fixtures/pt)
"""
import json, math, os, sys, types
import torch
import torch.nn as nn
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# Conv, Bottleneck, C3, SPPF: the repository's one PyTorch YOLOv5 definition
sys.path.insert(0, os.path.join(HERE, '..', 'bench', 'reference'))
from yolov5_torch import C3, SPPF, Bottleneck, Conv, make_divisible  # noqa: E402
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '..', 'test', 'fixtures', 'pt')
CFG = os.path.join(HERE, '..', 'worker', 'engine', 'model', 'cfg', 'yolov5n.yaml')
WIDTH = 0.125
H, W = 64, 96


class Concat(nn.Module):
    def __init__(self, d=1):
        super().__init__()
        self.d = d

    def forward(self, x):
        return torch.cat(x, self.d)


class Detect(nn.Module):
    def __init__(self, nc, anchors, ch):
        super().__init__()
        self.nc, self.no, self.nl, self.na = nc, nc + 5, len(anchors), len(anchors[0]) // 2
        self.register_buffer('anchors', torch.tensor(anchors).float().view(self.nl, -1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.stride = None

    def forward(self, x):
        raw, z = [], []
        for i in range(self.nl):
            y = self.m[i](x[i])
            bs, _, ny, nx = y.shape
            y = y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(y)
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32), torch.arange(nx, dtype=torch.float32), indexing='ij')
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2) - 0.5
            anchor_grid = (self.anchors[i] * self.stride[i]).view(1, self.na, 1, 1, 2)
            xy, wh, conf = y.sigmoid().split((2, 2, self.nc + 1), 4)
            z.append(torch.cat(((xy * 2 + grid) * self.stride[i], (wh * 2) ** 2 * anchor_grid, conf), 4).view(bs, -1, self.no))
        return torch.cat(z, 1), raw


class DetectionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.yaml = cfg
        self.model, self.save = parse_model(cfg, [3])
        m = self.model[-1]
        m.stride = torch.tensor([8.0, 16.0, 32.0])
        m.anchors /= m.stride.view(-1, 1, 1)
        self.stride = m.stride
        self.names = [f'class{i}' for i in range(cfg['nc'])]

    def forward(self, x):
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x


def parse_model(d, ch):
    anchors, nc, gd, gw = d['anchors'], d['nc'], d['depth_multiple'], d['width_multiple']
    no = (len(anchors[0]) // 2) * (nc + 5)
    layers, save, c2 = [], [], ch[-1]
    for i, (f, n, m, args) in enumerate(d['backbone'] + d['head']):
        args = [nc if a == 'nc' else anchors if a == 'anchors' else None if a == 'None' else a for a in args]
        n = max(round(n * gd), 1) if n > 1 else n
        if m in ('Conv', 'C3', 'SPPF'):
            c1, c2 = ch[f], args[0]
            if c2 != no:
                c2 = make_divisible(c2 * gw, 8)
            args = [c1, c2, *args[1:]]
            if m == 'C3':
                args.insert(2, n)
                n = 1
            cls = {'Conv': Conv, 'C3': C3, 'SPPF': SPPF}[m]
        elif m == 'nn.Upsample':
            cls = nn.Upsample
        elif m == 'Concat':
            c2 = sum(ch[x] for x in f)
            cls = Concat
        elif m == 'Detect':
            args.append([ch[x] for x in f])
            cls = Detect
        else:
            raise ValueError(m)
        mod = nn.Sequential(*(cls(*args) for _ in range(n))) if n > 1 else cls(*args)
        mod.i, mod.f = i, f
        save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(mod)
        if i == 0:
            ch = []
        ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


# pickles name these classes as an Ultralytics checkpoint does
for modname, classes in (('models.common', (Conv, Bottleneck, C3, SPPF, Concat)), ('models.yolo', (Detect, DetectionModel))):
    mod = types.ModuleType(modname)
    for c in classes:
        c.__module__ = modname
        setattr(mod, c.__name__, c)
    sys.modules[modname] = mod
sys.modules['models'] = types.ModuleType('models')


def fixed_input():
    """x[i] = ((i * 7919) mod 1000) / 1000 over the flat NCHW index, as the test computes it."""
    i = torch.arange(3 * H * W, dtype=torch.int64)
    return (((i * 7919) % 1000).float() / 1000).view(1, 3, H, W)


def main():
    torch.manual_seed(0)
    with open(CFG) as f:
        cfg = yaml.safe_load(f)
    cfg['width_multiple'] = WIDTH
    model = DetectionModel(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.num_batches_tracked.fill_(123)
    model.eval()
    half = model.half()
    os.makedirs(OUT, exist_ok=True)
    ckpt = {'epoch': -1, 'best_fitness': None, 'model': half, 'ema': None, 'updates': None, 'optimizer': None,
            'opt': {'imgsz': 640, 'weights': '', 'cfg': 'yolov5n.yaml'}, 'date': None}
    torch.save(ckpt, os.path.join(OUT, 'yolov5n-w0125.pt'))
    model = model.float()  # the weights keep their fp16 rounding
    sd = model.state_dict()
    torch.save(sd, os.path.join(OUT, 'yolov5n-w0125-sd.pt'))
    with torch.no_grad():
        z, raw = model(fixed_input())
    flat = torch.cat([t.reshape(-1) for t in raw] + [z.reshape(-1)])
    with open(os.path.join(OUT, 'outputs.bin'), 'wb') as f:
        f.write(flat.numpy().astype('<f4').tobytes())
    manifest = {
        'torch': torch.__version__, 'cfg': 'yolov5n.yaml', 'width_multiple': WIDTH, 'nc': cfg['nc'], 'input': [1, 3, H, W],
        'raw': [list(t.shape) for t in raw], 'decoded': list(z.shape), 'state_dict_items': len(sd),
        'num_batches_tracked': sum(1 for k in sd if k.endswith('num_batches_tracked')),
        'parameters': sum(p.numel() for p in model.parameters()),
    }
    with open(os.path.join(OUT, 'fixture.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest))


if __name__ == '__main__':
    main()
