#!/usr/bin/env bash
# Creates .venv with the pinned OpenMMLab stack and greenmim_mm in editable mode.
#
# Idempotent: a stamp (hash of requirements/*, setup.py and this script) makes a second run
# return in about a second. mmcv 2.1.0 has no wheel on PyPI, so its CPU-ops wheel is built
# once (9-16 minutes on 2 cores) and cached under $GREENMIM_CACHE (default
# ~/.cache/greenmim_mm), keyed by the torch version it was compiled against, so that fresh
# clones (CI included) reuse it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$root/.venv}
CACHE=${GREENMIM_CACHE:-$HOME/.cache/greenmim_mm}
MMCV_VERSION=2.1.0

say() { printf '[install] %s\n' "$*"; }

stamp_file="$VENV/.greenmim_mm_install_stamp"
stamp=$(cat requirements/*.txt setup.py tools/install.sh | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
    say "environment in $VENV is up to date"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q -r requirements/build.txt
# pip --no-compile, and parallel compileall runs instead (torch's in the background, the rest
# at the end): pip compiles every file on one core (half of torch's 81 s install on 2 cores;
# compileall -j 0: 18 s). The bytecode must be written at install: with
# PYTHONDONTWRITEBYTECODE set, as on our machines, every process would compile what it
# imports again.
say "installing torch + torchvision (requirements/torch.txt)"
"${pip[@]}" install -q --no-compile -r requirements/torch.txt

site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# torch's bytecode compiles on the second core while pip installs the rest (joined below)
"$VENV/bin/python" -m compileall -q -j 0 "$site_packages/torch" "$site_packages/torchvision" \
    > /dev/null 2>&1 &
torch_compile=$!

torch_version=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
wheel_dir="$CACHE/wheels/torch-$torch_version"
mmcv_wheel=$(ls "$wheel_dir"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n1 || true)
if [[ -z "$mmcv_wheel" ]]; then
    say "building mmcv $MMCV_VERSION with compiled CPU ops against torch $torch_version."
    say "PyPI has only its source; the build takes 9-16 minutes on 2 cores and runs once:"
    say "the wheel is cached in $wheel_dir for every later install."
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    "${pip[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build/src"
    tar xzf "$build/src/mmcv-$MMCV_VERSION.tar.gz" -C "$build/src"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 asks the compiler for C++17.
    sed -i 's/c++17/c++20/g' "$build/src/mmcv-$MMCV_VERSION/setup.py"
    # No build isolation: the build must see the installed torch.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${pip[@]}" wheel -v --no-deps --no-build-isolation \
        "$build/src/mmcv-$MMCV_VERSION" -w "$build/wheel" > "$build/build.log" 2>&1 &
    builder=$!
    started=$SECONDS
    while kill -0 "$builder" 2>/dev/null; do
        sleep 30
        kill -0 "$builder" 2>/dev/null || break
        say "still compiling mmcv ops: $(( (SECONDS - started) / 60 )) min elapsed," \
            "$(grep -c -E '(^| )-c [^ ]+\.(cpp|cc)' "$build/build.log") C++ units compiled"
    done
    wait "$builder" || { say "mmcv build failed; last lines of the log:"
                         tail -n 40 "$build/build.log"; exit 1; }
    mkdir -p "$wheel_dir"
    built=$(ls "$build"/wheel/mmcv-$MMCV_VERSION-*.whl)
    # Copy then rename so an interrupted copy never looks like a cached wheel.
    cp "$built" "$wheel_dir/.partial.whl"
    mv "$wheel_dir/.partial.whl" "$wheel_dir/$(basename "$built")"
    mmcv_wheel="$wheel_dir/$(basename "$built")"
    say "cached $mmcv_wheel"
fi

say "installing mmcv ($mmcv_wheel), mmengine, mmdet, mmpretrain and test tools"
"${pip[@]}" install -q --no-compile "$mmcv_wheel" -r requirements/runtime.txt \
    -r requirements/tests.txt
say "installing greenmim_mm in editable mode"
"${pip[@]}" install -q --no-deps --no-build-isolation -e .
wait "$torch_compile" || true
# The rest of site-packages (torch's files are up to date and skipped). Exit status 1 when some
# file does not compile (Python 2 samples in test data, which pip skips as well).
"$VENV/bin/python" -m compileall -q -j 0 "$site_packages" > /dev/null || true
"$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmpretrain, greenmim_mm' \
    || { say "the installed stack does not import; see the error above"; exit 1; }
echo "$stamp" > "$stamp_file"
say "done: $VENV"
