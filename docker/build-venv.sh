#!/bin/sh
# Builds one image's virtual environment at /opt/venv: the build stage of every Dockerfile in
# this repository runs this script with the repository bind-mounted at /src, so the recipe
# exists once. Arguments: the workspace member to install, then its extras (space-separated).
#
# uv comes from PyPI with pip (PyPI is the one registry every build environment reaches, and
# pip is in every Python base image), at the range pinned once in pyproject.toml
# ([tool.uv] required-version). Then `uv sync` installs only that member and what it needs,
# from uv.lock alone (--frozen), without the dev group, as a regular (non-editable) install.
set -eu

package=$1
extras=${2:-}

cd /src
export UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

uv_range=$(python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['tool']['uv']['required-version'])")
pip install "uv$uv_range"

set -- --frozen --no-dev --no-editable --package "$package"
for extra in $extras; do
    set -- "$@" --extra "$extra"
done
uv sync "$@"
