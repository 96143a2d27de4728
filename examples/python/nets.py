"""A CIFAR-style ResNet-20 (basic blocks, BatchNorm) for 1-channel images,
whose state_dict names are those mudsc.Graph.resnet("resnet20") expects:
conv1/bn1, layer{s}.{j}.conv1/bn1/conv2/bn2, layer{s}.{j}.shortcut.0/.1 and
the head "linear" (here a Linear to a D-dimensional embedding).
SPDX-License-Identifier: MIT"""
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
    """conv-bn-relu-conv-bn plus the shortcut (a 1x1 conv + bn when the
    shape changes), then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """Three stages of three blocks, widths (16, 32, 64) * width; global
    average pooling; `linear` maps to an embedding of `dim` values."""

    def __init__(self, width=2, dim=64, in_channels=1):
        super().__init__()
        w = [16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(in_channels, w[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        cin = w[0]
        for s, cout in enumerate(w):
            blocks = [Block(cin if j == 0 else cout, cout, 2 if (s > 0 and j == 0) else 1)
                      for j in range(3)]
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
            cin = cout
        self.linear = nn.Linear(cin, dim)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean(dim=(2, 3)))
