#!/usr/bin/env bash
# Installs the Debian 12 packages AMRS-Sim needs, only if some are missing. Run as root.
set -euo pipefail
# libgloo-dev: the Gloo headers that torch's c10d process group needs (distributed/);
# python3-torch (torchrun) and openmpi-bin (mpirun): the launchers of docs/distributed.md, which
# the distributed test drives; python3-torch is also the Python baseline of scripts/bench.sh.
packages=(
  g++ cmake ninja-build binutils pkg-config
  libtorch-dev libhdf5-dev libtbb-dev doctest-dev
  libboost-program-options-dev libboost-math-dev libtomlplusplus-dev nlohmann-json3-dev
  libopenblas0-openmp zlib1g-dev libgloo-dev
  python3-torch openmpi-bin
  python3 python3-dev python3-h5py python3-matplotlib python3-numpy python3-pytest pybind11-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
