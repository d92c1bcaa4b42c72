#!/usr/bin/python3
"""Peer benchmark: synlaw's training step against PyTorch's, same architectures, batch and
optimizer, one thread each, run side by side in one invocation.

usage: scripts/bench_torch.py [SYNLAW] [--seconds T] [--batch B]

For every model of the zoo (as `synlaw models` lists it: conv3x3 (padding 1) + ReLU +
max-pool 2 stages, then dense + ReLU layers, then a 10-way head) both sides time a training
step on random inputs: forward, softmax cross-entropy, backward, Adam (lr 1e-4,
betas (0.9, 0.999), decoupled weight decay 1e-4 as AdamW). PyTorch runs with
torch.set_num_threads(1); synlaw with OPENBLAS_NUM_THREADS=1. Prints samples/s for both
and the ratios, against PyTorch with the same optimiser and against PyTorch with plain SGD.
Targets (issue 12): CNNs at least 1.5x PyTorch with Adam; MLPs at least 1.0x even against
PyTorch with plain SGD. Timings are noisy on shared machines: compare ratios from one run."""
import os
import re
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_models(synlaw):
    out = subprocess.run([synlaw, "models"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["model"])
    first_layer = lines[header].split().index("layers")  # columns before it are numbers
    models = {}
    for line in lines[header + 1:]:
        parts = line.split()
        models[parts[0]] = (int(parts[1]), parts[first_layer:])
    return models


def build(layers):
    mods, c, hw, feat = [], 1, 28, None
    for tok in layers:
        m = re.fullmatch(r"conv3x3-(\d+)", tok)
        if m:
            k = int(m.group(1))
            mods += [torch.nn.Conv2d(c, k, 3, padding=1), torch.nn.ReLU()]
            c = k
            continue
        if tok == "pool2":
            mods.append(torch.nn.MaxPool2d(2))
            hw //= 2
            continue
        m = re.fullmatch(r"fc(\d+)", tok)
        if m:
            k = int(m.group(1))
            if feat is None:
                mods.append(torch.nn.Flatten())
                feat = c * hw * hw
            mods.append(torch.nn.Linear(feat, k))
            mods.append(torch.nn.ReLU())
            feat = k
    mods.pop()  # no ReLU after the head
    return torch.nn.Sequential(*mods)


def torch_rate(layers, batch, seconds, conv, sgd=False):
    torch.manual_seed(0)
    net = build(layers)
    if sgd:  # plain SGD: the cheapest optimiser step PyTorch has
        opt = torch.optim.SGD(net.parameters(), lr=1e-4)
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4)
    x = torch.randn(batch, 1, 28, 28) if conv else torch.randn(batch, 784)
    y = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.2:
            step()
            k += 1
        best = max(best, k * batch / (time.perf_counter() - t0))
    return best, sum(p.numel() for p in net.parameters())


def synlaw_rates(synlaw, batch, seconds):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([synlaw, "bench", "--batch", str(batch), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True, env=env).stdout
    rates, machine = {}, ""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0] in MODELS:
            rates[parts[0]] = float(parts[3])
        elif line.startswith("machine: "):
            machine = line
    return rates, machine


def torch_capability():
    """The vector extension PyTorch's own kernels use (ATEN_CPU_CAPABILITY can lower it)."""
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


def main():
    args = sys.argv[1:]
    synlaw = os.path.join(HERE, "..", "build", "synlaw")
    seconds, batch = 2.0, 64
    i = 0
    while i < len(args):
        if args[i] == "--seconds":
            seconds = float(args[i + 1]); i += 2
        elif args[i] == "--batch":
            batch = int(args[i + 1]); i += 2
        else:
            synlaw = args[i]; i += 1
    torch.set_num_threads(1)
    global MODELS
    MODELS = parse_models(synlaw)
    ours, machine = synlaw_rates(synlaw, batch, seconds)
    if machine:
        print("synlaw " + machine)
    print(f"PyTorch {torch.__version__} (mkldnn {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
          f"CPU capability {torch_capability()}), "
          f"one thread; batch {batch}; Adam(W); samples/s, best 0.2 s window of {seconds:g} s")
    print("ratio: synlaw (Adam) over PyTorch with Adam(W); ratio-sgd: the same synlaw rate over "
          "PyTorch with plain SGD")
    print(f"{'model':7s} {'params':>9s} {'synlaw':>10s} {'pytorch':>10s} {'ratio':>7s} "
          f"{'pt-sgd':>10s} {'ratio-sgd':>9s}")
    for name, (params, layers) in MODELS.items():
        conv = name.startswith("cnn")
        rate, tparams = torch_rate(layers, batch, seconds, conv)
        if tparams != params:
            print(f"{name}: parameter counts differ (synlaw {params}, torch {tparams})", file=sys.stderr)
            sys.exit(1)
        sgd_rate, _ = torch_rate(layers, batch, seconds, conv, sgd=True)
        print(f"{name:7s} {params:9d} {ours[name]:10.0f} {rate:10.0f} {ours[name] / rate:6.2f}x "
              f"{sgd_rate:10.0f} {ours[name] / sgd_rate:8.2f}x")


if __name__ == "__main__":
    main()
