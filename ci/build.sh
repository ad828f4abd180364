#!/usr/bin/env bash
# Build every package and check that each installs on its own.
#
# 1. `uv build --all-packages` -> 8 wheels and 8 sdists in dist/.
# 2. For remodel-core and each domain package: a fresh virtual environment (python 3.11) with ONLY that
#    package's wheel and remodel-core's wheel (third-party dependencies from PyPI, pinned to uv.lock's
#    versions and served from uv's cache), then `import <package>` and the first ```python block of its
#    README (and `remodel --version`, the console script).
# 3. The umbrella `remodel` with all eight wheels: `import remodel` and its README example.
# Prints a table and exits 1 when anything failed.  Slow (minutes): not part of .ci/run.
# `bash ci/build.sh remodel-core remodel-rom` checks only the distributions named (the build is always full).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${REMODEL_BUILD_PYTHON:-3.11}

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

work=$(mktemp -d "${TMPDIR:-/tmp}/remodel-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Pin third-party dependencies to the lock (so they come from uv's cache); leave out escnn's py3nj,
# as the workspace does (it needs a Fortran compiler).
uv export --frozen --no-hashes --no-header --no-annotate --no-emit-workspace --all-packages --no-dev \
    > "$work/constraints.txt"
echo "py3nj; sys_platform == 'never'" > "$work/overrides.txt"

wheel() { ls "$repo"/dist/"$(echo "$1" | tr - _)"-*.whl 2>/dev/null | head -1; }

declare -a rows
check() {  # check DIST IMPORT_NAME WHEEL...
    local dist=$1 import=$2; shift 2
    local venv="$work/venv-$dist" t0=$SECONDS inst="fail" imp="-" example="-"
    echo "=== $dist: fresh venv with $(for w in "$@"; do basename "$w"; done | tr '\n' ' ')"
    if uv venv -q --python "$python" "$venv" \
        && uv pip install -q --python "$venv/bin/python" --find-links "$repo/dist" \
            --constraints "$work/constraints.txt" --overrides "$work/overrides.txt" "$@"; then
        inst="ok"
        if (cd "$work" && "$venv/bin/python" -c "import $import; print('$import', $import.__version__)" \
                && "$venv/bin/remodel" --version); then
            imp="ok"
            (cd "$work" && MPLBACKEND=Agg timeout 600 "$venv/bin/python" "$repo/ci/readme_example.py" \
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
    [[ $inst == ok && $imp == ok && $example == ok ]] || status=1
    rows+=("$(printf '%-20s %-8s %-7s %-15s %5ss' "$dist" "$inst" "$imp" "$example" $((SECONDS - t0)))")
    rm -rf "$venv"
}

all=(remodel-core remodel-dynamics remodel-sampling remodel-gen remodel-imaging remodel-equivariant remodel-rom
     remodel)
selected=("${@:-${all[@]}}")
core_whl=$(wheel remodel-core)
for dist in "${selected[@]}"; do
    case $dist in
        remodel-core) check remodel-core remodel_core "$core_whl" ;;
        remodel) check remodel remodel "$(wheel remodel)" "$repo"/dist/remodel_*.whl ;;
        remodel-*) check "$dist" "$(echo "$dist" | tr - _)" "$(wheel "$dist")" "$core_whl" ;;
        *) echo "unknown distribution $dist" >&2; status=1 ;;
    esac
done

echo
printf '%-20s %-8s %-7s %-15s %6s\n' package install import "README example" time
for row in "${rows[@]}"; do echo "$row"; done
[[ $status -eq 0 ]] && echo "build: all packages ok" || echo "build: FAILED" >&2
exit $status
