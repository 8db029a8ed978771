#!/usr/bin/env bash
# The Bicep CLI, from NuGet: restores tools/bicep/bicep.csproj (package Azure.Bicep.CommandLine.linux-x64, version
# pinned in Directory.Packages.props) and exports LLMCOST_BICEP, the path of the `bicep` binary in its tools/ folder.
# Sourced by scripts/test.d/bicep.sh; run directly to build and lint infra-bicep/main.bicep:
#   scripts/bicep.sh            # bicep build + bicep lint
#   scripts/bicep.sh <args...>  # any bicep command, e.g. scripts/bicep.sh --version

ensure_bicep() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local version
  version="$(sed -n 's/.*"Azure\.Bicep\.CommandLine\.linux-x64" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props")"
  if [[ -z "$version" ]]; then
    echo "Azure.Bicep.CommandLine.linux-x64 is not pinned in Directory.Packages.props" >&2
    return 1
  fi
  local packages="${NUGET_PACKAGES:-}"
  if [[ -z "$packages" ]]; then
    packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
  fi
  local binary="${packages%/}/azure.bicep.commandline.linux-x64/$version/tools/bicep"
  if [[ ! -f "$binary" ]]; then
    dotnet restore "$root/tools/bicep/bicep.csproj" --nologo -v q >&2
  fi
  # NuGet does not keep file modes.
  chmod +x "$binary"
  export LLMCOST_BICEP="$binary"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  ensure_bicep
  if [[ $# -gt 0 ]]; then
    exec "$LLMCOST_BICEP" "$@"
  fi
  main="$(cd "$(dirname "$0")/.." && pwd)/infra-bicep/main.bicep"
  "$LLMCOST_BICEP" build "$main" --stdout >/dev/null
  "$LLMCOST_BICEP" lint "$main"
  echo "bicep build + lint: clean" >&2
fi
