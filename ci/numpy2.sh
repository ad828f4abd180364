#!/usr/bin/env bash
# The tests on numpy >= 2 and scikit-learn >= 1.7, in a second environment beside the locked one.
#
# The locked workspace environment keeps numpy<2 because escnn (remodel-equivariant[escnn]) needs it; no wheel
# carries that cap.  This script checks that claim: a fresh virtual environment (.venv-numpy2, python 3.11) gets
# the workspace packages (editable, without the escnn extra), "numpy>=2", "scikit-learn>=1.7", pytest and
# hypothesis, resolved by `uv pip install` to current releases (torch pinned to uv.lock's version so that it comes
# from uv's cache), then pytest runs the tests/ folder of every package.  Tests that need escnn skip themselves
# there.  remodel-equivariant and the umbrella remodel-sci join only when remodel-equivariant's base
# dependencies are free of escnn (then its escnn extra is the only thing left out).
# Usage: bash ci/numpy2.sh [extra pytest arguments]; NUMPY2_VENV=DIR picks another folder, NUMPY2_TESTS="PATHS"
# runs only those test paths.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${NUMPY2_VENV:-.venv-numpy2}
python=${REMODEL_NUMPY2_PYTHON:-3.11}

torch_version=$(python3 - <<'EOF'
import tomllib
lock = tomllib.load(open("uv.lock", "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == "torch"))
EOF
)
equivariant_free=$(python3 - <<'EOF'
import re, tomllib
deps = tomllib.load(open("packages/remodel-equivariant/pyproject.toml", "rb"))["project"]["dependencies"]
names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in deps}
print("yes" if not names & {"escnn", "lie-learn", "py3nj"} else "no")
EOF
)

packages=(remodel-core remodel-dynamics remodel-sampling remodel-gen remodel-imaging remodel-rom)
if [[ $equivariant_free == yes ]]; then
    packages+=(remodel-equivariant remodel-sci)
else
    echo "numpy2: remodel-equivariant still requires escnn in its base dependencies: it and the umbrella are left out"
fi

echo "=== numpy2: environment $venv (torch==$torch_version, numpy>=2, scikit-learn>=1.7)"
uv venv -q --no-config --allow-existing --python "$python" "$venv"
editables=()
for p in "${packages[@]}"; do editables+=(-e "packages/$p"); done
uv pip install -q --no-config --python "$venv/bin/python" "${editables[@]}" \
    "torch==$torch_version" "numpy>=2" "scikit-learn>=1.7" "pytest>=8" "hypothesis>=6.100"
"$venv/bin/python" - <<'EOF'
import numpy, scipy, sklearn, torch
print(f"numpy {numpy.__version__}, scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, torch {torch.__version__}")
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
EOF

tests=()
for p in "${packages[@]}"; do tests+=("packages/$p/tests"); done
if [[ -n ${NUMPY2_TESTS:-} ]]; then read -r -a tests <<< "$NUMPY2_TESTS"; fi  # e.g. one package's tests/
echo "=== numpy2: pytest ${tests[*]}"
# The test files only: doctests print numpy scalars, whose repr changed in numpy 2 (np.float64(1.0)).
set +e
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1 MPLBACKEND=Agg \
    "$venv/bin/python" -m pytest -o addopts="--import-mode=importlib -q -p no:cacheprovider" "${tests[@]}" "$@"
rc=$?
set -e
[[ $rc -eq 0 ]] && echo "numpy2: all tests passed" || echo "numpy2: FAILED (pytest exit $rc)" >&2
exit $rc
