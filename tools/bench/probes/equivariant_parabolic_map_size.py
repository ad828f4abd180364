"""Probe (remodel-equivariant README, GroupParabolicBlock): the step cap estimated on 5x5 training maps does not
hold on 29x29 evaluation maps. With every unit active (bias 100) the block is the linear map I - h K^T K; power
iteration on differences measures its Lipschitz constant (1.2337 here; <= 1 would be non-expansive):

    OMP_NUM_THREADS=1 uv run --frozen python tools/bench/probes/equivariant_parabolic_map_size.py
"""

import torch
from remodel_equivariant import GroupParabolicBlock

torch.set_num_threads(1)

torch.manual_seed(0)
block = GroupParabolicBlock(2, "C8", h=10.0)
block(torch.randn(4, 2, 8, 5, 5))  # one training forward on 5x5 maps (e.g. patches)
block.eval()
x = torch.randn(1, 2, 8, 29, 29)
z = torch.randn(1, 2, 8, 29, 29)
with torch.no_grad():
    block.conv.bias.fill_(100.0)  # every unit active: the block is the linear map I - h K^T K
    # power iteration on (x - z) for the ratio ||B x - B z|| / ||x - z||
    d = z - x
    for _ in range(200):
        d = d / d.norm() * 1e-2
        r = block(x + d) - block(x)
        ratio = float(r.norm() / d.norm())
        d = r
print(
    f"step used {float(block.step_size(x)):.4f}; ||B(x+d) - B(x)|| / ||d|| = {ratio:.4f} on 29x29 maps "
    "(non-expansive claim: <= 1)"
)
