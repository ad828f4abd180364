#!/usr/bin/env bash
# Build every package and check that each wheel installs with plain pip, as a new user would.
#
# 1. `uv build --all-packages` -> 8 wheels and 8 sdists in dist/.
# 2. One CPU torch, installed once with pip into a base venv (REMODEL_BUILD_TORCH, default torch==2.13.0, which
#    this machine's pip finds as a local CPU wheel; elsewhere set REMODEL_BUILD_TORCH_INDEX to
#    https://download.pytorch.org/whl/cpu).  Each check below gets a fresh `python -m venv` whose only link to
#    the base is a .pth file putting the base's site-packages at the end of sys.path: pip sees torch installed
#    and resolves everything else itself, from the package index, with no constraints and no overrides.
# 3. For remodel-core and each domain package: a fresh venv, `pip install` of that package's wheel (with
#    remodel-core's wheel), `import <package>`, `remodel --version`, and the first ```python block of its README.
# 4. The umbrella remodel-sci with all eight wheels: `import remodel_sci` and its README example.
# 5. The escnn recipe for remodel-equivariant[escnn] (escnn's py3nj needs a Fortran compiler):
#    pip install remodel-equivariant "numpy<2" "scikit-learn<1.7" lie-learn joblib pymanopt autograd, then
#    pip install --no-deps escnn; a C8 steerable layer is checked for equivariance.
# Prints a table and exits 1 when anything failed.  Slow (several minutes, downloads from the index on a
# first run): not part of .ci/run.
# `bash ci/build.sh remodel-core remodel-rom escnn` checks only the items named (the build is always full).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${REMODEL_BUILD_PYTHON:-python3.11}
torch_spec=${REMODEL_BUILD_TORCH:-torch==2.13.0}
torch_index=${REMODEL_BUILD_TORCH_INDEX:-}
command -v "$python" >/dev/null || python=python3
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1
pip_() {  # pip, without the warnings this machine's pip configuration prints for absent local indexes
    "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

rm -rf dist
uv build --all-packages --out-dir dist -q || { echo "uv build failed" >&2; exit 1; }
n_whl=$(ls dist/*.whl 2>/dev/null | wc -l)
n_sdist=$(ls dist/*.tar.gz 2>/dev/null | wc -l)
echo "built ${n_whl} wheels and ${n_sdist} sdists in dist/"
ls -1 dist
status=0
if [[ $n_whl -ne 8 || $n_sdist -ne 8 ]]; then
    echo "expected 8 wheels and 8 sdists" >&2
    status=1
fi
for w in dist/*.whl; do  # every wheel carries its licence and py.typed
    listing=$(unzip -l "$w")
    if ! grep -q "licenses/LICENSE" <<< "$listing" || ! grep -q "/py.typed" <<< "$listing"; then
        echo "$w: LICENSE or py.typed missing" >&2
        status=1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/remodel-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "=== torch base: $python -m venv + pip install $torch_spec ${torch_index:+--index-url $torch_index}"
t0=$SECONDS
"$python" -m venv "$work/torch-base" \
    && pip_ "$work/torch-base/bin/pip" install -q --no-compile ${torch_index:+--index-url "$torch_index"} "$torch_spec" \
    || { echo "could not install $torch_spec" >&2; exit 1; }
base_site=$("$work/torch-base/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
torch_mb=$(du -sm "$work/torch-base" | cut -f1)
echo "torch base: $("$work/torch-base/bin/python" -c 'import torch; print(torch.__version__)'), ${torch_mb} MB," \
     "$((SECONDS - t0)) s"

wheel() { ls "$repo"/dist/"$(echo "$1" | tr - _)"-*.whl 2>/dev/null | head -1; }

fresh_venv() {  # fresh_venv DIR: a new venv that sees the base's torch at the end of sys.path
    "$python" -m venv "$1" || return 1
    local site
    site=$("$1/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    echo "$base_site" > "$site/zz_remodel_shared_torch.pth"
}

declare -a rows
row() {  # row NAME INSTALL IMPORT EXAMPLE SECONDS MB
    rows+=("$(printf '%-22s %-8s %-7s %-15s %5ss %7s' "$1" "$2" "$3" "$4" "$5" "$6")")
    [[ $2 == ok && $3 == ok && $4 == ok ]] || status=1
}

check() {  # check DIST IMPORT_NAME WHEEL...
    local dist=$1 import=$2; shift 2
    local venv="$work/venv-$dist" t0=$SECONDS inst="fail" imp="-" example="-" mb="-"
    echo "=== $dist: python -m venv; pip install $(for w in "$@"; do basename "$w"; done | tr '\n' ' ')"
    if fresh_venv "$venv" && pip_ "$venv/bin/pip" install -q --no-compile "$@"; then
        inst="ok"
        mb="$(du -sm "$venv" | cut -f1) MB"
        if (cd "$work" && "$venv/bin/python" -c "import $import; print('$import', $import.__version__)" \
                && "$venv/bin/remodel" --version); then
            imp="ok"
            (cd "$work" && MPLBACKEND=Agg timeout 900 "$venv/bin/python" "$repo/ci/readme_example.py" \
                "$repo/packages/$dist/README.md")
            case $? in
                0) example="ok" ;;
                3) example="missing" ;;
                *) example="fail" ;;
            esac
        else
            imp="fail"
        fi
    fi
    row "$dist" "$inst" "$imp" "$example" $((SECONDS - t0)) "$mb"
    [[ $dist == remodel-sci && $inst == ok ]] && umbrella_mb=$(du -sm "$venv" | cut -f1)
    rm -rf "$venv"
}

check_escnn() {  # the documented Fortran-free recipe for remodel-equivariant[escnn]
    local venv="$work/venv-escnn" t0=$SECONDS inst="fail" imp="-" example="-" mb="-"
    echo "=== remodel-equivariant[escnn]: pip install <wheels> numpy<2 ... ; pip install --no-deps escnn"
    if fresh_venv "$venv" \
        && pip_ "$venv/bin/pip" install -q --no-compile "$(wheel remodel-equivariant)" "$(wheel remodel-core)" \
            "numpy<2" "scikit-learn<1.7" lie-learn joblib pymanopt autograd \
        && pip_ "$venv/bin/pip" install -q --no-compile --no-deps escnn; then
        inst="ok"
        mb="$(du -sm "$venv" | cut -f1) MB"
        if (cd "$work" && "$venv/bin/python" -W ignore -c "import escnn.nn, remodel_equivariant"); then
            imp="ok"
            (cd "$work" && timeout 900 "$venv/bin/python" -W ignore - <<'EOF'
import torch
from escnn import gspaces, nn

torch.manual_seed(0)
r2 = gspaces.rot2dOnR2(N=8)
feat_in = nn.FieldType(r2, [r2.trivial_repr])
feat_out = nn.FieldType(r2, 2 * [r2.regular_repr])
layer = nn.R2Conv(feat_in, feat_out, kernel_size=5).eval()
x = nn.GeometricTensor(torch.randn(1, 1, 17, 17), feat_in)
for g in r2.testing_elements:
    if g.to("int") % 2 == 0:  # multiples of 90 degrees act exactly on the pixel grid
        err = (layer(x).transform(g).tensor - layer(x.transform(g)).tensor).abs().max().item()
        assert err < 1e-4, (g, err)
print("escnn C8 R2Conv equivariant to 90-degree rotations: ok")
EOF
            )
            [[ $? -eq 0 ]] && example="ok" || example="fail"
        else
            imp="fail"
        fi
    fi
    row "equivariant[escnn]" "$inst" "$imp" "$example" $((SECONDS - t0)) "$mb"
    rm -rf "$venv"
}

all=(remodel-core remodel-dynamics remodel-sampling remodel-gen remodel-imaging remodel-equivariant remodel-rom
     remodel-sci escnn)
selected=("${@:-${all[@]}}")
core_whl=$(wheel remodel-core)
umbrella_mb=""
for item in "${selected[@]}"; do
    case $item in
        remodel-core) check remodel-core remodel_core "$core_whl" ;;
        remodel-sci) check remodel-sci remodel_sci "$repo"/dist/remodel_*.whl ;;
        remodel-*) check "$item" "$(echo "$item" | tr - _)" "$(wheel "$item")" "$core_whl" ;;
        escnn) check_escnn ;;
        *) echo "unknown item $item" >&2; status=1 ;;
    esac
done

echo
printf '%-22s %-8s %-7s %-15s %6s %7s\n' package install import "README example" time venv
for r in "${rows[@]}"; do echo "$r"; done
echo "shared CPU torch ($torch_spec): ${torch_mb} MB"
[[ -n $umbrella_mb ]] && echo "CPU-only install of remodel-sci: $((torch_mb + umbrella_mb)) MB (torch ${torch_mb} + rest ${umbrella_mb})"
[[ $status -eq 0 ]] && echo "build: all checks ok" || echo "build: FAILED" >&2
exit $status
