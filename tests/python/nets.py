"""Small PyTorch networks whose state_dict names are what the graph builders
expect (PyTorch / torchvision / timm conventions), for function-preservation
tests.  Written here from the architectures' definitions; no torchvision or
timm needed."""
import torch
from torch import nn
import torch.nn.functional as F


class MLP(nn.Module):
    """layers.{i}: Linear, ReLU between them."""

    def __init__(self, dims, bias=True):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(dims, dims[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


def make_norm(kind, groups):
    if kind == "bn":
        return lambda c: nn.BatchNorm2d(c)
    return lambda c: nn.GroupNorm(groups, c)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, norm, shortcut_name):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = norm(planes)
        self.shortcut_name = shortcut_name
        if stride != 1 or cin != planes:
            setattr(self, shortcut_name, nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride, bias=False), norm(planes)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = getattr(self, self.shortcut_name, None)
        return F.relu(out + (sc(x) if sc is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, norm, shortcut_name):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = norm(out)
        self.shortcut_name = shortcut_name
        if stride != 1 or cin != out:
            setattr(self, shortcut_name, nn.Sequential(
                nn.Conv2d(cin, out, 1, stride, bias=False), norm(out)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        sc = getattr(self, self.shortcut_name, None)
        return F.relu(out + (sc(x) if sc is not None else x))


class ResNet(nn.Module):
    """CIFAR style (imagenet=False: 3x3 stem, `shortcut`, `linear`) or
    torchvision style (imagenet=True: 7x7 stride-2 stem + max pool,
    `downsample`, `fc`)."""

    def __init__(self, blocks, widths, stem, bottleneck=False, norm="bn", groups=1,
                 imagenet=False, classes=10):
        super().__init__()
        norm_f = make_norm(norm, groups)
        block = Bottleneck if bottleneck else BasicBlock
        sc_name = "downsample" if imagenet else "shortcut"
        self.imagenet = imagenet
        self.conv1 = nn.Conv2d(3, stem, 7 if imagenet else 3, 2 if imagenet else 1,
                               3 if imagenet else 1, bias=False)
        self.bn1 = norm_f(stem)
        cin = stem
        for s, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for j in range(n):
                layers.append(block(cin, w, 2 if (s > 0 and j == 0) else 1, norm_f, sc_name))
                cin = w * block.expansion
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.n_stages = len(blocks)
        setattr(self, "fc" if imagenet else "linear", nn.Linear(cin, classes))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.imagenet:
            x = F.max_pool2d(x, 3, 2, 1)
        for s in range(self.n_stages):
            x = getattr(self, f"layer{s + 1}")(x)
        x = x.mean(dim=(2, 3))
        return (self.fc if self.imagenet else self.linear)(x)


class Attention(nn.Module):
    """timm's Attention: fused qkv laid out [q; k; v], heads contiguous in each."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        x = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    """timm VisionTransformer layout: pre-norm blocks, class token, learned positions."""

    def __init__(self, dim=12, depth=2, heads=3, mlp_dim=24, img=8, patch=4, classes=5):
        super().__init__()
        n = (img // patch) ** 2
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])
